package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// activation ends every swap's plan: our image record stamped into the swap header, swapon, and
// this boot's resume device. An active swap is only pointed at: its header is the kernel's now.
func (pl planner) activation(p *Plan, active bool) {
	if pl.o.HibernateOnly {
		if pl.o.Record != nil {
			p.add(stampRecord{res: p.res, rec: *pl.o.Record})
		}
		p.note("%s is a hibernation file: not activated (hibernate now activates it just before the image is written, at the lowest priority, and deactivates it after the resume)", p.res.File)
	} else if active {
		p.res.Activated = true
		p.note("%s is already active: not activated again", p.res.swapName())
		if pl.o.Record != nil {
			p.note("not stamping the image record: %s is active (swapoff it to stamp one)", p.res.swapName())
		}
	} else {
		if pl.o.Record != nil {
			p.add(stampRecord{res: p.res, rec: *pl.o.Record})
		}
		p.add(swapon{res: p.res, priority: pl.o.Priority})
	}
	p.add(setResume{res: p.res})
}

// isActive says whether /proc/swaps lists path.
func isActive(fs sysfs.FS, path string) (bool, error) {
	active, err := ReadProcSwaps(fs)
	if err != nil {
		return false, err
	}
	for _, s := range active {
		if s.Filename == path {
			return true, nil
		}
	}
	return false, nil
}

// stampRecord writes our image record into the swap header.
type stampRecord struct {
	res *Result
	rec swsusp.Record
}

func (a stampRecord) String() string {
	return fmt.Sprintf("stamp the image record for %s into the swap header of %s", a.rec.KernelRelease, a.res.swapName())
}

func (a stampRecord) apply(r *work) error {
	path := r.res.swapPath()
	if path == "" {
		return skipped("") // a new partition the kernel does not list yet
	}
	f, err := openSwap(r.fs, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := swsusp.StampRecord(f, 0, a.rec); err != nil {
		return fmt.Errorf("stamp image record on %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	// swapon claims a device exclusively: this descriptor must be gone first (EBUSY).
	return f.Close()
}

// openSwap opens a swap device or file below fs for writing; a device exclusively (O_EXCL: not
// one in use, mounted or active).
func openSwap(fs sysfs.FS, path string) (*os.File, error) {
	return openBelow(fs, path, os.O_RDWR)
}

func openBelow(fs sysfs.FS, path string, flag int) (*os.File, error) {
	p := fs.Path(strings.TrimPrefix(path, "/"))
	f, err := os.OpenFile(p, flag|unix.O_EXCL, 0)
	if err != nil && errors.Is(err, unix.EINVAL) {
		f, err = os.OpenFile(p, flag, 0) // regular files (swap files, tests, images) take no O_EXCL
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// swapon activates the swap.
type swapon struct {
	res      *Result
	priority int
}

func (a swapon) String() string {
	if a.priority >= 0 {
		return fmt.Sprintf("swapon %s (priority %d)", a.res.swapName(), a.priority)
	}
	return "swapon " + a.res.swapName()
}

func (a swapon) apply(r *work) error {
	path := r.res.swapPath()
	if path == "" {
		return skipped("")
	}
	if err := r.sw.Swapon(path, a.priority); err != nil {
		return err
	}
	r.res.Activated, r.st.Activated = true, true
	return nil
}

// setResume points this boot's hibernation at the swap: resume_offset first (it triggers
// nothing), then resume.
type setResume struct{ res *Result }

func (a setResume) String() string {
	off, devt := fmt.Sprint(a.res.ResumeOffset), a.res.DevT
	if a.res.offsetPending {
		off = "the file's first page (known once it is made)"
	}
	if devt == "" {
		devt = "its MAJ:MIN"
	}
	return fmt.Sprintf("write %s to /sys/power/resume_offset, then %s to /sys/power/resume", off, devt)
}

func (a setResume) apply(r *work) error {
	if r.res.DevT == "" {
		return skipped("")
	}
	off := r.res.ResumeOffset
	if err := r.fs.WriteString("sys/power/resume_offset", fmt.Sprint(off)); err != nil && !(off == 0 && errors.Is(err, os.ErrNotExist)) {
		return fmt.Errorf("set /sys/power/resume_offset to %d: %w", off, err)
	}
	if err := r.fs.WriteString("sys/power/resume", r.res.DevT); err != nil {
		return fmt.Errorf("set /sys/power/resume to %s: %w", r.res.DevT, err)
	}
	r.st.Runtime = true
	return nil
}
