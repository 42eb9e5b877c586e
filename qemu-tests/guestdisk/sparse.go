package guestdisk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopySparse copies the disk image src to dst (created or truncated), copying
// only the data regions of src (lseek SEEK_DATA/SEEK_HOLE) and leaving holes
// where src has holes or all-zero blocks. A hibernated guest's disk is mostly
// holes, so each trial can start from a fresh copy cheaply.
func CopySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if err := copyData(out, 0, in, 0, st.Size()); err != nil {
		out.Close()
		return fmt.Errorf("sparse copy %s -> %s: %w", src, dst, err)
	}
	// Truncate, not a write, sets the size: a trailing hole stays a hole.
	if err := out.Truncate(st.Size()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyData copies the data regions of src[srcOff, srcOff+size) to dst at
// dstOff. dst must read as zeros in that range already (a new or truncated
// file): holes and zero blocks of src are skipped, not written.
func copyData(dst *os.File, dstOff int64, src *os.File, srcOff, size int64) error {
	end := srcOff + size
	dstOff -= srcOff // dst position = dstOff + src position
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	zero := make([]byte, 64<<10)
	for off := srcOff; off < end; {
		data, err := src.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) {
			return nil // only a hole after off
		}
		if err != nil {
			return fmt.Errorf("lseek(SEEK_DATA, %d): %w", off, err)
		}
		hole, err := src.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("lseek(SEEK_HOLE, %d): %w", data, err)
		}
		hole = min(hole, end)
		for p := data; p < hole; {
			n := int(min(int64(chunk), hole-p))
			if _, err := src.ReadAt(buf[:n], p); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			// Write only the 64 KiB blocks that hold something.
			for i := 0; i < n; {
				j := min(i+len(zero), n)
				if !bytes.Equal(buf[i:j], zero[:j-i]) {
					if _, err := dst.WriteAt(buf[i:j], dstOff+p+int64(i)); err != nil {
						return err
					}
				}
				i = j
			}
			p += int64(n)
		}
		off = hole
	}
	return nil
}
