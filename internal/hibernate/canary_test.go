package hibernate

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// canaryWrite plays the kernel of a test_resume: the image written and read back, said in its
// log, the swap area left as the kernel leaves it (image is the signature to leave: SWAPSPACE2,
// or S1SUSPEND for a kernel that failed to put it back).
func canaryWrite(image string) func(fs sysfs.FS, file, value string) error {
	return func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			f, _ := os.OpenFile(fs.Path("dev/kmsg"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			f.WriteString("6,120,9000000,-;PM: hibernation: Wrote 168644 kbytes in 1.50 seconds (112.42 MB/s)\n" +
				"6,121,9500000,-;PM: hibernation: Read 168644 kbytes in 2.74 seconds (61.54 MB/s)\n")
			f.Close()
			if image != "SWAPSPACE2" {
				d, _ := os.OpenFile(fs.Path("dev/vda2"), os.O_WRONLY, 0)
				d.WriteAt([]byte("SWAPSPACE2"+image), 4096-20) // orig_sig, then sig, as swsusp_write leaves them
				d.Close()
			}
		}
		return fs.WriteString(file, value)
	}
}

// since66 makes the fake machine run a kernel whose test_resume reads the image back (6.6 and
// later), with its initramfs.
func since66(t *testing.T, tr *faketree.Tree) {
	const rel = "6.12.57+deb13-amd64"
	writeInitramfs(tr, "boot/initrd.img-"+rel, ourInitramfs(t)) // (it names testRelease the running one)
	tr.Write("proc/sys/kernel/osrelease", rel+"\n")
}

func TestCanary(t *testing.T) {
	tr := ready(t)
	since66(t, tr)
	o := Options{NoHooks: true, write: canaryWrite("SWAPSPACE2")}
	res, err := Canary(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Read("sys/power/disk"); got != "platform" { // the mode selected before, written back
		t.Errorf("/sys/power/disk not put back: %q", got)
	}
	if res.Write != 1500*time.Millisecond || res.Restore != 2740*time.Millisecond || res.After != "SWAPSPACE2" || res.Device != "/dev/vda2 (254:2)" {
		t.Errorf("canary = write %s, read %s, after %q on %q", res.Write, res.Restore, res.After, res.Device)
	}
}

// An image left behind is said, with what the area holds.
func TestCanaryImageLeftBehind(t *testing.T) {
	tr := ready(t)
	since66(t, tr)
	res, err := Canary(tr.FS(), Options{NoHooks: true, write: canaryWrite("S1SUSPEND\x00")})
	if err == nil || !strings.Contains(err.Error(), "it left it on /dev/vda2 (254:2) (S1SUSPEND); discarded: the area holds SWAPSPACE2 again (read back)") {
		t.Fatalf("Canary with an image left = %v", err)
	}
	b, _ := os.ReadFile(tr.FS().Path("dev/vda2"))
	if res.After != "SWAPSPACE2" || string(b[4096-10:4096]) != "SWAPSPACE2" {
		t.Errorf("after the canary the area holds %q (result %q)", b[4096-10:4096], res.After)
	}
}

// hibernate now refuses test_resume: only the canary, which reads the area back, may use it.
func TestNowRefusesTestResume(t *testing.T) {
	tr := ready(t)
	if _, err := Now(tr.FS(), Options{Mode: "test_resume", NoHooks: true, write: canaryWrite("S1SUSPEND\x00")}); err == nil || !strings.Contains(err.Error(), "use hibernate canary") {
		t.Fatalf("Now --mode test_resume = %v", err)
	}
}

// Before 6.6 the kernel's test_resume leaves its image behind: refused, nothing written.
func TestCanaryRefusesBefore66(t *testing.T) {
	for rel, safe := range map[string]bool{"6.1.0-57-amd64": false, "5.10.0-30-amd64": false, "6.6.1": true, "6.12.57+deb13-amd64": true, "7.0": true, "x": false} {
		if testResumeSafe(rel) != safe {
			t.Errorf("testResumeSafe(%q) = %v", rel, !safe)
		}
	}
	tr := ready(t)
	tr.Write("proc/sys/kernel/osrelease", "6.1.0-57-amd64\n")
	before, _ := os.ReadFile(tr.FS().Path("dev/vda2"))
	_, err := Canary(tr.FS(), Options{NoHooks: true, write: func(sysfs.FS, string, string) error { t.Fatal("a write"); return nil }})
	if !errors.Is(err, ErrTestResumeUnsafe) {
		t.Fatalf("Canary on 6.1 = %v", err)
	}
	if after, _ := os.ReadFile(tr.FS().Path("dev/vda2")); !bytes.Equal(before, after) {
		t.Error("the swap area changed")
	}
}

func TestCanaryNoTestResume(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/disk", "[platform] shutdown reboot suspend\n")
	if _, err := Canary(tr.FS(), Options{NoHooks: true, write: canaryWrite("SWAPSPACE2")}); !errors.Is(err, ErrNoTestResume) {
		t.Fatalf("Canary without test_resume = %v", err)
	}
}
