package hibernate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The UUID of swapPage's area, which the variable names.
const testSwapUUID = "6f1c2a7e-0d4b-4b8e-9a53-2f6c1d0e9b11"

// efiReady is ready on a UEFI machine: efivarfs (plain files here), a Debian 12 os-release.
func efiReady(t *testing.T) *faketree.Tree {
	tr := ready(t)
	tr.Mkdir("sys/firmware/efi/efivars")
	tr.Write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
	return tr
}

// wantLocation is the file systemd-sleep would write on efiReady, hibernating to its vda2.
func wantLocation(t *testing.T) []byte {
	t.Helper()
	b, err := efivars.EncodeHibernateLocation(efivars.HibernateLocation{UUID: testSwapUUID, KernelVersion: testRelease, OSReleaseID: "debian", OSReleaseVersionID: "12"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func locationFile(tr *faketree.Tree) ([]byte, error) {
	return os.ReadFile(efivars.Path(tr.Root, efivars.HibernateLocationName))
}

// atState runs during the write of disk to sys/power/state (the machine "off"), then lets the
// write return err.
func atState(o *Options, during func(), err error) {
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			during()
			if err != nil {
				return err
			}
		}
		return fs.WriteString(file, value)
	}
}

// Now writes the variable systemd-sleep would, byte for byte, just before the write of disk (it
// is there while the machine is "off"), says so having read it back, and clears it after the
// resume when the boot did not.
func TestNowWritesHibernateLocation(t *testing.T) {
	tr := efiReady(t)
	var during []byte
	var out strings.Builder
	o := Options{Mode: "shutdown", Out: &out}
	atState(&o, func() { during, _ = locationFile(tr) }, nil)
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := wantLocation(t)
	if !bytes.Equal(during, want) {
		t.Fatalf("during the write of disk the variable is\n%q\nwant\n%q", during, want)
	}
	if b, err := locationFile(tr); err == nil {
		t.Fatalf("the variable is still there after the resume: %q", b)
	}
	line := fmt.Sprintf("%s%d bytes, sha256 %x, attributes 0x7: %s", LocationWritten, len(want), sha256.Sum256(want), res.Location)
	if !strings.Contains(out.String(), line) || !strings.Contains(res.Location, `"uuid":"`+testSwapUUID+`","offset":0`) {
		t.Fatalf("said:\n%s\nwant %q", out.String(), line)
	}
	if res.LocationAfter != LocationClearedNow+"resumed, and the boot left it" {
		t.Fatalf("after the resume: %q", res.LocationAfter)
	}
	steps := res.Plan.Steps
	if n := len(steps); n < 3 || steps[n-2].Kind != ActSetLocation || steps[n-1].Kind != ActHibernate || steps[n-3].Kind != ActSync {
		t.Fatalf("plan %v: want the variable written after the sync, just before the write of disk", res.Plan.Lines())
	}
}

// The boot that resumed cleared the variable (as /init and systemd's initrd do): Now says so.
func TestNowSaysTheBootClearedTheLocation(t *testing.T) {
	tr := efiReady(t)
	o := Options{Mode: "shutdown"}
	atState(&o, func() {
		if _, err := efivars.ClearHibernateLocation(tr.Root); err != nil {
			t.Fatal(err)
		}
	}, nil)
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.LocationAfter != LocationGone {
		t.Fatalf("after the resume: %q, want %q", res.LocationAfter, LocationGone)
	}
}

// While the machine was off another system hibernated and wrote its own variable (a dual boot):
// it is that system's to resume, and stays, byte for byte.
func TestNowLeavesAnotherSystemsLocation(t *testing.T) {
	tr := efiReady(t)
	var theirs []byte
	o := Options{Mode: "shutdown"}
	atState(&o, func() {
		h := efivars.HibernateLocation{UUID: "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31", OSReleaseID: "fedora"}
		if err := efivars.WriteHibernateLocation(tr.Root, h); err != nil {
			t.Fatal(err)
		}
		theirs, _ = locationFile(tr)
	}, nil)
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := locationFile(tr); !bytes.Equal(b, theirs) || !strings.Contains(res.LocationAfter, "left in place") {
		t.Fatalf("variable %q, said %q: want the other system's kept", b, res.LocationAfter)
	}
}

// The write of disk fails: the variable is removed again (systemd-sleep's
// clear_efi_hibernate_location_and_warn), with the settings.
func TestNowClearsLocationOnFailure(t *testing.T) {
	tr := efiReady(t)
	var out strings.Builder
	o := Options{Mode: "shutdown", ImageSize: "min", Out: &out}
	atState(&o, func() {}, errors.New("EBUSY"))
	res, err := Now(tr.FS(), o)
	if err == nil || !strings.Contains(err.Error(), "EBUSY") {
		t.Fatalf("Now = %v, want the state write's error", err)
	}
	if b, err := locationFile(tr); err == nil {
		t.Fatalf("the variable is still there after the failure: %q", b)
	}
	if res.LocationAfter != LocationClearedNow+"the hibernation failed" || !strings.Contains(out.String(), res.LocationAfter) {
		t.Fatalf("said %q:\n%s", res.LocationAfter, out.String())
	}
	if got := tr.Read("sys/power/image_size"); got != "423053312" {
		t.Fatalf("/sys/power/image_size = %q after the failure", got)
	}
}

// A failure before the variable's step leaves it unwritten, and a variable that was there
// before (a stale one) untouched: nothing to undo.
func TestNowFailureBeforeTheLocationStep(t *testing.T) {
	tr := efiReady(t)
	stale := efivars.HibernateLocation{UUID: testSwapUUID, OSReleaseID: "debian", KernelVersion: "6.1.0-50-amd64"}
	if err := efivars.WriteHibernateLocation(tr.Root, stale); err != nil {
		t.Fatal(err)
	}
	before, _ := locationFile(tr)
	o := Options{Mode: "shutdown", ImageSize: "min"}
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/image_size" {
			return errors.New("EINVAL")
		}
		return fs.WriteString(file, value)
	}
	if _, err := Now(tr.FS(), o); err == nil {
		t.Fatal("Now succeeded")
	}
	if b, _ := locationFile(tr); !bytes.Equal(b, before) {
		t.Fatalf("variable %q, want it as it was: %q", b, before)
	}
}

// A dry run shows the write and the clear, and writes nothing.
func TestNowDryRunWritesNoLocation(t *testing.T) {
	tr := efiReady(t)
	res, err := Now(tr.FS(), Options{Mode: "shutdown", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(res.Plan.Lines(), "\n")
	for _, want := range []string{
		"sync the file systems\nwrite systemd's HibernateLocation EFI variable /sys/firmware/efi/efivars/HibernateLocation-8cf2644b-4b0b-428f-9387-6d876050dc67 (best effort: the next boot is told the place otherwise): {\"uuid\":\"" + testSwapUUID + "\",\"offset\":0,",
		"\"osReleaseId\":\"debian\",\"osReleaseVersionId\":\"12\"}\nwrite disk to /sys/power/state",
		"clear /sys/firmware/efi/efivars/HibernateLocation-8cf2644b-4b0b-428f-9387-6d876050dc67, unless another system's by then",
	} {
		if !strings.Contains(lines, want) {
			t.Fatalf("plan:\n%s\nwant %q", lines, want)
		}
	}
	if ents, _ := os.ReadDir(efivars.Dir(tr.Root)); len(ents) != 0 {
		t.Fatalf("a dry run wrote %v", ents)
	}
}

// The canary (test_resume) writes no variable: no boot is to look for its image.
func TestPlanCanaryWritesNoLocation(t *testing.T) {
	tr := efiReady(t)
	rep := Check(tr.FS())
	f, err := readFacts(tr.FS(), rep, Options{NoHooks: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(f, Options{Mode: "test_resume", testResume: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Kind == ActSetLocation {
			t.Fatalf("plan %v", p.Lines())
		}
	}
}

// Without efivarfs mounted the variable cannot be written: a note in the plan, and the
// hibernation goes on by what names the image (here our /init's scan).
func TestNowNotesAnUnwritableLocation(t *testing.T) {
	tr := efiReady(t)
	if err := os.Remove(efivars.Dir(tr.Root)); err != nil {
		t.Fatal(err)
	}
	res, err := Now(tr.FS(), Options{Mode: "shutdown", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Join(res.Plan.Lines(), "\n"); !strings.Contains(lines, "leave out: systemd's HibernateLocation EFI variable, which cannot be written (/sys/firmware/efi/efivars is not there") {
		t.Fatalf("plan:\n%s", lines)
	}
}

// ourInitramfsFor writes our initramfs with a config naming os-release fields osr (JSON after
// "modules": [], "" for none).
func ourInitramfsFor(t *testing.T, tr *faketree.Tree, osr string) {
	cfg := `{"format": 2, "kernel_release": "` + testRelease + `", "modules": []` + osr + `}` + "\n"
	writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "zstd", testutil.CPIO(t,
		cpio.Symlink("init", "bbin/hibernate-init"), cpio.StaticFile("etc/hibernate/initramfs.json", cfg, 0o644))))
}

// A variable that cannot be written: when the next boot finds the image otherwise (here our
// /init's scan), the failure is said and the hibernation goes on, as systemd-sleep goes on with
// resume= set; when the next boot counts on the variable alone (a swap file's offset, our /init
// built for this system), the hibernation stops there, nothing left changed.
func TestNowWhenTheLocationCannotBeWritten(t *testing.T) {
	for _, needed := range []bool{false, true} {
		tr := efiReady(t)
		if needed {
			ourInitramfsFor(t, tr, `, "os_release": {"id": "debian"}`)
			tr.Write("sys/power/resume_offset", "34816\n")
		}
		// A folder where the variable's file goes: the write fails.
		tr.Mkdir("sys/firmware/efi/efivars/" + efivars.HibernateLocationName)
		var out strings.Builder
		o := Options{Mode: "shutdown", Out: &out}
		_, err := Now(tr.FS(), o)
		state := tr.Read("sys/power/state")
		switch {
		case !needed && (err != nil || state != "disk" || !strings.Contains(out.String(), "going on without it")):
			t.Fatalf("not needed: Now = %v, state %q; said:\n%s", err, state, out.String())
		case needed && (err == nil || !strings.Contains(err.Error(), "EFI variable") || state != "freeze mem disk"):
			t.Fatalf("needed: Now = %v, state %q; want a failure before the write of disk", err, state)
		}
		if got := tr.Read("sys/power/disk"); got != "platform" {
			t.Fatalf("needed %v: /sys/power/disk = %q, want platform back", needed, got)
		}
	}
}

// The next boot of a swap file, with nothing naming it: our /init built for this system finds it
// through the variable; one that names no os-release (an older build) cannot, and the check
// says why.
func TestNextBootByLocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		osr    string
		efi    bool
		ok     bool
		detail string
	}{
		{"ours, built for this system", `, "os_release": {"id": "debian"}`, true, true, "nothing names it for the next boot but systemd's HibernateLocation EFI variable, which hibernate now writes (UUID=" + testSwapUUID + " at page 34816)"},
		{"ours, built for another", `, "os_release": {"id": "fedora"}`, true, false, `its /init would not use the HibernateLocation EFI variable: HibernateLocation was written by another system: its ID is "debian"`},
		{"ours, an older build", ``, true, false, "its /init (hibernate's) names no os-release"},
		{"no UEFI", `, "os_release": {"id": "debian"}`, false, false, "cannot be found by a scan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			if tc.efi {
				tr = efiReady(t)
			}
			ourInitramfsFor(t, tr, tc.osr)
			tr.Write("sys/power/resume_offset", "34816\n") // a swap file's header page, as the kernel is set
			c := check(t, tr, "next-boot")
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
				t.Fatalf("next-boot = %+v, want ok %v saying %q", c, tc.ok, tc.detail)
			}
		})
	}
}

// The next boot of a swap file, with nothing naming it, through systemd's initrd (Debian 13's
// dracut layout): it reads the variable only when it is systemd 255 or later with the resume
// module's parts, can mount efivarfs, and its own os-release has this system's ID, which Debian
// 13's dracut does not give it (ID=dracut). Each reason is said.
func TestNextBootBySystemdInitrd(t *testing.T) {
	const shared = "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so"
	const efivarfsMod = "usr/lib/modules/6.12.117+deb13-amd64/kernel/fs/efivarfs/efivarfs.ko.xz"
	for _, tc := range []struct {
		name    string
		release string
		drop    []string
		add     []cpio.Record
		builtin bool
		ok      bool
		detail  string
	}{
		{"Debian 13's dracut", testutil.DracutInitrdRelease, nil, nil, false, false,
			`its /init is systemd, which would not resume from the HibernateLocation EFI variable: it takes the variable only as its own system's, and the variable's ID will be "debian", the initramfs's /etc/os-release says "dracut" (dracut's base module writes ID=dracut`},
		{"systemd's initrd of this system", "ID=debian\n", nil, nil, false, true,
			"and this initramfs's systemd 257 (/usr/lib/systemd/system-generators/systemd-hibernate-resume-generator, /" + efivarfsMod + "; its /etc/os-release matches) reads"},
		{"without the generator", "ID=debian\n", []string{"usr/lib/systemd/system-generators/systemd-hibernate-resume-generator", "usr/lib/systemd/system/systemd-hibernate-resume.service"}, nil, false, false,
			"it has no systemd-hibernate-resume-generator, systemd-hibernate-resume.service (dracut: its resume module"},
		{"systemd 254", "ID=debian\n", []string{shared}, []cpio.Record{cpio.StaticFile("usr/lib/systemd/libsystemd-shared-254.so", "elf", 0o755)}, false, false,
			"systemd 254's initrd does not read it as hibernate now writes it"},
		{"no efivarfs", "ID=debian\n", []string{efivarfsMod}, nil, false, false,
			"it has no efivarfs module to read it with, and " + testRelease + " does not have efivarfs built in"},
		{"efivarfs built in", "ID=debian\n", []string{efivarfsMod}, nil, true, true,
			"efivarfs built into " + testRelease},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := efiReady(t)
			recs := append(testutil.DracutSystemdInitrd(tc.release, tc.drop...), tc.add...)
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "zstd", testutil.CPIO(t, recs...)))
			if tc.builtin {
				tr.Write("lib/modules/"+testRelease+"/modules.builtin", "kernel/fs/efivarfs/efivarfs.ko\nkernel/fs/ext4/ext4.ko\n")
			}
			tr.Write("sys/power/resume_offset", "34816\n") // a swap file's header page, as the kernel is set
			c := check(t, tr, "next-boot")
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
				t.Fatalf("next-boot = %+v, want ok %v saying %q", c, tc.ok, tc.detail)
			}
		})
	}
}
