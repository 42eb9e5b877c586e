package scenario

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	hb "github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// dracutRoot is debroot.SystemdBootDracutTrixieGuest with Debian 13's kernel package (the one
// make kernels fetched) installed by dpkg, whose hook has dracut build /boot/initrd.img-R:
// cached beside the root, made once (about a minute).
func dracutRoot(t *testing.T) debroot.Root {
	t.Helper()
	artifacts(t)
	k, err := FindKernel(testutil.KernelCache(), TrixieFlavour)
	if err != nil {
		t.Fatalf("Debian 13's kernel (make kernels fetches it): %v", err)
	}
	if k.Deb == "" {
		t.Fatalf("no .deb of %s %s beside it in the kernel cache (make kernels fetches it)", k.Release, k.Version)
	}
	kr, err := debroot.EnsureKernelRoot(timeout(t, 30*time.Minute), debroot.SystemdBootDracutTrixieGuest(), []string{k.Deb}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	root, err := kr.AsRoot()
	if err != nil {
		t.Fatal(err)
	}
	made := "cached"
	if kr.Built {
		made = "made in " + kr.Took.Round(time.Second).String()
	}
	t.Logf("debian: root %s with %s installed (dracut's initramfs): %s", root.Dir, k.Deb, made)
	return root
}

// TestDebian13DracutSystemdInitrd is hibernate now on a Debian 13 UEFI machine that boots the
// distribution's initramfs: dracut's (106-6), which has systemd (257) in it, from the entry
// kernel-install wrote for systemd-boot. hibernate's /init is not on this machine at all.
//
//  1. Nothing names the swap for the next boot (setup without --write-boot-config). systemd's
//     initrd would take the HibernateLocation EFI variable that hibernate now writes, but only
//     as its own system's, and Debian 13's dracut gives it ID=dracut (dracut-ng issue 870): it
//     would boot afresh and the swap be reused, the session lost (systemd issue 36888).
//     hibernate check says so, read from the ESP's initramfs; hibernate now refuses, nothing
//     changed: /sys/power as before, the swap area's first 64 KiB byte-identical on the host,
//     no variable, and the job goes on in the same boot.
//  2. The check's fix: setup --write-boot-config (resume= into /etc/kernel/cmdline), then
//     kernel-install writes the entry again. hibernate now hibernates, writing the variable as
//     well (best effort: the firmware's store holds it after the power-off, as systemd-sleep
//     writes it), and dracut's systemd initrd resumes by resume= (our /init's line is nowhere on
//     the console): the same service PID, boot ID and state. That initrd leaves the variable
//     (not its system's); hibernate now clears it after the resume.
func TestDebian13DracutSystemdInitrd(t *testing.T) {
	root := dracutRoot(t)
	ctx := timeout(t, 30*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFISystemdBoot(), NoResumeInBootConfig(), Files(noDepmod))
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.InstallSystemdBoot, m.SetupSwap, m.KernelInstallEntry, m.CheckSystemdBootEntry, m.PowerOffForFirmware)
	vm2, info := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckSystemdBootBoot, noResumeParam("/proc/cmdline"), noLocation, m.WaitSystemd, m.StartJob)

	// 1: refused, nothing changed.
	swapBefore, powerBefore := swapHead(t, m), readPower(t, ctx, vm2)
	r, err := vm2.Run(ctx, m.Command("check")...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exit == 0 || !strings.Contains(r.Stdout, `the initramfs's /etc/os-release says "dracut"`) || !strings.Contains(r.Stdout, "dracut-ng issue 870") {
		t.Errorf("hibernate check: exit %d, want a failure saying dracut's initrd would not take the variable:\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate check (exit %d):\n%s", r.Exit, indent(r.Stdout))
	if r, err = vm2.Run(ctx, m.Command("now", "--mode", "shutdown")...); err != nil {
		t.Fatal(err)
	}
	if r.Exit != 1 || !strings.Contains(r.Stdout+r.Stderr, "hibernation would not come back") {
		t.Errorf("hibernate now: exit %d, want 1: hibernation would not come back\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate now refused:\n%s", indent(r.Stderr))
	samePower(t, powerBefore, readPower(t, ctx, vm2))
	do(t, ctx, vm2, noLocation)
	jobGoesOn(t, ctx, vm2, info.BootID)
	if !bytes.Equal(swapBefore, swapHead(t, m)) {
		t.Errorf("the swap area's first 64 KiB changed on the host's disk")
	}

	// 2: the fix, then the round trip through dracut's initrd.
	r, err = run(ctx, vm2, m.Command("setup", "--device", m.swapDevice(), "--write-boot-config", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &m.Setup); err != nil || !strings.Contains(m.Setup.KernelParams, "resume=") {
		t.Fatalf("hibernate setup --write-boot-config --json: %v: %q", err, r.Stdout)
	}
	m.Summary.SetupResumeArgs = m.Setup.KernelParams
	do(t, ctx, vm2, m.KernelInstallEntry, m.CheckSystemdBootEntry, m.HibernateCheck, m.NoteSystemState)
	want := expectedLocation(t, ctx, m, vm2)
	do(t, ctx, vm2, m.HibernateNow, m.CheckImage)
	storedLocationIs(t, m, want)
	// The resumed kernel's command line is the hibernated boot's, which began before the entry
	// had resume=: CheckSystemdBootBoot is to find no more than that boot's in it.
	m.Setup.KernelParams = ""
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckSystemdBootBoot, m.CheckSystemdKept)
	if _, err := vm3.WaitConsole(ctx, KernelImageLoaded); err != nil {
		t.Fatalf("the console has no %q: %v", KernelImageLoaded, err)
	}
	for _, l := range vm3.ConsoleLines() {
		if strings.Contains(l, resume.Starting) {
			t.Fatalf("our /init ran: %q", l)
		}
	}
	out := nowFinished(t, ctx, vm3)
	if !strings.Contains(out, hb.LocationClearedNow) {
		t.Errorf("hibernate now did not say it cleared the variable dracut's initrd left:\n%s", out)
	}
	do(t, ctx, vm3, noLocation)
	t.Logf("dracut's systemd initrd resumed by resume= (%s), %s after power on; the variable it left cleared by hibernate now",
		m.Summary.SetupResumeArgs, m.Summary.ResumeTime.Round(100*time.Millisecond))
}
