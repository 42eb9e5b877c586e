// Package hibernate is the orchestrator: it checks that hibernation will come back on this
// machine (Check), and freezes it to disk (Now), leaving every setting as it found it.
// Everything it reads and writes goes through a root prefix (sysfs.FS).
package hibernate

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
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
	// SetResume says that /sys/power/resume is unset and Now will set it to ResumeDevT.
	SetResume bool `json:"set_resume,omitempty"`
	// record is what the image-record check read, for Now's restamp decision.
	record *recordState
	// location is the variable Now will write on a UEFI machine, or why it cannot
	// (plannedLocation); both nil elsewhere.
	location    *efivars.HibernateLocation
	locationErr error
	// locationNeeded says that nothing but that variable tells the next boot where the image
	// is (the next-boot check counted on it): a failure to write it stops the hibernation.
	locationNeeded bool
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
	last := time.Now()
	add := func(c CheckResult) {
		now := time.Now()
		c.Took, last = now.Sub(last), now
		r.Checks = append(r.Checks, c)
	}
	add(checkKernel(fs))
	add(checkLockdown(fs))
	add(checkCmdline(fs))
	add(checkContainer(fs))
	swapCheck, swaps := checkSwap(fs)
	add(swapCheck)
	resumeCheck, devt, set := checkResume(fs, swaps)
	add(resumeCheck)
	r.ResumeDevT, r.SetResume = devt, set
	initramfsCheck, ic := checkInitramfs(fs)
	r.location, r.locationErr = plannedLocation(fs, devt, set)
	nextBoot, needed := checkNextBoot(fs, devt, set, ic, r.location, r.locationErr)
	add(nextBoot)
	r.locationNeeded = needed
	add(checkResumeStack(fs, devt, ic))
	recordCheck, st := checkRecord(fs, devt, swaps, ic != nil && ic.Ours())
	add(recordCheck)
	r.record = st
	add(initramfsCheck)
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
func checkSwap(fs sysfs.FS) (CheckResult, []swapsetup.ActiveSwap) {
	c := CheckResult{Name: "swap"}
	swaps, err := swapsetup.ReadProcSwaps(fs)
	if err != nil {
		c.Detail = err.Error()
		return c, nil
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
		c.Fix = "add disk swap: hibernate setup --device /dev/PARTITION (or a swap file)"
		return c, disk
	}
	mem, err := fs.Meminfo()
	if err != nil {
		c.Detail = err.Error()
		return c, disk
	}
	need := mem["AnonPages"] + mem["Shmem"]
	detail := fmt.Sprintf("%d MiB free disk swap; the image needs up to %d MiB (AnonPages %d MiB + Shmem %d MiB of /proc/meminfo)",
		free>>20, need>>20, mem["AnonPages"]>>20, mem["Shmem"]>>20)
	if len(zram) > 0 {
		detail += fmt.Sprintf("; zram %s not counted", strings.Join(zram, ", "))
	}
	c.Detail = detail
	if free < need {
		c.Fix = fmt.Sprintf("add at least %d MiB of disk swap, or free memory first", (need-free)>>20+1)
		return c, disk
	}
	c.OK = true
	return c, disk
}

// checkResume tells where the image will go: /sys/power/resume must name an active disk swap
// area, or be unset with one we can name ourselves.
func checkResume(fs sysfs.FS, disk []swapsetup.ActiveSwap) (CheckResult, string, bool) {
	c := CheckResult{Name: "resume-device"}
	cur, err := fs.ReadString("sys/power/resume")
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read /sys/power/resume: %v", err)
		return c, "", false
	}
	devs, _ := blockdev.ListSysfs(fs) // paths and numbers: nothing to read on the devices
	byPath := map[string]blockdev.Device{}
	byDevT := map[string]blockdev.Device{}
	for _, d := range devs {
		byPath[d.Path] = d
		byDevT[d.DevT()] = d
	}
	if cur != "" && cur != "0:0" {
		d, known := byDevT[cur]
		for _, s := range disk {
			if known && s.Filename == d.Path {
				c.OK = true
				c.Detail = fmt.Sprintf("/sys/power/resume is %s (%s), an active swap area", cur, d.Path)
				return c, cur, false
			}
		}
		// A swap file: resume names the device holding it, resume_offset its header page.
		off, _ := fs.ReadString("sys/power/resume_offset")
		for _, s := range disk {
			if s.Type != "file" {
				continue
			}
			if fd, foff, err := swapsetup.SwapFileLocation(fs, s.Filename); err == nil && fd.DevT() == cur && fmt.Sprint(foff) == off {
				c.OK = true
				c.Detail = fmt.Sprintf("/sys/power/resume is %s (%s) with resume_offset %s: the active swap file %s", cur, fd.Path, off, s.Filename)
				return c, cur, false
			}
		}
		c.Detail = fmt.Sprintf("/sys/power/resume is %s (resume_offset %s), which is not an active disk swap area or swap file", cur, off)
		c.Fix = "run hibernate setup, or swapon that device"
		return c, cur, false
	}
	for _, s := range disk {
		if s.Type != "partition" {
			continue
		}
		if d, ok := byPath[s.Filename]; ok {
			c.OK = true
			c.Detail = fmt.Sprintf("/sys/power/resume is unset; hibernate now will set it to %s (%s)", d.DevT(), d.Path)
			return c, d.DevT(), true
		}
	}
	c.Detail = "/sys/power/resume is unset and no active swap partition can be named"
	c.Fix = "run hibernate setup (it sets resume= and resume_offset=)"
	return c, "", false
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
