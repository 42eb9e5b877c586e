package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
)

// area is a swap area's device: a whole file or device, or one partition of a disk image.
type area struct {
	f     *os.File
	base  int64 // byte offset of the partition in f (0 for a whole device)
	size  int64
	where string
}

func (a *area) ReadAt(p []byte, off int64) (int, error) {
	if off >= a.size {
		return 0, io.EOF
	}
	if max := a.size - off; int64(len(p)) > max {
		n, err := a.f.ReadAt(p[:max], a.base+off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return a.f.ReadAt(p, a.base+off)
}

func (a *area) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > a.size {
		return 0, fmt.Errorf("write at %d past the end of %s", off, a.where)
	}
	return a.f.WriteAt(p, a.base+off)
}

// openArea opens path, or its GPT partition number part (part > 0), for reading or writing.
func openArea(path string, part int, write bool) (*area, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := blockdev.Size(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	a := &area{f: f, size: size, where: path}
	if part > 0 {
		start, psize, err := partitionExtent(path, part)
		if err != nil {
			f.Close()
			return nil, err
		}
		a.base, a.size, a.where = start, psize, fmt.Sprintf("%s partition %d", path, part)
	}
	return a, nil
}

// partitionExtent is where GPT partition part of the disk image at path starts, and its length.
func partitionExtent(path string, part int) (int64, int64, error) {
	parts, err := blockdev.GPTPartitions(path)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range parts {
		if p.Number == part {
			return p.Start, p.Size, nil
		}
	}
	return 0, 0, fmt.Errorf("%s has no partition %d", path, part)
}
