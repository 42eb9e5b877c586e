package scenario

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	hibernatenow "github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// TestDebianUEFIHibernateLocation is the Debian 12 UEFI machine of TestDebianUEFIGrubRoundTrip
// with nothing naming the resume device for the next boot: hibernate setup without
// --write-boot-config (no resume= in /etc/default/grub, so none in grub.cfg nor on GRUB's command
// line; no resume device in the initramfs's config). hibernate now writes systemd's
// HibernateLocation EFI variable; the test computes the bytes systemd-sleep would write from the
// guest's facts (swap area UUID, os-release, kernel release) and finds exactly those in the
// firmware's variable store on the host once the guest is off, and their SHA-256 in what now
// said it read back in the guest before the power-off. The boot through the firmware resumes by
// the variable (/init says the resume device came from it, and clears it before writing
// /sys/power/resume), and after the resume the variable is gone in the guest and hibernate now
// says the boot cleared it.
func TestDebianUEFIHibernateLocation(t *testing.T) {
	root := debianRoot(t, debroot.SystemdEFIGuest())
	ctx := timeout(t, 25*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFIGrub(), NoResumeInBootConfig())
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, noResumeJSON, m.BuildInitramfsInGuest, m.InstallGrub, noResumeParam("/boot/grub/grub.cfg"), m.PowerOffForFirmware)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckFirmwareBoot, noResumeParam("/proc/cmdline"), noLocation, m.WaitSystemd, m.StartJob, m.checkNextBootByLocation, m.NoteSystemState)
	want := expectedLocation(t, ctx, m, vm2)
	do(t, ctx, vm2, m.HibernateNow, m.CheckImage)
	sum := fmt.Sprintf("%s%d bytes, sha256 %x, attributes %#x: ", hibernatenow.LocationWritten, len(want), sha256.Sum256(want), efivars.DefaultAttributes)
	if !slices.ContainsFunc(vm2.ConsoleLines(), func(l string) bool { return strings.Contains(l, sum) }) {
		t.Fatalf("before the power-off the console shows no %q: hibernate now did not read back what systemd-sleep writes", sum)
	}

	// The guest is off: the firmware's flash holds the variable, byte for byte.
	storedLocationIs(t, m, want)
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckFirmwareBoot, m.CheckSystemdKept)
	resumedByLocation(t, ctx, m, vm3, fmt.Sprintf(resume.ResumeDeviceIs, "UUID="+m.Setup.UUID, ""))
	out, err := vm3.ReadFile(ctx, NowOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sum, hibernatenow.LocationGone} {
		if !strings.Contains(string(out), s) {
			t.Fatalf("hibernate now said:\n%s\nwant %q", out, s)
		}
	}
	do(t, ctx, vm3, m.SaveJournal)
	t.Logf("resumed by the HibernateLocation EFI variable alone, %s after power on; the variable is gone after the resume", m.Summary.ResumeTime.Round(100*time.Millisecond))
}

// storedLocationIs checks, with the guest off, that the firmware's variable store holds
// HibernateLocation as want, byte for byte (what systemd-sleep writes).
func storedLocationIs(t *testing.T, m *Machine, want []byte) {
	t.Helper()
	stored, ok, err := ovmfVariableFile(m.Guest.Firmware.Vars, efivars.SystemdVendorGUID, "HibernateLocation")
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !bytes.Equal(stored, want) {
		t.Fatalf("the firmware's variable store %s holds HibernateLocation %v:\n%q\nwant what systemd-sleep writes:\n%q", m.Guest.Firmware.Vars, ok, stored, want)
	}
	t.Logf("after the power-off the firmware's store holds HibernateLocation, %d bytes, as systemd-sleep writes them: %s", len(stored), efivars.DecodeString(stored[4:]))
}

// resumedByLocation checks that the boot vm resumed by the variable alone: /init's lines in order
// (starting, the variable used, then also, the variable cleared before the resume write, the
// write), and that the variable is gone, in the guest and, once the guest is off, in the store.
func resumedByLocation(t *testing.T, ctx context.Context, m *Machine, vm *harness.VM, also ...string) {
	t.Helper()
	mark := -1
	uuid, offset := locationOf(t, m)
	lines := append([]string{resume.Starting + m.Guest.Release, fmt.Sprintf(resume.LocationUsed, uuid, offset)}, also...)
	for _, line := range append(lines, resume.LocationCleared+" (before writing"+resume.WritingResume+")", resume.WritingResume) {
		l, i, err := vm.WaitConsoleAfter(ctx, mark, line)
		if err != nil {
			t.Fatalf("the console shows no %q after line %d: %v", line, mark, err)
		}
		t.Logf("console: %s", strings.TrimSpace(l))
		mark = i
	}
	do(t, ctx, vm, noLocation)
	if b, ok, err := ovmfVariableFile(m.Guest.Firmware.Vars, efivars.SystemdVendorGUID, "HibernateLocation"); err != nil || ok {
		t.Fatalf("after the resume the firmware's variable store still holds HibernateLocation (%v): %q", err, b)
	}
}

// noResumeJSON checks that setup left no /etc/hibernate/resume.json (NoResumeInBootConfig): the
// initramfs built next names no resume device.
func noResumeJSON(ctx context.Context, vm *harness.VM) error {
	_, err := run(ctx, vm, "test", "!", "-e", "/etc/hibernate/resume.json")
	return err
}

// noResumeParam checks that the file (grub.cfg, /proc/cmdline) has no resume= or
// resume_offset=.
func noResumeParam(file string) Step {
	return func(ctx context.Context, vm *harness.VM) error {
		b, err := vm.ReadFile(ctx, file)
		if err != nil {
			return err
		}
		for _, w := range strings.Fields(string(b)) {
			if strings.HasPrefix(w, "resume=") || strings.HasPrefix(w, "resume_offset=") {
				return vm.Fail("%s has %s: this test is of a boot that nothing but the EFI variable tells where the image is", file, w)
			}
		}
		return nil
	}
}

// noLocation checks that the guest holds no HibernateLocation variable: its efivarfs file is
// absent, or reads empty. (Linux 6.1's efivarfs goes on listing, after a resume, a variable it
// created before the hibernation which the firmware no longer holds, the boot that resumed
// having cleared it; reading it gives nothing, "uncommitted".) efivarfs must be mounted: the
// folder lists the firmware's own variables.
func noLocation(ctx context.Context, vm *harness.VM) error {
	dir := efivars.Dir("/")
	r, err := run(ctx, vm, "sh", "-c", `ls "$1" | wc -l; if [ -e "$1/$2" ]; then wc -c < "$1/$2"; else echo absent; fi`, "sh", dir, efivars.HibernateLocationName)
	if err != nil {
		return err
	}
	f := strings.Fields(r.Stdout)
	switch {
	case len(f) != 2:
		return vm.Fail("listing %s: %q", dir, r.Stdout)
	case f[0] == "0":
		return vm.Fail("%s lists no variable: efivarfs is not mounted", dir)
	case f[1] != "absent" && f[1] != "0":
		b, _ := vm.ReadFile(ctx, efivars.Path("/", efivars.HibernateLocationName))
		return vm.Fail("the guest has a HibernateLocation EFI variable (%s bytes): %q", f[1], b)
	}
	return nil
}

// checkNextBootByLocation runs hibernate check, which must pass with its next-boot check counting
// on the variable: nothing else names the image's place.
func (m *Machine) checkNextBootByLocation(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, m.Command("check")...)
	if err != nil {
		return err
	}
	m.say("hibernate check:\n%s", indent(r.Stdout))
	if !strings.Contains(r.Stdout, "nothing names it for the next boot but systemd's HibernateLocation EFI variable, which hibernate now writes (UUID="+m.Setup.UUID+" at page 0)") {
		return vm.Fail("hibernate check's next-boot does not count on the HibernateLocation EFI variable:\n%s", r.Stdout)
	}
	return nil
}

// locationOf is the place setup reported for the image: the UUID of its resume= (the swap area's;
// for a swap file, its file system's) and its resume_offset.
func locationOf(t *testing.T, m *Machine) (string, uint64) {
	t.Helper()
	uuid, ok := strings.CutPrefix(m.Setup.Resume, "UUID=")
	if !ok {
		t.Fatalf("hibernate setup gave resume=%s, not a UUID", m.Setup.Resume)
	}
	return uuid, m.Setup.ResumeOffset
}

// expectedLocation is the efivarfs file systemd-sleep would write in the guest, from the guest's
// own facts: setup's place (locationOf), the running kernel's release, its os-release.
func expectedLocation(t *testing.T, ctx context.Context, m *Machine, vm *harness.VM) []byte {
	t.Helper()
	osr, err := vm.ReadFile(ctx, "/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	f, err := efivars.ParseOSRelease(osr)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := vm.ReadFile(ctx, "/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	uuid, offset := locationOf(t, m)
	h := efivars.HibernateLocation{UUID: uuid, Offset: offset, KernelVersion: strings.TrimSpace(string(rel)),
		OSReleaseID: f["ID"], OSReleaseImageID: f["IMAGE_ID"], OSReleaseVersionID: f["VERSION_ID"], OSReleaseImageVersion: f["IMAGE_VERSION"]}
	b, err := efivars.EncodeHibernateLocation(h)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := h.Marshal()
	t.Logf("expected HibernateLocation: %s (%d bytes with the attributes)", doc, len(b))
	return b
}
