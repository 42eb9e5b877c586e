package hibernate

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// untouched are the files Prepare must leave as they were: systemd-sleep's to write.
var untouched = map[string]string{
	"sys/power/disk":       "[platform] shutdown reboot suspend test_resume",
	"sys/power/image_size": "423053312",
	"sys/power/state":      "freeze mem disk",
}

func sameUntouched(t *testing.T, tr *faketree.Tree) {
	t.Helper()
	for f, v := range untouched {
		if got := tr.Read(f); got != v {
			t.Errorf("%s = %q, want %q (systemd-sleep's to write)", f, got, v)
		}
	}
}

// Before systemd-sleep: the record of this boot stamped, the resume device set, and nothing of
// systemd-sleep's own (no hook run, no /sys/power/disk, no state), nothing put back after.
func TestPrepareStampsAndSetsResume(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	stamp(t, tr, "another-boot")
	hook(t, tr, "usr/lib/systemd/system-sleep/10-vendor", "")
	hook(t, tr, "etc/hibernate/hooks.d/20-ours", "")
	sw := &testutil.Swapper{}
	p, err := Prepare(tr.FS(), "suspend-then-hibernate", Options{Swapper: sw})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"stamp the image record of this boot on /dev/vda2 (swapoff, stamp, swapon), unless by then it is inactive or has over 64 MiB in use",
		"write 0 to /sys/power/resume_offset (was 0)", "write 254:2 to /sys/power/resume (was 0:0)",
	}
	if got := p.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := tr.Read("sys/power/resume"); got != "254:2" {
		t.Errorf("/sys/power/resume = %q after prepare, want 254:2 left for systemd-sleep", got)
	}
	if strings.Join(sw.Calls, ", ") != "swapoff /dev/vda2, swapon /dev/vda2" {
		t.Errorf("swapper calls %v, want the restamp", sw.Calls)
	}
	if c := check(t, tr, "image-record"); !c.OK || !strings.Contains(c.Detail, "names this boot") {
		t.Errorf("after prepare: %+v, want the record of this boot", c)
	}
	if log := hookLog(tr); log != "" {
		t.Errorf("hooks ran: %q (systemd-sleep runs systemd's; ours are hibernate now's)", log)
	}
	sameUntouched(t, tr)
}

// A failed check: ErrNotReady with the reason (the service's journal), and nothing changed.
func TestPrepareRefusesAndChangesNothing(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	if err := os.Remove(tr.FS().Path("boot/initrd.img-" + testRelease)); err != nil {
		t.Fatal(err)
	}
	sw := &testutil.Swapper{}
	_, err := Prepare(tr.FS(), "hibernate", Options{Swapper: sw})
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "initramfs: no initramfs for the running kernel") {
		t.Fatalf("Prepare = %v, want ErrNotReady naming the initramfs", err)
	}
	if got := tr.Read("sys/power/resume"); got != "0:0" {
		t.Errorf("/sys/power/resume = %q after a refusal", got)
	}
	if len(sw.Calls) != 0 {
		t.Errorf("swapper calls %v after a refusal", sw.Calls)
	}
	sameUntouched(t, tr)
}

func TestPrepareDryRunAndVerbs(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	p, err := Prepare(tr.FS(), "hybrid-sleep", Options{DryRun: true})
	if err != nil || len(p.Steps) != 2 {
		t.Fatalf("dry run: %v, %v; want the two resume writes", p.Lines(), err)
	}
	if got := tr.Read("sys/power/resume"); got != "0:0" {
		t.Errorf("dry run wrote /sys/power/resume = %q", got)
	}
	if _, err := Prepare(tr.FS(), "suspend", Options{}); err == nil || !strings.Contains(err.Error(), "want one of hibernate, hybrid-sleep, suspend-then-hibernate") {
		t.Errorf("Prepare(suspend) = %v, want a refusal of the verb", err)
	}
}
