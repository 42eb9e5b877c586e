package guestagent

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// DiskSpeed is `hibernate-guest-agent disk-speed DEV OFFSET_MIB SIZE_MIB`: the disk's own
// sequential speed, as the benchmark's physical limit: it writes SIZE_MIB MiB at OFFSET_MIB MiB
// into DEV in 1 MiB blocks past the page cache (O_DIRECT, then fsync), reads them back the same
// way, and prints "write BYTES/s read BYTES/s". DEV is opened exclusively (O_EXCL), which the
// kernel refuses for a device in use (active swap, a mounted file system): only a free area is
// written, such as the swap partition before its swapon.
func DiskSpeed(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: disk-speed DEV OFFSET_MIB SIZE_MIB")
	}
	off, err1 := strconv.ParseInt(args[1], 10, 64)
	size, err2 := strconv.ParseInt(args[2], 10, 64)
	if err1 != nil || err2 != nil || off < 1 || size < 1 {
		return fmt.Errorf("disk-speed %s %s: want whole MiB, the offset at least 1 (the swap header stays)", args[1], args[2])
	}
	fd, err := unix.Open(args[0], unix.O_RDWR|unix.O_DIRECT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s exclusively: %w", args[0], err)
	}
	defer unix.Close(fd)
	const block = 1 << 20
	buf, err := unix.Mmap(-1, 0, block, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE) // page-aligned, as O_DIRECT wants
	if err != nil {
		return err
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i*7 + i>>11) // not zeros, which some layers elide
	}
	pass := func(write bool) (float64, error) {
		start := time.Now()
		for i := int64(0); i < size; i++ {
			at := (off + i) * block
			var n int
			var err error
			if write {
				n, err = unix.Pwrite(fd, buf, at)
			} else {
				n, err = unix.Pread(fd, buf, at)
			}
			if err != nil || n != block {
				return 0, fmt.Errorf("%s at %d MiB: %d bytes, %v", args[0], off+i, n, err)
			}
		}
		if write {
			if err := unix.Fsync(fd); err != nil {
				return 0, err
			}
		}
		return float64(size*block) / time.Since(start).Seconds(), nil
	}
	w, err := pass(true)
	if err != nil {
		return err
	}
	r, err := pass(false)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "write %.0f read %.0f\n", w, r)
	return nil
}
