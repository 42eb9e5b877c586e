package hibernate

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// restampLimit is how much used swap we move back into memory to restamp the record: swapoff
// of more takes long and needs the memory.
const restampLimit = 64 << 20

// recordState is what the resume device's image record says about this boot.
type recordState struct {
	dev      blockdev.Device
	swap     swapsetup.ActiveSwap
	file     string // the swap file holding the area, "" for a partition
	record   *swsusp.Record
	current  bool // the record names this boot
	canStamp bool // not current, but swapoff-stamp-swapon is safe now
	// pending: the area is the hibernation file, inactive: hibernate now stamps it before it
	// activates it (no swapoff)
	pending bool
	why     string
}

// inspectRecord reads the record of the swap area hibernation will use: the partition at.devt,
// or the swap file on it at page at.offset (active, or the hibernation file hf).
func inspectRecord(fs sysfs.FS, at resumeAt, swaps []swapsetup.ActiveSwap, hf hibernationFile) (recordState, error) {
	var st recordState
	sa, err := swapAreaAt(fs, at.devt, fmt.Sprint(at.offset), swaps)
	if err != nil {
		return st, err
	}
	st.dev, st.swap, st.file = sa.dev, sa.swap, sa.file
	st.pending = hf.pending && sa.file == hf.path
	where, _ := sa.header(0) // a partition's area at its start, as setup makes it
	area := strings.TrimPrefix(where, "/")
	f, err := os.Open(fs.Path(area))
	if err != nil {
		return st, fmt.Errorf("read the swap header of %s: %w", where, err)
	}
	defer f.Close()
	size := sa.dev.Size
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	a, err := swsusp.ReadArea(f, size, 0)
	if err != nil {
		return st, fmt.Errorf("read the swap header of %s: %w", where, err)
	}
	st.record = a.Record
	bootID, _ := fs.ReadString("proc/sys/kernel/random/boot_id")
	switch {
	case a.Record != nil && a.Record.BootID == bootID && bootID != "":
		st.current = true
		st.why = fmt.Sprintf("the image record on %s names this boot (%s, stamped %s)", where, a.Record.KernelRelease, a.Record.Stamped.Format(time.RFC3339))
		return st, nil
	case a.Record == nil:
		st.why = fmt.Sprintf("no image record on %s", where)
	default:
		st.why = fmt.Sprintf("the image record on %s is of another boot (%s, boot %s)", where, a.Record.KernelRelease, a.Record.BootID)
	}
	st.canStamp = st.swap.Filename != "" && st.swap.Used <= restampLimit
	if st.swap.Filename == "" {
		st.why += "; it is not an active swap area"
	}
	return st, nil
}

// swapArea is where a hibernation image goes: the partition dev (its area at page 0), or the
// active swap file on dev whose first page is at the resume offset.
type swapArea struct {
	dev  blockdev.Device
	swap swapsetup.ActiveSwap // its line of /proc/swaps; Filename "" when it is not active
	file string               // the swap file, "" for a partition
}

// header is where the area's header page is: the swap file's first page, or the page offset
// (the resume offset) of the device.
func (a swapArea) header(offset uint64) (path string, pages uint64) {
	if a.file != "" {
		return a.file, 0
	}
	return a.dev.Path, offset
}

// swapAreaAt finds the swap area at device devt (MAJ:MIN, found in sysfs without reading the
// devices) and resume offset off (pages, as /sys/power/resume_offset has it), among the active
// swaps: the partition itself when it is active, else an active swap file there.
func swapAreaAt(fs sysfs.FS, devt, off string, swaps []swapsetup.ActiveSwap) (swapArea, error) {
	var sa swapArea
	devs, err := blockdev.ListSysfs(fs)
	if err != nil {
		return sa, err
	}
	if sa.dev, err = blockdev.Resolve(devs, strings.TrimSpace(devt)); err != nil {
		return sa, fmt.Errorf("resume device %s: %w", devt, err)
	}
	for _, s := range swaps {
		if s.Filename == sa.dev.Path {
			sa.swap = s
		}
	}
	if sa.swap.Filename != "" {
		return sa, nil
	}
	for _, s := range swaps {
		if s.Type != "file" {
			continue
		}
		if fd, foff, err := swapsetup.SwapFileLocation(fs, s.Filename); err == nil && fd.DevT() == sa.dev.DevT() && fmt.Sprint(foff) == strings.TrimSpace(off) {
			sa.swap, sa.file = s, s.Filename
		}
	}
	return sa, nil
}

// checkRecord says whether the record on the resume area will serve the next boot. Only our
// /init reads it: to kexec into the kernel the record names when another one boots. So it is
// a reason to refuse only when our initramfs boots next and the record names another kernel
// than this one (that kexec would boot the wrong kernel for this image); a missing record, or
// one of an earlier boot of this same kernel, is said and is no reason to refuse.
func checkRecord(fs sysfs.FS, at resumeAt, swaps []swapsetup.ActiveSwap, hf hibernationFile, ours bool) (CheckResult, *recordState) {
	c := CheckResult{Name: "image-record"}
	if !ours {
		c.OK = true
		c.Detail = "not needed: the initramfs is not hibernate's, and only hibernate's /init reads the record"
		return c, nil
	}
	if at.devt == "" {
		c.Detail = "no resume device to read the image record from"
		c.Fix = "see the resume-device check"
		return c, nil
	}
	st, err := inspectRecord(fs, at, swaps, hf)
	if err != nil {
		c.Detail = err.Error()
		return c, nil
	}
	switch {
	case st.current:
		c.OK, c.Detail = true, st.why
	case st.pending:
		c.OK = true
		c.Detail = st.why + "; hibernate now will stamp it on the hibernation file before activating it"
	case st.canStamp:
		c.OK = true
		c.Detail = st.why + fmt.Sprintf("; hibernate now will stamp it (swapoff, stamp, swapon: %d MiB of swap in use)", st.swap.Used>>20)
	default:
		c.Detail = st.why
		if st.swap.Filename != "" {
			c.Detail += fmt.Sprintf("; %d MiB of swap in use is too much to swapoff and restamp", st.swap.Used>>20)
		}
		running, _ := fs.Uname()
		switch {
		case st.record == nil:
			c.OK = true
			c.Detail += ": a boot of another kernel cannot kexec into this one, and will try to resume the image itself"
		case st.record.KernelRelease == running.Release:
			c.OK = true
			c.Detail += fmt.Sprintf(": it names this kernel, %s, as the record of this boot would", running.Release)
		default:
			c.Detail += fmt.Sprintf(": hibernate's /init would kexec into %s to resume an image of %s", st.record.KernelRelease, running.Release)
			c.Fix = "reboot (hibernate's /init stamps the record of the boot at boot), or swapoff and swapon the area with less than 64 MiB in use"
		}
	}
	return c, &st
}

// stampRecord writes the record of this boot on the resume partition, which is active: swapoff,
// stamp, swapon with the same priority.
func stampRecord(fs sysfs.FS, st recordState, sw swapsetup.Swapper, k kmsg) error {
	rec := imagerecord.ThisBoot(fs, fs.Root(), imagerecord.BootFSUUID(fs), time.Now())
	target := st.dev.Path
	if st.file != "" {
		target = st.file
	}
	k.logf("stamping the image record for %s on %s (swapoff, stamp, swapon)", rec.KernelRelease, target)
	if err := sw.Swapoff(target); err != nil {
		return err
	}
	err := writeRecord(fs, target, rec)
	if onErr := sw.Swapon(target, st.swap.Priority); onErr != nil {
		return fmt.Errorf("swapon %s again after stamping: %w (stamp: %v)", target, onErr, err)
	}
	if err != nil {
		return fmt.Errorf("stamp the image record on %s: %w", target, err)
	}
	return nil
}

// stampFile writes the record of this boot on the inactive swap file name (the hibernation
// file, before it is activated).
func stampFile(fs sysfs.FS, name string, k kmsg) error {
	rec := imagerecord.ThisBoot(fs, fs.Root(), imagerecord.BootFSUUID(fs), time.Now())
	k.logf("stamping the image record for %s on the hibernation file %s", rec.KernelRelease, name)
	if err := writeRecord(fs, name, rec); err != nil {
		return fmt.Errorf("stamp the image record on %s: %w", name, err)
	}
	return nil
}

// writeRecord stamps rec into the swap header of the inactive area name, and syncs it.
func writeRecord(fs sysfs.FS, name string, rec swsusp.Record) error {
	f, err := os.OpenFile(fs.Path(strings.TrimPrefix(name, "/")), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = swsusp.StampRecord(f, 0, rec)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
