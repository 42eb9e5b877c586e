package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// PlanFile decides the setup of the swap file o.File, o.Size bytes (0: AutoSize): made (or kept),
// our image record stamped, activation, and this boot's hibernation pointed at it: resume= names
// the block device of the file system that holds the file, resume_offset= the page of that device
// where the file's first page is. It changes nothing; what it refuses, it refuses here.
func PlanFile(fs sysfs.FS, o Options) (*Plan, error) { return newPlanner(fs, o).file() }

// SetupFile is PlanFile carried out (with o.DryRun, only shown).
func SetupFile(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	p, err := PlanFile(fs, o)
	return carry(p, err, sw, o.DryRun)
}

func (pl planner) file() (*Plan, error) {
	if !filepath.IsAbs(pl.o.File) {
		return nil, fmt.Errorf("swap file %q: give an absolute path (as on the machine, below --root)", pl.o.File)
	}
	name := filepath.Clean(pl.o.File)
	path := pl.fs.Path(strings.TrimPrefix(name, "/"))
	fstype, err := fileSystemOf(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("swap file %s: %w", name, err)
	}
	active, err := isActive(pl.fs, name)
	if err != nil {
		return nil, err
	}
	if active && pl.o.HibernateOnly {
		return nil, fmt.Errorf("%s is active swap: swapoff %s first (and take it out of /etc/fstab): a hibernation file is active only while an image is written", name, name)
	}
	size, err := pl.fileSize(name)
	if err != nil {
		return nil, err
	}
	old, err := pl.oldFile(path, name, active)
	if err != nil {
		return nil, err
	}
	p := newPlan(pl.fs, Result{File: name, FSType: fstype, SizeBytes: size, HibernateOnly: pl.o.HibernateOnly})
	var dev blockdev.Device
	if old.keep {
		dev, err = pl.keepFile(p, path, old)
	} else {
		dev, err = pl.newFile(p, path, old.exists)
	}
	if err != nil {
		return nil, err
	}
	p.res.Device, p.res.DevT = dev.Path, dev.DevT()
	if p.res.UUID, err = fsUUID(dev, fstype); err != nil {
		return nil, err
	}
	p.res.setKernelParams()
	pl.activation(p, active)
	return p, nil
}

// fileSize is the size of a new swap file: o.Size or AutoSize, in whole pages.
func (pl planner) fileSize(name string) (int64, error) {
	size := pl.o.Size
	if size == 0 {
		var err error
		if size, err = AutoSize(pl.fs); err != nil {
			return 0, err
		}
	}
	size = size / swsusp.PageSize * swsusp.PageSize
	if size < 40*swsusp.PageSize {
		return 0, fmt.Errorf("swap file %s: %d bytes is too small for a swap area", name, size)
	}
	return size, nil
}

// oldSwapFile is what is at a swap file's path before setup: nothing, a swap area to keep, or a
// file to replace (--force, or an empty one).
type oldSwapFile struct {
	exists, keep bool
	uuid         string
	size         int64
}

func (pl planner) oldFile(path, name string, active bool) (oldSwapFile, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return oldSwapFile{}, nil
	}
	if err != nil {
		return oldSwapFile{}, fmt.Errorf("swap file %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return oldSwapFile{}, fmt.Errorf("swap file %s exists and is not a regular file (%s)", name, st.Mode().Type())
	}
	pr, err := probeFile(path)
	if err != nil {
		return oldSwapFile{}, err
	}
	old := oldSwapFile{exists: true, size: st.Size()}
	switch {
	case pr.Type == "swsusp":
		return old, fmt.Errorf("%s holds a hibernation image: resume it, or discard it with `hibernate discard %s`, before setting it up", name, name)
	case active && (pr.Type != "swap" || pl.o.Force):
		return old, fmt.Errorf("%s is an active swap file: swapoff it first to remake it", name)
	case pr.Type == "swap" && !pl.o.Force:
		old.keep, old.uuid = true, pr.UUID
	case !pl.o.Force && st.Size() > 0:
		return old, fmt.Errorf("%s exists and is not a swap area: refusing to overwrite it without --force", name)
	}
	if old.keep && st.Mode().Perm()&0o077 != 0 {
		return old, fmt.Errorf("swap file %s has mode %04o: others could read all of RAM from it once it holds an image; chmod 600 %s, then run setup again", name, st.Mode().Perm(), name)
	}
	if old.keep {
		// Its owner could read every page of the image, and write what the next boot resumes.
		owner, err := pl.fs.RootOwner()
		if err != nil {
			return old, err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != owner {
			return old, fmt.Errorf("swap file %s does not belong to root: its owner could read all of RAM from it and change what the next boot resumes; chown root %s, then run setup again", name, name)
		}
	}
	return old, nil
}

// keepFile keeps the swap area the file is, once it is checked, and finds where it is.
func (pl planner) keepFile(p *Plan, path string, old oldSwapFile) (blockdev.Device, error) {
	p.res.SizeBytes, p.res.SwapUUID = old.size, old.uuid
	p.note("%s is already a swap area (UUID %s): kept", p.res.File, old.uuid)
	f, err := os.Open(path)
	if err != nil {
		return blockdev.Device{}, fmt.Errorf("open %s: %w", p.res.File, err)
	}
	defer f.Close()
	dev, off, err := locate(pl.fs, f, old.size, p.res.FSType)
	if err != nil {
		return dev, fmt.Errorf("swap file %s: %w", p.res.File, err)
	}
	p.res.ResumeOffset = off
	return dev, nil
}

// newFile plans the file made anew. Its device is known now, its first page there once the file
// is made.
func (pl planner) newFile(p *Plan, path string, exists bool) (blockdev.Device, error) {
	id, text, err := pl.uuid()
	if err != nil {
		return blockdev.Device{}, err
	}
	p.res.Made, p.res.SwapUUID, p.res.offsetPending = true, text, true
	p.unknown = append(p.unknown, "resume_offset is known once the file is made (not in a dry run)")
	if exists {
		p.add(removeFile{path: p.res.File, why: " (--force)"})
	}
	p.add(allocateFile{res: p.res}, mkswapFile{res: p.res, id: id, label: pl.o.Label})
	dev, err := deviceOfDir(pl.fs, filepath.Dir(path), p.res.FSType)
	if err != nil {
		return dev, fmt.Errorf("swap file %s: %w", p.res.File, err)
	}
	return dev, nil
}

// allocateFile makes the swap file, every block allocated.
type allocateFile struct{ res *Result }

func (a allocateFile) String() string {
	how := "fallocate, no holes: checked with FIEMAP"
	if a.res.FSType == "btrfs" {
		how = "NOCOW, " + how
	}
	return fmt.Sprintf("allocate %d MiB at %s (mode 0600, %s)", a.res.SizeBytes>>20, a.res.File, how)
}

func (a allocateFile) apply(r *work) error {
	f, err := createSwapFile(r.fs.Path(strings.TrimPrefix(r.res.File, "/")), r.res.SizeBytes, r.res.FSType)
	if err != nil {
		return fmt.Errorf("swap file %s: %w", r.res.File, err)
	}
	r.st.MadeFile = true
	return f.Close()
}

// mkswapFile makes the swap area in the new file, and finds where the file's first page is: once
// it is written, as the kernel will find it.
type mkswapFile struct {
	res   *Result
	id    [16]byte
	label string
}

func (a mkswapFile) String() string {
	return fmt.Sprintf("make a swap area in %s (UUID %s)", a.res.File, swsusp.FormatUUID(a.id))
}

func (a mkswapFile) apply(r *work) error {
	path := r.fs.Path(strings.TrimPrefix(r.res.File, "/"))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", r.res.File, err)
	}
	defer f.Close()
	err = swsusp.Mkswap(f, r.res.SizeBytes, swsusp.MkswapOptions{UUID: a.id, Label: a.label, PageSize: swsusp.PageSize})
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		r.st.MadeFile = false
		return fmt.Errorf("mkswap %s: %w", r.res.File, err)
	}
	dev, off, err := locate(r.fs, f, r.res.SizeBytes, r.res.FSType)
	if err == nil && dev.DevT() != r.res.DevT {
		err = fmt.Errorf("it is on %s (%s), not on %s as planned", dev.Path, dev.DevT(), r.res.DevT)
	}
	if err != nil {
		return fmt.Errorf("swap file %s: %w", r.res.File, err)
	}
	r.res.ResumeOffset, r.res.offsetPending = off, false
	r.res.setKernelParams()
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
