package scenario

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianSecureBootRefuses is the same machine with Secure Boot on, as a laptop ships: OVMF
// with Microsoft's keys enrolled boots Debian's signed shim, GRUB and kernel, and the kernel
// locks itself down, which forbids hibernation (an unsigned image could replace the signed
// kernel). Measured, not assumed: the lockdown is read from the guest, hibernate check fails on
// it and says the fix, hibernate now refuses; /sys/power is as before, the swap area's first
// 64 KiB read from the host are byte-identical, and the job goes on in the same boot.
func TestDebianSecureBootRefuses(t *testing.T) {
	root := debianRoot(t, debroot.SystemdEFIGuest())
	ctx := timeout(t, 25*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFISecureBoot())
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, m.BuildInitramfsInGuest, m.InstallGrub, m.PowerOffForFirmware)
	vm2, info := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckFirmwareBoot, m.WaitSystemd, m.StartJob)
	lockdown, err := vm2.ReadFile(ctx, "/sys/kernel/security/lockdown")
	if err != nil {
		t.Fatal(err)
	}
	if l := strings.TrimSpace(string(lockdown)); !strings.Contains(l, "[integrity]") && !strings.Contains(l, "[confidentiality]") {
		t.Fatalf("/sys/kernel/security/lockdown is %q under Secure Boot: not locked down", l)
	}
	t.Logf("under Secure Boot: /sys/kernel/security/lockdown %s", strings.TrimSpace(string(lockdown)))
	swapBefore, powerBefore := swapHead(t, m), readPower(t, ctx, vm2)
	r, err := vm2.Run(ctx, m.Command("check")...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exit == 0 || !strings.Contains(r.Stdout, "lockdown") || !strings.Contains(r.Stdout, "Secure Boot is on") || !strings.Contains(r.Stdout, "mokutil --disable-validation") {
		t.Errorf("hibernate check: exit %d, want a failure on the lockdown with its fix:\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate check (exit %d):\n%s", r.Exit, indent(r.Stdout))
	if r, err = vm2.Run(ctx, m.Command("now", "--mode", "shutdown")...); err != nil {
		t.Fatal(err)
	}
	if r.Exit != 1 || !strings.Contains(r.Stdout+r.Stderr, "lockdown") || !strings.Contains(r.Stdout+r.Stderr, "hibernation would not come back") {
		t.Errorf("hibernate now: exit %d, want 1 with the lockdown reason\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate now refused:\n%s", indent(r.Stderr))
	samePower(t, powerBefore, readPower(t, ctx, vm2))
	jobGoesOn(t, ctx, vm2, info.BootID)
	if !bytes.Equal(swapBefore, swapHead(t, m)) {
		t.Errorf("the swap area's first 64 KiB changed on the host's disk")
	}
}

// TestDebianUEFIGrub is a Debian 12 UEFI machine, as a laptop boots: OVMF, Debian's shim and
// GRUB installed by the guest on its EFI system partition (grub-install --removable), the kernel
// and initramfs from its /boot as grub.cfg says. hibernate setup --write-boot-config puts resume=
// into /etc/default/grub and update-grub into grub.cfg: every boot through the firmware gets its
// command line from GRUB alone (the harness passes nothing). Debian 13's kernel (6.12) is
// installed beside Debian 12's (6.1), as a dist-upgrade leaves it (hibernate's kernel hook
// builds its initramfs), and GRUB's default is the newer one. Three round trips, each checking
// that the demo service has the same PID, the boot ID is the same and systemctl
// is-system-running says what it said before:
//  1. hibernate under GRUB's default, 6.12, and resume under it;
//  2. the upgrade people really do: hibernate under 6.1 (booted once by grub-reboot), boot GRUB's
//     default 6.12, whose /init reads the record and kexecs into 6.1 with 6.1's initramfs
//     (kexec_file_load under UEFI: the EFI memory map and runtime services handed on), and 6.1
//     resumes the image;
//  3. the reverse: hibernate under 6.12, the next boot 6.1 (grub-reboot, as when the new kernel
//     is the one in doubt), which kexecs into 6.12 to resume.
func TestDebianUEFIGrub(t *testing.T) {
	root := debianRoot(t, debroot.SystemdEFIGuest())
	newer, err := FindKernel(testutil.KernelCache(), TrixieFlavour)
	if err != nil {
		t.Fatalf("Debian 13's kernel (make kernels fetches it): %v", err)
	}
	ctx := timeout(t, 45*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFIGrub(), SecondKernel(newer))
	older, def := m.Guest.Release, newer.Release
	// The first boot installs GRUB, as an installer's last step does (PVH: no boot loader yet).
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, m.BuildInitramfsInGuest, m.InstallSecondKernel, m.InstallGrub)
	rounds := []struct{ hibernated, next string }{{def, def}, {older, def}, {def, older}}
	for i, c := range rounds {
		if c.hibernated != def {
			do(t, ctx, vm, m.BootOnce(c.hibernated))
		}
		do(t, ctx, vm, m.PowerOffForFirmware)
		vm2, _ := boot(t, ctx, m, "")
		if m.Release != c.hibernated {
			t.Fatalf("round %d: GRUB booted %s, want %s", i+1, m.Release, c.hibernated)
		}
		do(t, ctx, vm2, m.CheckFirmwareBootOf(c.hibernated), m.WaitSystemd, m.StartJob, m.HibernateCheck, m.NoteSystemState)
		if c.next != def {
			do(t, ctx, vm2, m.BootOnce(c.next))
		}
		do(t, ctx, vm2, m.HibernateNow, m.CheckImage)
		vm = resumeBoot(t, ctx, m, "")
		do(t, ctx, vm, m.CheckFirmwareBootOf(c.next), m.CheckSystemdKept)
		want := []string{resume.Starting + c.next, resume.KexecInto + c.hibernated, resume.KexecLoaded, resume.Starting + c.hibernated}
		if c.next == c.hibernated {
			want = want[:1]
			for _, l := range vm.ConsoleLines() {
				if strings.Contains(l, resume.KexecInto) {
					t.Errorf("round %d: a kexec where the kernel that hibernated booted: %s", i+1, l)
				}
			}
		}
		mark := -1
		for _, w := range want {
			line, j, err := vm.WaitConsoleAfter(ctx, mark, w)
			if err != nil {
				t.Fatalf("round %d: the console shows no %q after line %d: %v", i+1, w, mark, err)
			}
			t.Logf("round %d, console: %s", i+1, strings.TrimSpace(line))
			mark = j
		}
		t.Logf("round %d: hibernated under %s (%s), booted %s through UEFI and GRUB, resumed %s after power on", i+1, c.hibernated,
			m.Summary.HibernateTime.Round(100*time.Millisecond), c.next, m.Summary.ResumeTime.Round(100*time.Millisecond))
	}
}

// TestDebianBIOSGrubRoundTrip is a Debian 12 BIOS machine: SeaBIOS (QEMU's own BIOS), GRUB
// installed by the guest into its GPT disk (grub-install --target=i386-pc: its boot code in the
// MBR, its core image in the BIOS boot partition), grub.cfg written by update-grub after
// hibernate setup --write-boot-config. The boot that hibernates and the one that resumes get
// their command line from GRUB alone; after the resume the demo service has the same PID, the
// boot ID is the same, and systemctl is-system-running says what it said before.
func TestDebianBIOSGrubRoundTrip(t *testing.T) {
	root := debianRoot(t, debroot.SystemdBIOSGuest())
	ctx := timeout(t, 25*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), BIOSGrub())
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, m.BuildInitramfsInGuest, m.InstallGrub, m.PowerOffForFirmware)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckFirmwareBoot, m.WaitSystemd, m.StartJob, m.HibernateCheck, m.NoteSystemState, m.HibernateNow, m.CheckImage)
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckFirmwareBoot, m.CheckSystemdKept)
	s := m.Summary
	t.Logf("through SeaBIOS and GRUB: hibernate %s, resume %s after power on", s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}
