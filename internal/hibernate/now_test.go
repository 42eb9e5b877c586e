package hibernate

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil"
)

func TestNowRefusesAndChangesNothing(t *testing.T) {
	tr := ready(t)
	tr.Swap()
	_, err := Now(tr.FS(), Options{Mode: "shutdown"})
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "no active disk swap") {
		t.Fatalf("Now = %v, want ErrNotReady naming the swap", err)
	}
	if got := tr.Read("sys/power/disk"); got != "[platform] shutdown reboot suspend test_resume" {
		t.Fatalf("/sys/power/disk changed to %q", got)
	}
	if got := tr.Read("sys/power/state"); got != "freeze mem disk" {
		t.Fatalf("/sys/power/state written: %q", got)
	}
}

func TestNowDryRun(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	res, err := Now(tr.FS(), Options{Mode: "shutdown", ImageSize: "min", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"write shutdown to /sys/power/disk (was platform)", "write 0 to /sys/power/image_size (was 423053312)",
		"write 0 to /sys/power/resume_offset (was 0)", "write 254:2 to /sys/power/resume (was 0:0)",
		"sync the file systems", "write disk to /sys/power/state",
		"restore /sys/power/disk to platform", "restore /sys/power/image_size to 423053312",
		"restore /sys/power/resume_offset to 0", "restore /sys/power/resume to 0:0"}
	if got := res.Plan.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for f, v := range map[string]string{"sys/power/disk": "[platform] shutdown reboot suspend test_resume", "sys/power/image_size": "423053312", "sys/power/resume": "0:0", "sys/power/state": "freeze mem disk"} {
		if got := tr.Read(f); got != v {
			t.Errorf("dry run changed %s to %q", f, got)
		}
	}
}

// On a fake tree the write of "disk" to sys/power/state returns at once, as it does after a
// resume: every value changed must be back as it was.
func TestNowRestoresSettings(t *testing.T) {
	tr := ready(t)
	res, err := Now(tr.FS(), Options{Mode: "shutdown", ImageSize: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Read("sys/power/state"); got != "disk" {
		t.Fatalf("state = %q, want disk written", got)
	}
	if got := tr.Read("sys/power/disk"); got != "platform" {
		t.Fatalf("/sys/power/disk = %q after resume, want platform back", got)
	}
	if got := tr.Read("sys/power/image_size"); got != "423053312" {
		t.Fatalf("/sys/power/image_size = %q after resume, want 423053312 back", got)
	}
	if len(res.Restored) != 2 {
		t.Fatalf("restored %v, want disk and image_size", res.Restored)
	}
}

func TestNowRefusesUnknownAttributeAndChangesNothing(t *testing.T) {
	tr := ready(t)
	if err := os.Remove(tr.Root + "/sys/power/pm_test"); err != nil {
		t.Fatal(err)
	}
	if _, err := Now(tr.FS(), Options{Mode: "shutdown", Test: "devices"}); err == nil {
		t.Fatal("Now succeeded without /sys/power/pm_test")
	}
	if got := tr.Read("sys/power/disk"); got != "[platform] shutdown reboot suspend test_resume" {
		t.Fatalf("/sys/power/disk = %q: changed before the failure", got)
	}
}

// A step that fails after others were made: every value made is put back.
func TestNowRestoresOnFailure(t *testing.T) {
	tr := ready(t)
	o := Options{Mode: "shutdown", ImageSize: "min"}
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			return errors.New("EBUSY")
		}
		return fs.WriteString(file, value)
	}
	_, err := Now(tr.FS(), o)
	if err == nil || !strings.Contains(err.Error(), "EBUSY") {
		t.Fatalf("Now = %v, want the state write's error", err)
	}
	if got := tr.Read("sys/power/disk"); got != "platform" {
		t.Fatalf("/sys/power/disk = %q after the failure, want platform back", got)
	}
	if got := tr.Read("sys/power/image_size"); got != "423053312" {
		t.Fatalf("/sys/power/image_size = %q after the failure, want it back", got)
	}
}

func TestNowLockRefusesSecond(t *testing.T) {
	tr := ready(t)
	unlock, err := lock(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Now(tr.FS(), Options{Mode: "shutdown"}); err == nil || !strings.Contains(err.Error(), "another hibernate now") {
		t.Fatalf("second Now = %v, want refusal", err)
	}
}

func TestNowBadOptions(t *testing.T) {
	for _, o := range []Options{{Mode: "hybrid"}, {ImageSize: "big"}, {Test: "everything"}} {
		if _, err := Now(ready(t).FS(), o); err == nil {
			t.Errorf("Now(%+v) accepted", o)
		}
	}
}

// A record of another boot, with little swap in use: now restamps it (swapoff, stamp, swapon).
func TestNowRestampsRecord(t *testing.T) {
	tr := ready(t)
	stamp(t, tr, "another-boot")
	if c := check(t, tr, "image-record"); !c.OK || !strings.Contains(c.Detail, "will stamp it") {
		t.Fatalf("check = %+v, want ok with a restamp", c)
	}
	sw := &testutil.Swapper{}
	if _, err := Now(tr.FS(), Options{Mode: "shutdown", Swapper: sw}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(sw.Calls, ", ") != "swapoff /dev/vda2, swapon /dev/vda2" {
		t.Fatalf("calls %v", sw.Calls)
	}
	if c := check(t, tr, "image-record"); !c.OK || !strings.Contains(c.Detail, "names this boot") {
		t.Fatalf("after now: %+v, want the record of this boot", c)
	}
}

// Below a fake root, the system's swapoff is never used, even when no swapper is given.
func TestNowNeverSwapsOffTheHost(t *testing.T) {
	tr := ready(t)
	stamp(t, tr, "another-boot")
	_, err := Now(tr.FS(), Options{Mode: "shutdown"})
	if err == nil || !strings.Contains(err.Error(), "never done below --root") {
		t.Fatalf("Now = %v, want the root swapper's refusal", err)
	}
}

// A write that fails in the middle: the writes tried are put back, the one not reached is left
// as it was (not rewritten with its own value).
func TestNowRestoresWhatWasTried(t *testing.T) {
	tr := ready(t)
	o := Options{Mode: "shutdown", ImageSize: "min", Test: "devices"}
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/image_size" {
			return errors.New("EINVAL")
		}
		return fs.WriteString(file, value)
	}
	res, err := Now(tr.FS(), o)
	if err == nil || !strings.Contains(err.Error(), "EINVAL") {
		t.Fatalf("Now = %v, want the image_size write's error", err)
	}
	if strings.Join(res.Restored, ", ") != "/sys/power/disk = platform, /sys/power/image_size = 423053312" {
		t.Fatalf("restored %q", res.Restored)
	}
	if got := tr.Read("sys/power/pm_test"); got != "[none] core processors platform devices freezer" {
		t.Fatalf("/sys/power/pm_test = %q: written though its step was not reached", got)
	}
	if got := tr.Read("sys/power/state"); got != "freeze mem disk" {
		t.Fatalf("state written: %q", got)
	}
}

// The restamp looks at the swap again when it runs: a pre hook that filled it leaves the record
// unstamped, and no swapoff is tried.
func TestNowRestampSkippedWhenTheSwapFilledSince(t *testing.T) {
	tr := ready(t)
	stamp(t, tr, "another-boot")
	hook(t, tr, "etc/hibernate/hooks.d/fill", `[ "$1" = pre ] && printf 'Filename Type Size Used Priority\n/dev/vda2 partition 524284 204800 -2\n' > `+tr.FS().Path("proc/swaps")+`; exit 0`)
	sw := &testutil.Swapper{}
	var out strings.Builder
	if _, err := Now(tr.FS(), Options{Mode: "shutdown", Swapper: sw, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if len(sw.Calls) != 0 || !strings.Contains(out.String(), "not stamping the image record on /dev/vda2") {
		t.Fatalf("calls %v; said:\n%s", sw.Calls, out.String())
	}
}
