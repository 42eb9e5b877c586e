// Package hibernate is the orchestrator: it checks that hibernation will come back on this
// machine (Check), and freezes it to disk (Now), leaving every setting as it found it.
// Everything it reads and writes goes through a root prefix (sysfs.FS).
package hibernate

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// CheckResult is one answer to "will hibernation come back?".
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Took is how long the check took (it reads the machine: a slow one is worth knowing).
	Took time.Duration `json:"took_ns"`
}

// Report is every check's answer; Ready only when all are OK (or ignored).
type Report struct {
	Ready  bool          `json:"ready"`
	Checks []CheckResult `json:"checks"`
	// ResumeDevT is the device number hibernation will write to, when known ("MAJ:MIN").
	ResumeDevT string `json:"resume_devt,omitempty"`
	// ResumeOffset is the page of ResumeDevT where the image's header goes (a swap file's
	// first page; 0 for a partition).
	ResumeOffset uint64 `json:"resume_offset,omitempty"`
	// SetResume says that /sys/power/resume is unset and Now will set it to ResumeDevT (and
	// resume_offset to ResumeOffset).
	SetResume bool `json:"set_resume,omitempty"`
	// ResumeFree is the free space, in bytes, of the swap area the image goes to (0: not known):
	// --image-size auto is capped by it.
	ResumeFree int64 `json:"resume_free_bytes,omitempty"`
	// HibernationFile is the hibernation file (setup --hibernate-only), inactive, that Now
	// activates just before the image is written and deactivates after.
	HibernationFile string `json:"hibernation_file,omitempty"`
	// record is what the image-record check read, for Now's restamp decision.
	record *recordState
	// location is the variable Now will write on a UEFI machine, or why it cannot
	// (plannedLocation); both nil elsewhere.
	location    *efivars.HibernateLocation
	locationErr error
	// locationNeeded says that nothing but that variable tells the next boot where the image
	// is (the next-boot check counted on it): a failure to write it stops the hibernation.
	locationNeeded bool
	// boot is which compressors the next boot can read an image of.
	boot bootCompressors
}

// Failed returns the checks that did not pass.
func (r Report) Failed() []CheckResult {
	var out []CheckResult
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Check answers whether hibernation, now, on the machine below fs, will come back.
func Check(fs sysfs.FS) Report {
	var r Report
	// Each check's Took is its own work: the time since the last check returned, taken right
	// after it returns (the initramfs check runs before the ones that read what it found, and
	// is listed after them).
	last := time.Now()
	timed := func(c CheckResult) CheckResult {
		now := time.Now()
		c.Took, last = now.Sub(last), now
		return c
	}
	add := func(c CheckResult) { r.Checks = append(r.Checks, c) }
	add(timed(checkKernel(fs)))
	add(timed(checkLockdown(fs)))
	add(timed(checkCmdline(fs)))
	add(timed(checkContainer(fs)))
	swapCheck, swaps, hf := checkSwap(fs)
	add(timed(swapCheck))
	if hf.pending {
		r.HibernationFile = hf.path
	}
	resumeCheck, at := checkResume(fs, swaps, hf)
	add(timed(resumeCheck))
	devt := at.devt
	r.ResumeDevT, r.ResumeOffset, r.SetResume, r.ResumeFree = devt, at.offset, at.set, at.free
	initramfsCheck, ic := checkInitramfs(fs)
	initramfsCheck = timed(initramfsCheck)
	r.location, r.locationErr = plannedLocation(fs, devt, at.offset)
	nextBoot, needed := checkNextBoot(fs, devt, at.offset, ic, r.location, r.locationErr)
	add(timed(nextBoot)) // with the HibernateLocation it plans
	r.locationNeeded = needed
	add(timed(checkResumeStack(fs, devt, ic)))
	recordCheck, st := checkRecord(fs, at, swaps, hf, ic != nil && ic.Ours())
	add(timed(recordCheck))
	r.record = st
	add(initramfsCheck)
	if u, err := fs.Uname(); err == nil {
		r.boot = readableAtBoot(fs, u.Release, ic)
		add(timed(checkCompressor(fs, r.boot)))
	}
	r.Ready = len(r.Failed()) == 0
	return r
}

func checkKernel(fs sysfs.FS) CheckResult {
	c := CheckResult{Name: "kernel"}
	state, err := fs.ReadString("sys/power/state")
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read /sys/power/state: %v", err)
		c.Fix = "hibernation needs a kernel built with CONFIG_HIBERNATION and /sys mounted"
		return c
	}
	if !strings.Contains(" "+state+" ", " disk ") {
		c.Detail = fmt.Sprintf("/sys/power/state offers %q, not disk: the kernel has hibernation switched off (nohibernate, lockdown, memfd_secret in use, or no support)", state)
		c.Fix = "see the lockdown and cmdline checks; a kernel without CONFIG_HIBERNATION cannot hibernate"
		return c
	}
	modes, _ := fs.ReadString("sys/power/disk")
	c.OK = true
	c.Detail = fmt.Sprintf("disk in /sys/power/state; modes: %s", modes)
	return c
}

func checkLockdown(fs sysfs.FS) CheckResult {
	c := CheckResult{Name: "lockdown", OK: true, Detail: "no kernel lockdown"}
	v, err := fs.ReadString("sys/kernel/security/lockdown")
	if err != nil {
		c.Detail = "no lockdown interface (securityfs not mounted or no lockdown LSM): not locked down"
		return c
	}
	sel, _ := sysfs.Selected(v)
	if sel == "integrity" || sel == "confidentiality" {
		c.OK = false
		if secureBoot(fs) {
			// Seen in the tests: Debian's signed kernel under OVMF with Microsoft's keys,
			// integrity. Its EFI stub also takes shim's MokSBState (mokutil) for Secure Boot off.
			c.Detail = fmt.Sprintf("kernel lockdown is %s: Secure Boot is on (the firmware's SecureBoot variable), and the kernel locks itself down under it, which forbids hibernation (an image is not signed)", sel)
			c.Fix = "turn Secure Boot off in the firmware's setup, or shim's validation (mokutil --disable-validation, confirmed at the next boot); a lockdown= on the command line can only raise the level"
			return c
		}
		c.Detail = fmt.Sprintf("kernel lockdown is %s (Secure Boot is off: lockdown= on the command line, or the kernel's own configuration): the kernel refuses to hibernate", sel)
		c.Fix = "remove lockdown= from the kernel command line (the boot loader's configuration); a kernel built locked down cannot hibernate"
		return c
	}
	c.Detail = "lockdown: " + sel
	return c
}

// secureBootVar is the UEFI global variable that says whether the firmware boots with Secure
// Boot on (UEFI spec, "Globally Defined Variables"): efivarfs gives 4 bytes of attributes, then
// its one byte, 1 for on.
const secureBootVar = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// secureBoot says whether the firmware booted with Secure Boot on; false without EFI.
func secureBoot(fs sysfs.FS) bool {
	b, err := os.ReadFile(fs.Path(secureBootVar))
	return err == nil && len(b) == 5 && b[4] == 1
}

func checkCmdline(fs sysfs.FS) CheckResult {
	c := CheckResult{Name: "cmdline", OK: true}
	raw, err := fs.Cmdline()
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read the command line: %v", err)
		return c
	}
	for _, w := range strings.Fields(raw) {
		switch w {
		case "nohibernate", "hibernate=no":
			c.OK = false
			c.Detail = fmt.Sprintf("%s on the kernel command line switches hibernation off", w)
			c.Fix = fmt.Sprintf("remove %s from the boot loader's kernel command line and reboot", w)
			return c
		case "noresume", "hibernate=noresume":
			c.OK = false
			c.Detail = fmt.Sprintf("%s on the kernel command line: the next boot would not resume the image", w)
			c.Fix = fmt.Sprintf("remove %s from the kernel command line", w)
			return c
		}
	}
	c.Detail = "nothing on the kernel command line switches hibernation off"
	return c
}

func checkContainer(fs sysfs.FS) CheckResult {
	c := CheckResult{Name: "container", OK: true, Detail: "not in a container"}
	if v, err := fs.ReadString("run/systemd/container"); err == nil && v != "" {
		c.OK, c.Detail = false, fmt.Sprintf("running in a %s container", v)
	} else if fs.Exists(".dockerenv") || fs.Exists("run/.containerenv") {
		c.OK, c.Detail = false, "running in a container"
	}
	if !c.OK {
		c.Fix = "hibernate the host, not the container"
	}
	return c
}

// checkSwap compares the disk swap that is free with what the image needs. The kernel can drop
// page cache to make the image smaller, but not anonymous memory (AnonPages) nor shmem/tmpfs
// (Shmem): those go either into the image or, swapped out while the image is made, into the same
// swap. So their sum must fit in free disk swap. systemd compares Active(anon) alone, which
// misses the inactive half: seen here, a guest holding 64 MiB of fresh state showed
// Active(anon) near 0. The image is compressed on disk; this estimate does not count on it.
// A hibernation file (setup --hibernate-only) that is inactive counts whole: hibernate now
// activates it (hf.pending).
func checkSwap(fs sysfs.FS) (CheckResult, []swapsetup.ActiveSwap, hibernationFile) {
	c := CheckResult{Name: "swap"}
	swaps, hf, err := swapsWithFile(fs)
	if err != nil {
		c.Detail = err.Error()
		return c, nil, hf
	}
	var disk []swapsetup.ActiveSwap
	var zram []string
	var free int64
	for _, s := range swaps {
		if s.IsZram() {
			zram = append(zram, s.Filename)
			continue
		}
		disk = append(disk, s)
		free += s.Free()
	}
	if len(disk) == 0 {
		c.Detail = "no active disk swap"
		if len(zram) > 0 {
			c.Detail = fmt.Sprintf("only zram swap (%s), which lives in RAM and cannot hold a hibernation image", strings.Join(zram, ", "))
		}
		c.Fix = "add disk swap: hibernate setup --device /dev/PARTITION (or a swap file; on a zram machine a hibernation file: --file PATH --hibernate-only)"
		if hf.err != nil {
			c.Detail += "; " + hf.err.Error()
			c.Fix = "run hibernate setup --file " + hf.path + " --hibernate-only again"
		}
		return c, disk, hf
	}
	mem, err := fs.Meminfo()
	if err != nil {
		c.Detail = err.Error()
		return c, disk, hf
	}
	need := mem["AnonPages"] + mem["Shmem"]
	detail := fmt.Sprintf("%d MiB free disk swap; the image needs up to %d MiB (AnonPages %d MiB + Shmem %d MiB of /proc/meminfo)",
		free>>20, need>>20, mem["AnonPages"]>>20, mem["Shmem"]>>20)
	if hf.pending {
		detail += fmt.Sprintf("; the hibernation file %s counted whole: inactive, hibernate now activates it for the image", hf.path)
	}
	if len(zram) > 0 {
		detail += fmt.Sprintf("; zram %s not counted", strings.Join(zram, ", "))
	}
	c.Detail = detail
	if free < need {
		c.Fix = fmt.Sprintf("add at least %d MiB of disk swap, or free memory first", (need-free)>>20+1)
		return c, disk, hf
	}
	c.OK = true
	return c, disk, hf
}

// hibernationFile is the hibernation file `hibernate setup --hibernate-only` recorded: never
// daily swap, active only while hibernate now writes an image.
type hibernationFile struct {
	path    string // "" when setup recorded none
	pending bool   // it is inactive: hibernate now activates it, and deactivates it after
	err     error  // it was recorded but cannot be used (gone, or no longer a swap area)
}

// swapsWithFile are the active swap areas (/proc/swaps), and the hibernation file as the area
// it will be once hibernate now activates it, where it is inactive: the whole file free but
// its header page, as the kernel counts a swap file's size.
func swapsWithFile(fs sysfs.FS) ([]swapsetup.ActiveSwap, hibernationFile, error) {
	swaps, err := swapsetup.ReadProcSwaps(fs)
	if err != nil {
		return nil, hibernationFile{}, err
	}
	name, err := swapsetup.HibernationFile(fs)
	hf := hibernationFile{path: name, err: err}
	if name == "" || err != nil {
		return swaps, hf, nil
	}
	for _, s := range swaps {
		if s.Filename == name {
			return swaps, hf, nil // active already (a hibernate now under way, or a swapon by hand)
		}
	}
	size, err := swapAreaSize(fs, name)
	if err != nil {
		hf.err = fmt.Errorf("the hibernation file %s that setup made: %w", name, err)
		return swaps, hf, nil
	}
	hf.pending = true
	return append(swaps, swapsetup.ActiveSwap{Filename: name, Type: "file", Size: size, Priority: -1}), hf, nil
}

// swapAreaSize is the usable size of the swap area in the file name below fs (the file but its
// header page), read from its header: an error when it is no swap area.
func swapAreaSize(fs sysfs.FS, name string) (int64, error) {
	f, err := os.Open(fs.Path(strings.TrimPrefix(name, "/")))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	a, err := swsusp.ReadAreaHead(f, fi.Size(), 0)
	if err != nil {
		return 0, fmt.Errorf("read its swap header: %w", err)
	}
	if a.Sig != swsusp.SigSwap {
		return 0, fmt.Errorf("it holds %s, not a plain swap area", a.Kind())
	}
	return fi.Size() - swsusp.PageSize, nil
}

// resumeAt is where hibernation will write the image: the device (MAJ:MIN) and the page offset
// of its header there, and whether hibernate now must write them to /sys/power first.
type resumeAt struct {
	devt   string
	offset uint64
	set    bool
	free   int64 // bytes free in the swap area the image goes to (0: not known)
}

// checkResume tells where the image will go: /sys/power/resume must name an active disk swap
// area (or the hibernation file hf, which hibernate now activates), or be unset with one we can
// name ourselves.
func checkResume(fs sysfs.FS, disk []swapsetup.ActiveSwap, hf hibernationFile) (CheckResult, resumeAt) {
	c := CheckResult{Name: "resume-device"}
	cur, err := fs.ReadString("sys/power/resume")
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read /sys/power/resume: %v", err)
		return c, resumeAt{}
	}
	devs, _ := blockdev.ListSysfs(fs) // paths and numbers: nothing to read on the devices
	byPath := map[string]blockdev.Device{}
	byDevT := map[string]blockdev.Device{}
	for _, d := range devs {
		byPath[d.Path] = d
		byDevT[d.DevT()] = d
	}
	fileSays := func(name string) string {
		if hf.pending && name == hf.path {
			return "the hibernation file " + name + " (hibernate now activates it)"
		}
		return "the active swap file " + name
	}
	if cur != "" && cur != "0:0" {
		off, _ := fs.ReadString("sys/power/resume_offset")
		// The page the kernel writes the header to (0 where it has no resume_offset).
		at := resumeAt{devt: cur}
		at.offset, _ = strconv.ParseUint(off, 10, 64)
		d, known := byDevT[cur]
		for _, s := range disk {
			if known && s.Filename == d.Path {
				c.OK = true
				c.Detail = fmt.Sprintf("/sys/power/resume is %s (%s), an active swap area", cur, d.Path)
				at.free = s.Free()
				return c, at
			}
		}
		// A swap file: resume names the device holding it, resume_offset its header page.
		for _, s := range disk {
			if s.Type != "file" {
				continue
			}
			if fd, foff, err := swapsetup.SwapFileLocation(fs, s.Filename); err == nil && fd.DevT() == cur && fmt.Sprint(foff) == off {
				c.OK = true
				c.Detail = fmt.Sprintf("/sys/power/resume is %s (%s) with resume_offset %s: %s", cur, fd.Path, off, fileSays(s.Filename))
				at.free = s.Free()
				return c, at
			}
		}
		c.Detail = fmt.Sprintf("/sys/power/resume is %s (resume_offset %s), which is not an active disk swap area or swap file", cur, off)
		c.Fix = "run hibernate setup, or swapon that device"
		return c, at
	}
	if hf.pending {
		fd, foff, err := swapsetup.SwapFileLocation(fs, hf.path)
		if err != nil {
			c.Detail = fmt.Sprintf("/sys/power/resume is unset, and the hibernation file cannot be located: %v", err)
			c.Fix = "run hibernate setup --file " + hf.path + " --hibernate-only again"
			return c, resumeAt{}
		}
		c.OK = true
		c.Detail = fmt.Sprintf("/sys/power/resume is unset; hibernate now will set it to %s (%s) at resume_offset %d: %s", fd.DevT(), fd.Path, foff, fileSays(hf.path))
		at := resumeAt{devt: fd.DevT(), offset: foff, set: true}
		for _, s := range disk {
			if s.Filename == hf.path {
				at.free = s.Free()
			}
		}
		return c, at
	}
	for _, s := range disk {
		if s.Type != "partition" {
			continue
		}
		if d, ok := byPath[s.Filename]; ok {
			c.OK = true
			c.Detail = fmt.Sprintf("/sys/power/resume is unset; hibernate now will set it to %s (%s)", d.DevT(), d.Path)
			return c, resumeAt{devt: d.DevT(), set: true, free: s.Free()}
		}
	}
	c.Detail = "/sys/power/resume is unset and no active swap partition can be named"
	c.Fix = "run hibernate setup (it sets resume= and resume_offset=)"
	return c, resumeAt{}
}

// Times says each check's time, the longest first, those under a millisecond left out
// ("next-boot 20 ms, initramfs 15 ms"): the line hibernate now logs after its checks, read by
// the benchmark of its share (qemu-tests/bench).
func (r Report) Times() string {
	cs := slices.Clone(r.Checks)
	slices.SortStableFunc(cs, func(a, b CheckResult) int { return cmp.Compare(b.Took, a.Took) })
	var parts []string
	for _, c := range cs {
		if ms := c.Took.Milliseconds(); ms >= 1 {
			parts = append(parts, fmt.Sprintf("%s %d ms", c.Name, ms))
		}
	}
	if len(parts) == 0 {
		return "each under 1 ms"
	}
	return strings.Join(parts, ", ")
}

// Slowest returns the check that took longest.
func (r Report) Slowest() CheckResult {
	var s CheckResult
	for _, c := range r.Checks {
		if c.Took > s.Took {
			s = c
		}
	}
	return s
}
