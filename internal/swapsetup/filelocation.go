package swapsetup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// locate checks that f can back hibernation's swap, and finds it: the block device under it and
// the page there of f's first page (resume= and resume_offset=).
func locate(fs sysfs.FS, f *os.File, size int64, fstype string) (blockdev.Device, uint64, error) {
	if err := checkFileForSwap(f, size, fstype); err != nil {
		return blockdev.Device{}, 0, err
	}
	return resumeOffset(fs, f, fstype)
}

// checkFileForSwap says why f cannot hold hibernation's swap: holes, extents the kernel will not
// swap on, or, on btrfs, COW or compression.
func checkFileForSwap(f *os.File, size int64, fstype string) error {
	if fstype == "btrfs" {
		if err := btrfsCheckNoCow(f); err != nil {
			return err
		}
	}
	ext, err := fiemap(f)
	if err != nil {
		return err
	}
	if err := checkExtents(ext, uint64(size)); err != nil {
		return fmt.Errorf("not fully allocated: %w (make it anew with --force)", err)
	}
	return nil
}

// resumeOffset finds the block device under f and the page on it where f's first page is.
//   - ext4, xfs: FIEMAP's physical address of byte 0 is a byte offset on the device.
//   - btrfs: it is a btrfs logical address: mapped through the chunk tree read from the device
//     (single device, single data profile, as the kernel requires to swap there).
func resumeOffset(fs sysfs.FS, f *os.File, fstype string) (blockdev.Device, uint64, error) {
	ext, err := fiemap(f)
	if err != nil {
		return blockdev.Device{}, 0, err
	}
	if len(ext) == 0 || ext[0].Logical != 0 {
		return blockdev.Device{}, 0, fmt.Errorf("no extent at byte 0")
	}
	if fstype != "btrfs" {
		dev, err := deviceOfFile(fs, f)
		if err != nil {
			return dev, 0, err
		}
		if ext[0].Physical%swsusp.PageSize != 0 {
			var st unix.Statfs_t
			unix.Fstatfs(int(f.Fd()), &st)
			return dev, 0, fmt.Errorf("its first block is at byte %d of %s, not on a page boundary (the file system's blocks are %d bytes): the kernel maps swap by whole pages, so it needs a file system with %d-byte blocks", ext[0].Physical, dev.Path, st.Bsize, swsusp.PageSize)
		}
		return dev, ext[0].Physical / swsusp.PageSize, nil
	}
	return btrfsResumeOffset(fs, f, ext)
}

// btrfsResumeOffset maps the btrfs logical address of the file's first page through the chunk
// tree of its device. The kernel checks every extent of a btrfs swap file; so do we.
func btrfsResumeOffset(fs sysfs.FS, f *os.File, ext []Extent) (blockdev.Device, uint64, error) {
	dev, bd, err := btrfsDeviceOf(fs, f)
	if err != nil {
		return dev, 0, err
	}
	var first uint64
	for i, x := range ext {
		phys, err := bd.Physical(x.Physical)
		if err == nil {
			_, err = bd.Physical(x.Physical + x.Length - 1)
		}
		if err != nil {
			return dev, 0, fmt.Errorf("extent at byte %d: %w", x.Logical, err)
		}
		if i == 0 {
			first = phys
		}
	}
	if first%swsusp.PageSize != 0 {
		return dev, 0, fmt.Errorf("first block at byte %d of %s is not page aligned", first, dev.Path)
	}
	return dev, first / swsusp.PageSize, nil
}

// deviceOfFile is the block device whose number stat gives for f (ext4, xfs: not btrfs, whose
// st_dev is an anonymous number).
func deviceOfFile(fs sysfs.FS, f *os.File) (blockdev.Device, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return blockdev.Device{}, fmt.Errorf("fstat(%s): %w", f.Name(), err)
	}
	d, err := blockdev.ByDevT(fs, st.Dev)
	if err != nil {
		return d, fmt.Errorf("the file system's device: %w", err)
	}
	return d, nil
}

func deviceOfDir(fs sysfs.FS, dir, fstype string) (blockdev.Device, error) {
	d, err := os.Open(dir)
	if err != nil {
		return blockdev.Device{}, err
	}
	defer d.Close()
	if fstype == "btrfs" {
		dev, _, err := btrfsDeviceOf(fs, d)
		return dev, err
	}
	return deviceOfFile(fs, d)
}

// SwapFileLocation is where an existing swap file's header page is: the block device holding
// it and the page on that device (what resume= and resume_offset= name). path is as on the
// machine; it is read below fs.
func SwapFileLocation(fs sysfs.FS, path string) (blockdev.Device, uint64, error) {
	p := fs.Path(strings.TrimPrefix(filepath.Clean(path), "/"))
	fstype, err := fileSystemOf(filepath.Dir(p))
	if err != nil {
		return blockdev.Device{}, 0, fmt.Errorf("swap file %s: %w", path, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return blockdev.Device{}, 0, err
	}
	defer f.Close()
	dev, off, err := resumeOffset(fs, f, fstype)
	if err != nil {
		return dev, 0, fmt.Errorf("swap file %s: %w", path, err)
	}
	return dev, off, nil
}
