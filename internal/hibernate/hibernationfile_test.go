package hibernate

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// zramMachine is ready's machine with zram as its only active swap, and a hibernation file
// /hibfile of 256 MiB that `setup --hibernate-only` recorded (its header as mkswap writes it;
// the rest a hole).
func zramMachine(t *testing.T) *faketree.Tree {
	t.Helper()
	tr := ready(t)
	tr.Swap("/dev/zram0                              partition\t262140\t\t1024\t\t100")
	page, err := swsusp.MkswapPage(256<<20, swsusp.MkswapOptions{PageSize: swsusp.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	p := tr.FS().Path("hibfile")
	if err := os.WriteFile(p, page, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 256<<20); err != nil {
		t.Fatal(err)
	}
	tr.Write(swapsetup.StateName, `{"format": 1, "file": "/hibfile", "devt": "254:1", "swap_uuid": "x", "made_file": true, "hibernate_only": true}`)
	return tr
}

// The swap check counts an inactive hibernation file whole, and fails, with the reason, where
// the recorded file is gone or holds something else than a plain swap area.
func TestCheckSwapHibernationFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, tr *faketree.Tree)
		ok      bool
		detail  string
		pending bool
	}{
		{"inactive: counted whole", func(*testing.T, *faketree.Tree) {}, true, "the hibernation file /hibfile counted whole", true},
		{"active already: an area like any", func(_ *testing.T, tr *faketree.Tree) {
			tr.Swap("/dev/zram0 partition 262140 1024 100", "/hibfile file 262140 0 -2")
		}, true, "255 MiB free disk swap", false},
		{"gone", func(t *testing.T, tr *faketree.Tree) {
			if err := os.Remove(tr.FS().Path("hibfile")); err != nil {
				t.Fatal(err)
			}
		}, false, "the hibernation file /hibfile that setup made: open", false},
		{"holding an image", func(t *testing.T, tr *faketree.Tree) {
			f, err := os.OpenFile(tr.FS().Path("hibfile"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte(swsusp.SigSwsusp), swsusp.PageSize-10); err != nil {
				t.Fatal(err)
			}
		}, false, "not a plain swap area", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := zramMachine(t)
			tc.edit(t, tr)
			c, _, hf := checkSwap(tr.FS())
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || hf.pending != tc.pending {
				t.Fatalf("swap check %+v (pending %v), want ok=%v with %q (pending %v)", c, hf.pending, tc.ok, tc.detail, tc.pending)
			}
			if !tc.ok && !strings.Contains(c.Fix, "hibernate setup") {
				t.Fatalf("fix %q, want the setup that makes it again", c.Fix)
			}
		})
	}
}

// pendingFacts are the facts of a zram machine whose hibernation file /hibfile is inactive, and
// /sys/power/resume unset: Now activates the file and points resume at it.
func pendingFacts() Facts {
	f := Facts{Power: debian12()}
	f.Power["resume"] = "0:0"
	f.Report.ResumeDevT, f.Report.ResumeOffset, f.Report.SetResume = "254:1", 34816, true
	f.Report.HibernationFile = "/hibfile"
	f.Report.record = &recordState{file: "/hibfile", pending: true}
	return f
}

// The plan activates the hibernation file after the pre hooks and before the settings (resume
// at the file's offset), and deactivates it after the settings are back, before the post hooks.
func TestPlanHibernationFile(t *testing.T) {
	f := pendingFacts()
	f.Hooks = []string{"/usr/lib/systemd/system-sleep/a"}
	p, err := Plan(f, Options{Mode: "platform", ImageSize: ImageSizeKernel})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"run /usr/lib/systemd/system-sleep/a pre hibernate",
		"stamp the image record of this boot on the hibernation file /hibfile and swapon it (the kernel's lowest priority: nothing else swaps to it while other swap has room)",
		"write 34816 to /sys/power/resume_offset (was 0)",
		"write 254:1 to /sys/power/resume (was 0:0)",
		"sync the file systems",
		"write disk to /sys/power/state",
		"restore /sys/power/resume_offset to 0",
		"restore /sys/power/resume to 0:0",
		"swapoff the hibernation file /hibfile (it is never daily swap)",
		"run /usr/lib/systemd/system-sleep/a post hibernate",
	}
	if got := p.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p, err = Plan(pendingFacts(), Options{Mode: "platform", ImageSize: ImageSizeKernel, NoRecord: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Steps[0].String(); !strings.HasPrefix(got, "swapon the hibernation file /hibfile (") || !strings.HasSuffix(got, "; no image record stamped)") {
		t.Fatalf("with --no-record the first step is %q", got)
	}
	// systemd's path (prepare) never activates it: it would stay active, daily swap, after.
	if got := prepareSteps(p); len(got.Steps) != 2 || got.Steps[0].Kind != ActWrite {
		t.Fatalf("prepare keeps %v, want the two resume writes", got.Lines())
	}
}

// Apply stamps the record of this boot on the file before the swapon, swapons it before the
// write of disk, swapoffs it after; a swapoff that fails is said, and the file left active.
func TestApplyHibernationFile(t *testing.T) {
	for _, failOff := range []bool{false, true} {
		tr := zramMachine(t)
		f := pendingFacts()
		sw := &testutil.Swapper{}
		if failOff {
			sw.Fail = map[string]error{"/hibfile": nil}
		}
		var order []string
		var out bytes.Buffer
		o := Options{Mode: "platform", ImageSize: ImageSizeKernel, Swapper: sw, NoHooks: true, Out: &out}
		o.write = func(fs sysfs.FS, file, value string) error {
			order = append(order, strings.Join(sw.Calls, ",")+" then "+file)
			if failOff {
				sw.Fail["/hibfile"] = errors.New("Cannot allocate memory")
			}
			return fs.WriteString(file, value)
		}
		p, err := Plan(f, o)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Apply(tr.FS(), p, o)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(sw.Calls, ",") != "swapon /hibfile,swapoff /hibfile" {
			t.Fatalf("swap calls %v, want swapon then swapoff of /hibfile", sw.Calls)
		}
		if len(order) == 0 || order[0] != "swapon /hibfile then sys/power/resume_offset" {
			t.Fatalf("writes %v: want the swapon before the first setting", order)
		}
		a := readHeader(t, tr.FS().Path("hibfile"))
		if a.Record == nil || a.Record.BootID != "0c9f1d3e-aaaa-4bbb-8ccc-111122223333" {
			t.Fatalf("record on /hibfile %+v, want this boot's", a.Record)
		}
		said := strings.Contains(out.String(), "could not deactivate the hibernation file /hibfile: Cannot allocate memory; it stays active swap")
		restored := strings.Contains(strings.Join(res.Restored, ","), "swapoff /hibfile")
		if said != failOff || restored == failOff {
			t.Fatalf("swapoff failing=%v: said %v, restored %v:\n%s", failOff, said, res.Restored, out.String())
		}
	}
}

func readHeader(t *testing.T, p string) *swsusp.Area {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := swsusp.ReadAreaHead(f, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
