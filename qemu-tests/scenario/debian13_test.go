package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebian13RoundTrip is the real thing on Debian 13: a trixie root (systemd 257, its 6.12
// kernel with .ko.xz modules under /usr/lib/modules) with systemd as PID 1, hibernate put in
// by make install; the guest makes its swap and builds its own initramfs, hibernates, and
// resumes from that initramfs: the demo service has the same PID, the boot ID is the same and
// systemctl is-system-running says what it said before. Then, on a fresh boot, the same through
// systemd's path: logind's CanHibernate, systemctl hibernate refused by hibernate prepare with
// nothing changed, then the power key (logind's HandlePowerKey=hibernate, the ACPI button
// pressed through QMP) hibernating with the record of that boot, and resumed. (systemctl
// hibernate's own success is TestDebianFromPackage's, on Debian 12.)
//
// systemd's own suspend-then-hibernate is not here: it ran once in this guest (suspended, woken
// by its alarm, hibernated after hibernate prepare, resumed), but in a clean-clone run the RTC
// woke the guest 19.2 s into a HibernateDelaySec of 20 s, before systemd's CLOCK_BOOTTIME_ALARM
// timer was due, and systemd, seeing its timer not expired, stayed up (docs/guide.md).
func TestDebian13RoundTrip(t *testing.T) {
	root := debianRoot(t, debroot.SystemdTrixieGuest())
	ctx := timeout(t, 30*time.Minute) // four boots: 7.5 min beside another guest on a slower machine (2026-12-02)
	m := newMachine(t, ctx, DebianSystemd(root))
	if !strings.HasPrefix(m.Guest.Release, "6.12.") {
		t.Fatalf("the trixie root's kernel is %s, want Debian 13's 6.12", m.Guest.Release)
	}
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd)
	if r, err := vm.Run(ctx, "systemctl", "--version"); err == nil {
		t.Logf("%s", strings.SplitN(r.Stdout, "\n", 2)[0])
	}
	do(t, ctx, vm, m.SetupSwap, m.BuildInitramfsInGuest, m.StartJob, m.HibernateCheck, m.NoteSystemState, m.HibernateNow, m.CheckImage, m.UseGuestInitramfs)
	vm2 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	do(t, ctx, vm2, m.CheckSystemdKept, m.SaveJournal)
	now := m.Summary

	// Then the desktop's way, on a boot of its own (setup's record is of the first): our /init,
	// finding no image, leaves the resume device set (logind without EFI wants it);
	// systemctl hibernate with no initramfs for the next boot is refused by hibernate prepare
	// with nothing changed; then the power key hibernates, with the record of this boot stamped.
	powerOff(t, ctx, vm2)
	vm3, info := boot(t, ctx, m, m.Setup.KernelParams)
	m.BootID = info.BootID
	do(t, ctx, vm3, m.WaitSystemd, m.CheckResumeLeftByInit, m.CheckCanHibernate, m.StartJob, m.SystemctlHibernateRefused,
		m.NoteSystemState, m.PowerKeyHibernate, m.CheckImage, m.CheckRecordOfThisBoot)
	vm4 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	do(t, ctx, vm4, m.CheckSystemdKept, m.CheckPowerKeyInJournal, m.CheckPrepareInJournal, m.SaveJournal)
	t.Logf("the power key: hibernate %s; resume %s", m.Summary.HibernateTime.Round(100*time.Millisecond), m.Summary.ResumeTime.Round(100*time.Millisecond))
	s, sd := now, m.Systemd
	t.Logf("kernel %s; boot to %s %s (%s when hibernating and after the resume); initramfs in the guest %s; hibernate %s; resume %s",
		s.Kernel, sd.BootState, sd.BootToRunning.Round(100*time.Millisecond), sd.State, s.InitrdTime.Round(10*time.Millisecond),
		s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}

// noDepmod takes kernel-install's 50-depmod out of the systemd-boot guests (kernel-install's way:
// a file of its name in /etc/kernel/install.d), in the test's tree: it runs depmod -a for the
// kernel at every add, the package made that index already, and depmod of 6.12's 4,421 .ko.xz
// under emulation takes minutes.
var noDepmod = GuestFile{Path: "/etc/kernel/install.d/50-depmod.install", Data: []byte("#!/bin/sh\nexit 0\n"), Mode: 0o755}

// TestDebian13SystemdBoot is a Debian 13 UEFI machine booting systemd-boot, as an admin sets it
// up: bootctl install on the ESP, hibernate setup --write-boot-config (which makes
// /etc/kernel/cmdline with resume= from the running command line), hibernate initramfs build
// (whose boot loader hook, systemd-boot's post-update.d, has kernel-install copy our initramfs to
// the ESP and write the entry with /etc/kernel/cmdline). The entry's options and its initramfs on
// the ESP (byte-identical to ours) are read; every later boot goes OVMF → systemd-boot → that
// entry, with nothing of the harness's: systemd-boot's LoaderInfo and LoaderEntrySelected
// variables are read at each. It hibernates and resumes: the demo service has the same PID, the
// boot ID is the same and systemctl is-system-running says what it said before.
func TestDebian13SystemdBoot(t *testing.T) {
	root := debianRoot(t, debroot.SystemdBootTrixieGuest())
	ctx := timeout(t, 30*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFISystemdBoot(), Files(noDepmod))
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.InstallSystemdBoot, m.SetupSwap, m.BuildInitramfsInGuest, m.CheckSystemdBootEntry, m.PowerOffForFirmware)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckSystemdBootBoot, m.WaitSystemd, m.StartJob, m.HibernateCheck, m.NoteSystemState, m.HibernateNow, m.CheckImage)
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckSystemdBootBoot, m.CheckSystemdKept)
	if _, err := vm3.WaitConsole(ctx, resume.Starting+m.Guest.Release); err != nil {
		t.Fatalf("the resume's console has no %q: not our /init from the ESP: %v", resume.Starting, err)
	}
	s := m.Summary
	t.Logf("through OVMF and systemd-boot (kernel %s): hibernate %s, resume %s after power on", s.Kernel, s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}

// TestDebian13SystemdHibernateLocation is the desktop's hibernation on a Debian 13 UEFI machine
// resumed by our /init with nothing naming the resume device but systemd's own HibernateLocation
// EFI variable: systemctl hibernate with systemd-sleep alone (hibernate prepare's drop-in taken
// out the documented way, an empty file of its name in /etc), no resume= on the entry's command
// line, no resume device in the initramfs's config (setup without --write-boot-config; the swap
// partition activated by systemd's GPT auto-discovery). After the power-off the firmware's store
// holds the variable, the bytes the test computes from the guest's facts; the boot through
// systemd-boot resumes by it (/init says so and clears it before writing /sys/power/resume): the
// demo service has the same PID, the boot ID is the same, and the variable is gone, in the guest
// and in the store.
func TestDebian13SystemdHibernateLocation(t *testing.T) {
	systemdHibernateLocation(t)
}

// TestDebian13SystemdHibernateLocationSwapFile is TestDebian13SystemdHibernateLocation with the
// swap in a file on the root's ext4 (setup --file --fstab, no --write-boot-config): the variable
// systemd-sleep writes names the file system and the file's first page (resume_offset, which
// systemd computes itself), equal to setup's, and our /init resumes from that alone.
func TestDebian13SystemdHibernateLocationSwapFile(t *testing.T) {
	systemdHibernateLocation(t, SwapFile("/swapfile", "512M"))
}

func systemdHibernateLocation(t *testing.T, opts ...Option) {
	root := debianRoot(t, debroot.SystemdBootTrixieGuest())
	ctx := timeout(t, 30*time.Minute)
	noPrepare := GuestFile{Path: "/etc/systemd/system/" + sleepService + ".d/hibernate.conf", Data: []byte{}, Mode: 0o644}
	opts = append(append([]Option{DebianSystemd(root), UEFISystemdBoot()}, opts...), NoResumeInBootConfig(), Files(noDepmod, noPrepare))
	m := newMachine(t, ctx, opts...)
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.InstallSystemdBoot, m.SetupSwap, noResumeJSON, m.BuildInitramfsInGuest, m.CheckSystemdBootEntry, m.PowerOffForFirmware)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckSystemdBootBoot, noResumeParam("/proc/cmdline"), noLocation, m.WaitSystemd, m.StartJob, m.CheckCanHibernate, m.NoteSystemState)
	want := expectedLocation(t, ctx, m, vm2)
	do(t, ctx, vm2, m.SystemctlHibernate, m.CheckImage)
	storedLocationIs(t, m, want)
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckSystemdBootBoot, m.CheckSystemdKept)
	resumedByLocation(t, ctx, m, vm3)
	uuid, offset := locationOf(t, m)
	t.Logf("systemd's HibernateLocation (UUID=%s at page %d) resumed by our /init, %s after power on; the variable is gone after the resume",
		uuid, offset, m.Summary.ResumeTime.Round(100*time.Millisecond))
}
