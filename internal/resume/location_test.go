package resume

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// debianConfig is the config of an initramfs built on a Debian system (os-release ID=debian, no
// IMAGE_ID), naming no resume device.
func debianConfig() config.Config {
	return config.Config{Format: config.Format, OSRelease: &config.OSRelease{ID: "debian"}}
}

// debianLocation is what systemd-sleep (and hibernate now) writes on that system for the swap
// partition of efiMachine.
func debianLocation() efivars.HibernateLocation {
	return efivars.HibernateLocation{UUID: swapUUID, KernelVersion: "6.1.0-57-amd64", OSReleaseID: "debian", OSReleaseVersionID: "12"}
}

// efiMachine is a UEFI machine on a fake tree: /sys/firmware/efi/efivars (plain files), the disk
// vda with a swap partition vda2 of UUID swapUUID, holding an image when image is set.
func efiMachine(t *testing.T, image bool) (*Machine, *faketree.Tree, *strings.Builder) {
	t.Helper()
	tr := faketree.New(t)
	page, err := swsusp.MkswapPage(32<<20, swsusp.MkswapOptions{UUID: mustUUID(t, swapUUID)})
	if err != nil {
		t.Fatal(err)
	}
	if image {
		copy(page[4076:], "SWAPSPACE2")
		copy(page[4086:], "S1SUSPEND\x00")
		page[4064] = 1
	}
	tr.Disk("vda", 254, faketree.Part{Size: 16 << 20}, faketree.Part{Size: 32 << 20, Content: page})
	tr.Mkdir("sys/firmware/efi/efivars")
	out := &strings.Builder{}
	var clock time.Duration
	var mu sync.Mutex
	b := &Machine{FS: tr.FS(), Out: out, Release: "6.1.0-57-amd64",
		Now:   func() time.Duration { mu.Lock(); defer mu.Unlock(); return clock },
		Sleep: func(d time.Duration) { mu.Lock(); clock += d; mu.Unlock() }}
	return b, tr, out
}

func writeLocation(t *testing.T, tr *faketree.Tree, h efivars.HibernateLocation) []byte {
	t.Helper()
	if err := efivars.WriteHibernateLocation(tr.Root, h); err != nil {
		t.Fatal(err)
	}
	return locationBytes(t, tr)
}

// locationBytes is the variable's file, nil when there is none.
func locationBytes(t *testing.T, tr *faketree.Tree) []byte {
	t.Helper()
	b, err := os.ReadFile(efivars.Path(tr.Root, efivars.HibernateLocationName))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Without resume= and without a resume device in the config, a variable of this system names
// the resume device; the resume clears it before writing /sys/power/resume.
func TestLocationNamesTheResumeDevice(t *testing.T) {
	b, tr, out := efiMachine(t, true)
	writeLocation(t, tr, debianLocation())
	in := b.Settle(Params{Wait: time.Second}, debianConfig(), nil)
	if !in.FromLocation || in.Location == nil || in.DeviceSpec != "UUID="+swapUUID || in.Device != "/dev/vda2" || in.Scanned {
		t.Fatalf("settled on %q (%q, from the variable %v, scanned %v)\n%s", in.Device, in.DeviceSpec, in.FromLocation, in.Scanned, out)
	}
	if want := fmt.Sprintf(LocationUsed, swapUUID, 0); !strings.Contains(out.String(), want) {
		t.Fatalf("console:\n%s\nwant %q", out, want)
	}
	if locationBytes(t, tr) == nil {
		t.Fatal("the variable was cleared before the decision")
	}
	b.resumeInPlace(in, "root=/dev/vda1", nil)
	if locationBytes(t, tr) != nil {
		t.Fatal("the variable is still there after the resume was started")
	}
	if got := tr.Read("sys/power/resume"); got != "254:2" {
		t.Fatalf("/sys/power/resume = %q, want 254:2", got)
	}
	console := out.String()
	cleared, writing := strings.Index(console, LocationCleared+" (before writing"+WritingResume+")"), strings.Index(console, WritingResume+"\n")
	if cleared < 0 || writing < 0 || cleared > writing {
		t.Fatalf("console:\n%s\nwant the variable cleared before the write to /sys/power/resume", console)
	}
}

// A variable of another system, or one this initramfs cannot match, is not used and is left in
// place, byte for byte; the boot goes on as without it (a scan, which leaves an image it cannot
// tie to this root).
func TestLocationNotThisSystemsIsLeft(t *testing.T) {
	fedora := debianLocation()
	fedora.OSReleaseID = "fedora"
	withImageID := debianLocation()
	withImageID.OSReleaseImageID = "appliance"
	for _, tc := range []struct {
		name string
		h    efivars.HibernateLocation
		cfg  config.Config
		say  string
	}{
		{"another ID", fedora, debianConfig(), LocationNotThisSystem + `HibernateLocation was written by another system: its ID is "fedora"`},
		{"an IMAGE_ID this system has not", withImageID, debianConfig(), LocationNotThisSystem + `HibernateLocation was written by another system: its IMAGE_ID is "appliance"`},
		{"an initramfs naming no os-release", debianLocation(), config.Config{Format: config.Format}, LocationUnknownSystem + "UUID=" + swapUUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, tr, out := efiMachine(t, true)
			before := writeLocation(t, tr, tc.h)
			in := b.Settle(Params{Wait: time.Second, Root: "/dev/vda1"}, tc.cfg, nil)
			if in.FromLocation || in.Location != nil || !in.Scanned {
				t.Fatalf("from the variable %v, location %v, scanned %v: want a scan, as without it\n%s", in.FromLocation, in.Location, in.Scanned, out)
			}
			if !strings.Contains(out.String(), tc.say) {
				t.Fatalf("console:\n%s\nwant %q", out, tc.say)
			}
			d := Decide(in)
			if err := b.bootWithoutImage(in, d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(locationBytes(t, tr), before) || strings.Contains(out.String(), LocationCleared) {
				t.Fatalf("the variable changed or was cleared (decision %s):\n%s", d.Action, out)
			}
		})
	}
}

// A variable that does not parse is said and not used.
func TestLocationUnreadable(t *testing.T) {
	b, tr, out := efiMachine(t, false)
	if err := efivars.WriteVariable(tr.Root, efivars.HibernateLocationName, efivars.DefaultAttributes, efivars.EncodeString(`{"uuid":"nope"}`)); err != nil {
		t.Fatal(err)
	}
	in := b.Settle(Params{Wait: time.Second}, debianConfig(), nil)
	if in.Location != nil || in.FromLocation || !strings.Contains(out.String(), LocationUnreadable) {
		t.Fatalf("location %v, from it %v\n%s\nwant it said unreadable and unused", in.Location, in.FromLocation, out)
	}
}

// resume= on the command line wins: a variable that names another place gives a warning, one
// that names the same place none; either is cleared once the decision is carried out.
func TestResumeParamWinsOverLocation(t *testing.T) {
	elsewhere := debianLocation()
	elsewhere.UUID = "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31"
	for _, tc := range []struct {
		name string
		h    efivars.HibernateLocation
		warn bool
	}{
		{"another device", elsewhere, true},
		{"the same device", debianLocation(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, tr, out := efiMachine(t, false)
			writeLocation(t, tr, tc.h)
			in := b.Settle(Params{Resume: "/dev/vda2", Wait: time.Second}, debianConfig(), nil)
			if in.FromLocation || in.Location == nil || in.Device != "/dev/vda2" || in.DeviceSpec != "/dev/vda2" {
				t.Fatalf("settled on %q (%q), from the variable %v\n%s", in.Device, in.DeviceSpec, in.FromLocation, out)
			}
			if got := strings.Contains(out.String(), LocationElsewhere); got != tc.warn {
				t.Fatalf("warning %v, want %v:\n%s", got, tc.warn, out)
			}
			if tc.warn && !strings.Contains(out.String(), "UUID="+elsewhere.UUID+" (no device here) at page 0, resume= names /dev/vda2 at page 0: going by resume=") {
				t.Fatalf("console:\n%s\nwant the warning to name both places", out)
			}
			d := Decide(in) // a plain swap area: booting
			if d.Action != Boot {
				t.Fatalf("decision %s: %s", d.Action, d.Reason)
			}
			if err := b.bootWithoutImage(in, d); err != nil {
				t.Fatal(err)
			}
			if locationBytes(t, tr) != nil || !strings.Contains(out.String(), LocationCleared+" (no image resumed from it: booting)") {
				t.Fatalf("the variable is still there, or its clearing not said:\n%s", out)
			}
		})
	}
}

// A variable of this system whose device holds no image (or is not there at all) is stale: it
// is cleared as the boot goes on, so that it resumes nothing later.
func TestStaleLocationIsCleared(t *testing.T) {
	gone := debianLocation()
	gone.UUID = "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31"
	for _, tc := range []struct {
		name string
		h    efivars.HibernateLocation
		want string // in the decision
	}{
		{"a plain swap area", debianLocation(), NoImage + "/dev/vda2"},
		{"a device not there", gone, fmt.Sprintf(DeviceNotFound, "UUID="+gone.UUID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, tr, out := efiMachine(t, false)
			writeLocation(t, tr, tc.h)
			in := b.Settle(Params{Wait: time.Second}, debianConfig(), nil)
			d := Decide(in)
			if d.Action != Boot || !strings.Contains(d.Reason, tc.want) {
				t.Fatalf("decision %s: %s; want a boot, %q", d.Action, d.Reason, tc.want)
			}
			if err := b.bootWithoutImage(in, d); err != nil {
				t.Fatal(err)
			}
			if locationBytes(t, tr) != nil {
				t.Fatalf("the variable is still there:\n%s", out)
			}
		})
	}
}

// An image not resumed (noresume) is discarded, and the variable that named it cleared; with
// hibernate.keep=1 the machine powers off with both kept (Init returns before bootWithoutImage).
func TestDiscardClearsLocation(t *testing.T) {
	b, tr, out := efiMachine(t, true)
	writeLocation(t, tr, debianLocation())
	in := b.Settle(Params{NoResume: true, Wait: time.Second}, debianConfig(), nil)
	d := Decide(in)
	if d.Action != Discard {
		t.Fatalf("decision %s: %s", d.Action, d.Reason)
	}
	if err := b.bootWithoutImage(in, d); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(tr.FS().Path("dev/vda2"))
	if err != nil {
		t.Fatal(err)
	}
	if swsusp.DetectSignature(page[:swsusp.PageSize]) != swsusp.SigSwap || locationBytes(t, tr) != nil {
		t.Fatalf("signature %s, variable %q after the discard:\n%s", swsusp.DetectSignature(page[:swsusp.PageSize]), locationBytes(t, tr), out)
	}
	in.Params.Keep = true
	if d := Decide(in); d.Action != PowerOff {
		t.Fatalf("with hibernate.keep=1: %s", d.Action)
	}
}

// A kexec for an image found through the variable passes its place on the command line: the
// kernel kexec'ed into finds the image though its initramfs may not read the variable, and the
// variable may be cleared by then.
func TestKexecCmdlineCarriesTheLocation(t *testing.T) {
	h := debianLocation()
	h.Offset = 34816
	in := Input{Location: &h, FromLocation: true}
	if got, want := kexecCmdline(locationCmdline(in, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro")), "root=/dev/vda1 ro resume=UUID="+swapUUID+" resume_offset=34816 "+KexecParam; got != want {
		t.Fatalf("kexec command line %q, want %q", got, want)
	}
	in.FromLocation = false // resume= named it: the command line says so already
	if got := locationCmdline(in, "root=/dev/vda1 resume=/dev/vda2"); got != "root=/dev/vda1 resume=/dev/vda2" {
		t.Fatalf("command line %q changed", got)
	}
}

// Without UEFI nothing is read, and efivarfs is not loaded (its load would fail); with UEFI it
// stays for the read (and LoadNow loads it, with what it needs, before the others).
func TestEFIVarFSOnlyUnderUEFI(t *testing.T) {
	const modEFI = "/lib/modules/R/kernel/fs/efivarfs/efivarfs.ko"
	for _, efi := range []bool{false, true} {
		b, tr, k := newMachine(t)
		if efi {
			tr.Mkdir("sys/firmware/efi/efivars")
		}
		cfg := testConfig()
		cfg.Modules = append(cfg.Modules, modEFI)
		l := NewLoader(b, cfg)
		b.dropEFIVarFS(l)
		if efi {
			if err := l.LoadNow(l.Named(config.EFIVarFSModule)); err != nil {
				t.Fatal(err)
			}
			if err := l.LoadNow(modExt4); err != nil {
				t.Fatal(err)
			}
			if got := k.names(); got != "efivarfs jbd2 ext4" {
				t.Fatalf("LoadNow loaded %q, want efivarfs, then jbd2 and ext4", got)
			}
		}
		l.LoadRest()
		loaded := strings.Fields(k.names())
		count := 0
		for _, m := range loaded {
			if m == "efivarfs" {
				count++
			}
		}
		if want := map[bool]int{false: 0, true: 1}[efi]; count != want {
			t.Fatalf("UEFI %v: efivarfs loaded %d times (%q), want %d", efi, count, k.names(), want)
		}
	}
}
