package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// SetupFile makes (or keeps) the swap file o.File, o.Size bytes (0: AutoSize), activates it and
// points this boot's hibernation at it: resume= names the block device of the file system that
// holds the file, resume_offset= the page of that device where the file's first page is.
func SetupFile(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	res := Result{File: o.File}
	if !filepath.IsAbs(o.File) {
		return res, fmt.Errorf("swap file %q: give an absolute path (as on the machine, below --root)", o.File)
	}
	p := fs.Path(strings.TrimPrefix(filepath.Clean(o.File), "/"))
	fstype, err := fileSystemOf(filepath.Dir(p))
	if err != nil {
		return res, fmt.Errorf("swap file %s: %w", o.File, err)
	}
	res.FSType = fstype
	active, err := ReadProcSwaps(fs)
	if err != nil {
		return res, err
	}
	isActive := false
	for _, s := range active {
		if s.Filename == filepath.Clean(o.File) {
			isActive = true
		}
	}
	size := o.Size
	if size == 0 {
		if size, err = AutoSize(fs); err != nil {
			return res, err
		}
	}
	size = size / swsusp.PageSize * swsusp.PageSize
	if size < 40*swsusp.PageSize {
		return res, fmt.Errorf("swap file %s: %d bytes is too small for a swap area", o.File, size)
	}

	st, err := os.Lstat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("swap file %s: %w", o.File, err)
	}
	keep := false
	if exists {
		if !st.Mode().IsRegular() {
			return res, fmt.Errorf("swap file %s exists and is not a regular file (%s)", o.File, st.Mode().Type())
		}
		pr, err := probeFile(p)
		if err != nil {
			return res, err
		}
		switch {
		case pr.Type == "swsusp":
			return res, fmt.Errorf("%s holds a hibernation image: resume it, or discard it with `hibernate discard %s`, before setting it up", o.File, o.File)
		case isActive && (pr.Type != "swap" || o.Force):
			return res, fmt.Errorf("%s is an active swap file: swapoff it first to remake it", o.File)
		case pr.Type == "swap" && !o.Force:
			keep = true
			size = st.Size()
			res.SwapUUID = pr.UUID
		case !o.Force && st.Size() > 0:
			return res, fmt.Errorf("%s exists and is not a swap area: refusing to overwrite it without --force", o.File)
		}
		if keep && st.Mode().Perm()&0o077 != 0 {
			return res, fmt.Errorf("swap file %s has mode %04o: others could read all of RAM from it once it holds an image; chmod 600 %s, then run setup again", o.File, st.Mode().Perm(), o.File)
		}
	}
	res.SizeBytes = size

	var f *os.File
	if !keep {
		res.Made = true
		how := "fallocate, checked with FIEMAP"
		if fstype == "btrfs" {
			how = "NOCOW, " + how
		}
		if exists {
			res.Actions = append(res.Actions, fmt.Sprintf("remove %s (--force)", o.File))
		}
		res.Actions = append(res.Actions, fmt.Sprintf("create %s (%d MiB, mode 0600, %s)", o.File, size>>20, how))
		res.Actions = append(res.Actions, fmt.Sprintf("make a swap area in %s", o.File))
		if !o.DryRun {
			if exists {
				if err := os.Remove(p); err != nil {
					return res, fmt.Errorf("remove %s: %w", o.File, err)
				}
			}
			if f, err = createSwapFile(p, size, fstype); err != nil {
				return res, fmt.Errorf("swap file %s: %w", o.File, err)
			}
			id, err := swsusp.NewUUID()
			if err == nil {
				res.SwapUUID = swsusp.SwapHeader{UUID: id}.UUIDString()
				err = swsusp.Mkswap(f, size, swsusp.MkswapOptions{UUID: id, Label: o.Label, PageSize: swsusp.PageSize})
			}
			if err != nil {
				f.Close()
				os.Remove(p)
				return res, fmt.Errorf("mkswap %s: %w", o.File, err)
			}
		}
	} else {
		res.Notes = append(res.Notes, fmt.Sprintf("%s is already a swap area (UUID %s): kept", o.File, res.SwapUUID))
	}
	if f == nil && (!o.DryRun || exists && keep) {
		mode := os.O_RDONLY
		if !isActive && o.Record != nil && !o.DryRun {
			mode = os.O_RDWR
		}
		if f, err = os.OpenFile(p, mode, 0); err != nil {
			return res, fmt.Errorf("open %s: %w", o.File, err)
		}
	}
	if f != nil {
		defer f.Close()
	}
	// Where the file is: the device below, and its first page there.
	var dev blockdev.Device
	if f != nil {
		if err := checkFileForSwap(f, size, fstype); err != nil {
			return res, fmt.Errorf("swap file %s: %w", o.File, err)
		}
		dev, res.ResumeOffset, err = resumeOffset(fs, f, fstype)
		if err != nil {
			return res, fmt.Errorf("swap file %s: %w", o.File, err)
		}
	} else {
		// Dry run of a new file: the device is known, its offset only once it is allocated.
		if dev, err = deviceOfDir(fs, filepath.Dir(p), fstype); err != nil {
			return res, fmt.Errorf("swap file %s: %w", o.File, err)
		}
	}
	res.Device, res.DevT = dev.Path, dev.DevT()
	if res.UUID, err = fsUUID(dev, fstype); err != nil {
		return res, err
	}
	res.Resume = "UUID=" + res.UUID
	if f == nil {
		res.KernelParams = "resume=" + res.Resume + " resume_offset=?"
		res.Notes = append(res.Notes, "resume_offset is known once the file is allocated (not in a dry run)")
	} else {
		res.KernelParams = fmt.Sprintf("resume=%s resume_offset=%d", res.Resume, res.ResumeOffset)
	}

	// The record is stamped only once every check has passed: a refused setup changes nothing.
	if o.Record != nil {
		if isActive {
			res.Notes = append(res.Notes, fmt.Sprintf("not stamping the image record: %s is active (swapoff it to stamp one)", o.File))
		} else {
			res.Actions = append(res.Actions, fmt.Sprintf("stamp the image record for %s into the swap header of %s", o.Record.KernelRelease, o.File))
			if !o.DryRun {
				if err := swsusp.StampRecord(f, 0, *o.Record); err != nil {
					return res, fmt.Errorf("stamp image record on %s: %w", o.File, err)
				}
				if err := f.Sync(); err != nil {
					return res, fmt.Errorf("sync %s: %w", o.File, err)
				}
			}
		}
	}

	if isActive {
		res.Activated = true
		res.Notes = append(res.Notes, fmt.Sprintf("%s is already active: not activated again", o.File))
	} else {
		res.Actions = append(res.Actions, swaponAction(o.File, o.Priority))
		if !o.DryRun {
			if err := sw.Swapon(filepath.Clean(o.File), o.Priority); err != nil {
				return res, err
			}
			res.Activated = true
		}
	}
	return res, setRuntimeResume(fs, &res, o.DryRun)
}

func swaponAction(path string, prio int) string {
	if prio >= 0 {
		return fmt.Sprintf("swapon %s (priority %d)", path, prio)
	}
	return fmt.Sprintf("swapon %s", path)
}

// setRuntimeResume points this boot's hibernation at the result's device: resume_offset first
// (it triggers nothing), then resume.
func setRuntimeResume(fs sysfs.FS, res *Result, dryRun bool) error {
	res.Actions = append(res.Actions, fmt.Sprintf("write %d to /sys/power/resume_offset, then %s to /sys/power/resume", res.ResumeOffset, res.DevT))
	if dryRun {
		return nil
	}
	if err := fs.WriteString("sys/power/resume_offset", fmt.Sprint(res.ResumeOffset)); err != nil && !(res.ResumeOffset == 0 && errors.Is(err, os.ErrNotExist)) {
		return fmt.Errorf("set /sys/power/resume_offset to %d: %w", res.ResumeOffset, err)
	}
	if err := fs.WriteString("sys/power/resume", res.DevT); err != nil {
		return fmt.Errorf("set /sys/power/resume to %s: %w", res.DevT, err)
	}
	return nil
}

func probeFile(p string) (blockdev.Probe, error) {
	f, err := os.Open(p)
	if err != nil {
		return blockdev.Probe{}, err
	}
	defer f.Close()
	return blockdev.ProbeReader(f)
}

// createSwapFile makes a new file of size bytes with every block allocated: mode 0600 whatever
// the umask, NOCOW on btrfs (set while empty), fallocate, or zeros where fallocate is refused or
// left holes.
func createSwapFile(p string, size int64, fstype string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(p)
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if fstype == "btrfs" {
		if err := btrfsMakeNoCow(f); err != nil {
			return fail(err)
		}
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == nil {
		var ext []Extent
		if ext, err = fiemap(f); err == nil {
			err = checkExtents(ext, uint64(size))
		}
	}
	if err != nil {
		// fallocate refused (EOPNOTSUPP) or gave a file FIEMAP does not show whole: write it.
		if err := writeZeros(f, size); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync: %w", err))
	}
	return f, nil
}

func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return fmt.Errorf("write zeros at byte %d: %w", off, err)
		}
	}
	return nil
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
	dev, bd, err := btrfsDeviceOf(fs, f)
	if err != nil {
		return dev, 0, err
	}
	// The kernel checks every extent of a btrfs swap file; so do we.
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
