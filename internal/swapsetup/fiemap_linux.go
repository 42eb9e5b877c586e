package swapsetup

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FIEMAP (linux/fiemap.h); golang.org/x/sys/unix has neither the ioctl nor its structs.
const (
	fsIocFiemap     = 0xC020660B // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync  = 0x1        // FIEMAP_FLAG_SYNC: flush the file's dirty pages first
	fiemapHeaderLen = 32         // struct fiemap up to fm_extents[]
	fiemapExtentLen = 56         // struct fiemap_extent

	// fe_flags
	extentLast          = 0x1
	extentUnknown       = 0x2 // the data's place is not known (yet)
	extentDelalloc      = 0x4 // delayed allocation: no block yet
	extentEncoded       = 0x8 // compressed or otherwise transformed
	extentDataEncrypted = 0x80
	extentNotAligned    = 0x100
	extentDataInline    = 0x200 // stored in the metadata, not in a block of its own
	extentDataTail      = 0x400
	extentUnwritten     = 0x800 // allocated, reads as zeros (fallocate): fine for swap
	extentShared        = 0x2000
)

// Extent is one FIEMAP extent: bytes [Logical, Logical+Length) of the file are at Physical. On
// ext4 and xfs Physical is a byte offset on the file system's block device; on btrfs it is a
// btrfs logical address, to be mapped through the chunk tree.
type Extent struct {
	Logical, Physical, Length uint64
	Flags                     uint32
}

// fiemap returns every extent of f, after flushing it (FIEMAP_FLAG_SYNC).
func fiemap(f *os.File) ([]Extent, error) {
	const batch = 128
	buf := make([]byte, fiemapHeaderLen+batch*fiemapExtentLen)
	le := binary.LittleEndian
	var out []Extent
	start := uint64(0)
	for {
		clear(buf)
		le.PutUint64(buf[0:], start)
		le.PutUint64(buf[8:], ^uint64(0)-start) // to the end of the file
		le.PutUint32(buf[16:], fiemapFlagSync)
		le.PutUint32(buf[24:], batch)
		_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0])))
		if e != 0 {
			return nil, fmt.Errorf("ioctl(%s, FS_IOC_FIEMAP, start %d): %w", f.Name(), start, e)
		}
		n := le.Uint32(buf[20:])
		if n == 0 {
			return out, nil
		}
		for i := range n {
			b := buf[fiemapHeaderLen+i*fiemapExtentLen:]
			x := Extent{Logical: le.Uint64(b[0:]), Physical: le.Uint64(b[8:]), Length: le.Uint64(b[16:]), Flags: le.Uint32(b[40:])}
			out = append(out, x)
			if x.Flags&extentLast != 0 {
				return out, nil
			}
			start = x.Logical + x.Length
		}
	}
}

// checkExtents says why extents cannot back a swap file of size bytes: a hole, or an extent whose
// blocks are not plainly on the device (delayed, inline, compressed, encrypted, shared).
func checkExtents(ext []Extent, size uint64) error {
	next := uint64(0)
	for _, x := range ext {
		if x.Logical >= size {
			break
		}
		if x.Logical > next {
			return fmt.Errorf("hole at bytes %d-%d", next, x.Logical)
		}
		for _, bad := range []struct {
			flag uint32
			what string
		}{
			{extentUnknown, "has no known place"},
			{extentDelalloc, "is not allocated yet (delayed allocation)"},
			{extentEncoded, "is compressed (encoded)"},
			{extentDataEncrypted, "is encrypted"},
			{extentNotAligned | extentDataInline | extentDataTail, "is not block aligned (inline or tail data)"},
			{extentShared, "is shared with another file (reflink or snapshot)"},
		} {
			if x.Flags&bad.flag != 0 {
				return fmt.Errorf("extent at byte %d (%d bytes, flags %#x) %s", x.Logical, x.Length, x.Flags, bad.what)
			}
		}
		next = max(next, x.Logical+x.Length)
	}
	if next < size {
		return fmt.Errorf("hole at bytes %d-%d", next, size)
	}
	return nil
}
