package resume

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// imageHeader is a swap header page as the kernel leaves it after writing an image: S1SUSPEND
// at 4086, the swap magic it replaced at 4076.
func imageHeader(t *testing.T) []byte {
	t.Helper()
	page, err := swsusp.MkswapPage(64<<20, swsusp.MkswapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	copy(page[4076:], "SWAPSPACE2")
	copy(page[4086:], "S1SUSPEND\x00")
	page[4064] = 1 // first map page
	return page
}

func machineWithImage(t *testing.T) (*faketree.Tree, *Machine, *strings.Builder, Input) {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 64 << 20, Content: imageHeader(t)})
	out := &strings.Builder{}
	b := &Machine{FS: tr.FS(), Out: out, Release: "6.1.0-57-amd64", Now: func() time.Duration { return 0 }, Sleep: func(time.Duration) {}}
	dev := &blockdev.Device{Name: "vda2", Path: "/dev/vda2", Major: 254, Minor: 2}
	return tr, b, out, Input{DeviceSpec: "UUID=x", Device: dev.Path, Area: &swsusp.Area{Sig: swsusp.SigSwsusp}, dev: dev}
}

func headerBytes(t *testing.T, tr *faketree.Tree) []byte {
	t.Helper()
	b, err := os.ReadFile(tr.FS().Path("dev/vda2"))
	if err != nil {
		t.Fatal(err)
	}
	return b[:swsusp.PageSize]
}

// The kernel returns from the write to /sys/power/resume without taking the image (here: a
// fake tree, as under nohibernate or lockdown): /init says so, and before root is mounted the
// image is discarded and read back.
func TestImageTheKernelDidNotTakeIsDiscardedBeforeRoot(t *testing.T) {
	tr, b, out, in := machineWithImage(t)
	b.resumeInPlace(in, "root=/dev/vda1", nil)
	if !strings.Contains(out.String(), "the kernel did not take the image on /dev/vda2") {
		t.Fatalf("console:\n%s\nwant it to say the image is still there", out)
	}
	if got := swsusp.DetectSignature(headerBytes(t, tr)); got != swsusp.SigSwsusp {
		t.Fatalf("signature after the resume attempt %q: this test needs the image still there", got)
	}
	if err := b.ensureNoImage(in, Decision{Action: Resume}); err != nil {
		t.Fatal(err)
	}
	page := headerBytes(t, tr)
	if got := swsusp.DetectSignature(page); got != swsusp.SigSwap || !bytes.Equal(page[4086:], []byte("SWAPSPACE2")) {
		t.Fatalf("signature after ensureNoImage %q, want the swap magic back", page[4086:])
	}
	if !strings.Contains(out.String(), "image on /dev/vda2 discarded: the area is a plain swap area again (read back: SWAPSPACE2)") {
		t.Fatalf("console:\n%s\nwant the discard said after reading it back", out)
	}
}

// An image the decision leaves alone (another machine's) keeps every byte.
func TestLeftImageIsNotTouched(t *testing.T) {
	tr, b, _, in := machineWithImage(t)
	before := headerBytes(t, tr)
	if err := b.ensureNoImage(in, Decision{Action: Boot, LeaveImage: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, headerBytes(t, tr)) {
		t.Fatal("the header page changed")
	}
}

// When the device cannot be read back, nothing says the image is gone: an error, so that /init
// powers off instead of mounting root.
func TestUnreadableDeviceStopsTheBoot(t *testing.T) {
	tr, b, _, in := machineWithImage(t)
	if err := os.Remove(tr.FS().Path("dev/vda2")); err != nil {
		t.Fatal(err)
	}
	if err := b.ensureNoImage(in, Decision{Action: Discard}); err == nil || !strings.Contains(err.Error(), "cannot read back") {
		t.Fatalf("ensureNoImage = %v, want an error", err)
	}
}

func TestHibernationOff(t *testing.T) {
	tr := faketree.New(t)
	if why := hibernationOff(tr.FS(), Params{}); why != "" {
		t.Fatalf("a kernel offering disk: %q", why)
	}
	if why := hibernationOff(tr.FS(), Params{NoHibernate: "hibernate=no"}); !strings.Contains(why, "hibernate=no on the command line") {
		t.Fatalf("hibernate=no: %q", why)
	}
	tr.Write("sys/power/state", "freeze mem\n")
	tr.Write("sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
	if why := hibernationOff(tr.FS(), Params{}); !strings.Contains(why, "no disk; lockdown integrity") {
		t.Fatalf("lockdown: %q", why)
	}
}

// A device that could not be read at the decision (no Area) is not a reason to power off.
func TestDeviceUnreadableAtTheDecisionBoots(t *testing.T) {
	tr, b, _, in := machineWithImage(t)
	in.Area = nil
	if err := os.Remove(tr.FS().Path("dev/vda2")); err != nil {
		t.Fatal(err)
	}
	if err := b.ensureNoImage(in, Decide(in)); err != nil {
		t.Fatalf("ensureNoImage = %v, want the boot to go on", err)
	}
}

// After a boot with no image, the configured resume device is left in /sys/power/resume for the
// next hibernation (what systemd-logind's CanHibernate wants without EFI), and only then: never
// beside an image, a device nobody named, a kernel that takes no image, or a device already set.
func TestConfigureNextHibernation(t *testing.T) {
	plain, err := swsusp.MkswapPage(64<<20, swsusp.MkswapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		header  []byte
		in      func(*Input)
		d       Decision
		was     string
		want    string
		console string
	}{
		{name: "plain swap", header: plain, want: "254:2", console: NextHibernation + "254:2 (/dev/vda2, offset 0)"},
		{name: "an image still there", header: nil, want: "0:0"},
		{name: "an image left alone", header: plain, d: Decision{LeaveImage: true}, want: "0:0"},
		{name: "found by a scan", header: plain, in: func(in *Input) { in.Scanned = true }, want: "0:0"},
		{name: "kernel takes no image", header: plain, in: func(in *Input) { in.HibernationOff = "nohibernate" }, want: "0:0"},
		{name: "set already", header: plain, was: "254:3", want: "254:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, b, out, in := machineWithImage(t)
			if tc.header != nil {
				f, err := os.OpenFile(tr.FS().Path("dev/vda2"), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(tc.header, 0); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			if tc.was != "" {
				tr.Write("sys/power/resume", tc.was+"\n")
			}
			if tc.in != nil {
				tc.in(&in)
			}
			before := headerBytes(t, tr)
			b.configureNextHibernation(in, tc.d)
			got, err := tr.FS().ReadString("sys/power/resume")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("/sys/power/resume = %q, want %q", got, tc.want)
			}
			if !bytes.Equal(before, headerBytes(t, tr)) {
				t.Error("the header page changed")
			}
			if tc.console != "" && !strings.Contains(out.String(), tc.console) {
				t.Errorf("console:\n%s\nwant %q", out, tc.console)
			}
			if tc.console == "" && strings.Contains(out.String(), NextHibernation) {
				t.Errorf("console:\n%s\nsays a resume device was set", out)
			}
		})
	}
}
