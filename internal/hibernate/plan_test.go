package hibernate

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// debian12 is /sys/power as faketree.New has it (Debian 12's kernel).
func debian12() map[string]string {
	return map[string]string{
		"disk":          "[platform] shutdown reboot suspend test_resume",
		"image_size":    "423053312",
		"resume_offset": "0",
		"resume":        "254:2",
		"pm_test":       "[none] core processors platform devices freezer",
	}
}

// stale is an image record of another boot on an active /dev/vda2 with little swap in use.
func stale() *recordState {
	return &recordState{dev: blockdev.Device{Path: "/dev/vda2"}, swap: swapsetup.ActiveSwap{Filename: "/dev/vda2", Used: 1 << 20}, canStamp: true}
}

func TestPlan(t *testing.T) {
	tail := []string{"sync the file systems", "write disk to /sys/power/state"}
	for _, tc := range []struct {
		name  string
		o     Options
		edit  func(f *Facts)
		want  []string // the lines after the hooks and before the sync, then after the write of disk
		after []string
	}{
		{name: "nothing to change", o: Options{}},
		{name: "default mode without platform", o: Options{},
			edit: func(f *Facts) { f.Power["disk"] = "shutdown [reboot]" },
			want: []string{"write shutdown to /sys/power/disk (was reboot)"}, after: []string{"restore /sys/power/disk to reboot"}},
		{name: "mode shutdown", o: Options{Mode: "shutdown"},
			want: []string{"write shutdown to /sys/power/disk (was platform)"}, after: []string{"restore /sys/power/disk to platform"}},
		{name: "mode already selected", o: Options{Mode: "platform"}},
		{name: "image size min", o: Options{ImageSize: "min"},
			want: []string{"write 0 to /sys/power/image_size (was 423053312)"}, after: []string{"restore /sys/power/image_size to 423053312"}},
		{name: "image size in bytes", o: Options{ImageSize: "1000000"},
			want: []string{"write 1000000 to /sys/power/image_size (was 423053312)"}, after: []string{"restore /sys/power/image_size to 423053312"}},
		{name: "image size kernel", o: Options{ImageSize: "kernel"}},
		{name: "image size auto", o: Options{ImageSize: "auto"}, edit: withMeminfo,
			want: []string{"write 297795584 to /sys/power/image_size (was 423053312)"}, after: []string{"restore /sys/power/image_size to 423053312"}},
		{name: "image size by default", o: Options{ImageSize: ""}, edit: withMeminfo,
			want: []string{"write 297795584 to /sys/power/image_size (was 423053312)"}, after: []string{"restore /sys/power/image_size to 423053312"}},
		{name: "image size auto as it is", o: Options{ImageSize: "auto"},
			edit: func(f *Facts) { withMeminfo(f); f.Power["image_size"] = "297795584" }},
		{name: "image size auto capped by the free swap", o: Options{ImageSize: "auto"},
			edit: func(f *Facts) { withMeminfo(f); f.SwapFree = 100 << 20 },
			want: []string{"write 104857600 to /sys/power/image_size (was 423053312)"}, after: []string{"restore /sys/power/image_size to 423053312"}},
		{name: "resume to set", o: Options{},
			edit:  func(f *Facts) { f.Power["resume"], f.Report.SetResume = "0:0", true },
			want:  []string{"write 0 to /sys/power/resume_offset (was 0)", "write 254:2 to /sys/power/resume (was 0:0)"},
			after: []string{"restore /sys/power/resume_offset to 0", "restore /sys/power/resume to 0:0"}},
		{name: "pm_test", o: Options{Test: "devices"},
			want: []string{"write devices to /sys/power/pm_test (was none)"}, after: []string{"restore /sys/power/pm_test to none"}},
		{name: "restamp", o: Options{},
			edit: func(f *Facts) { f.Report.record = stale() },
			want: []string{"stamp the image record of this boot on /dev/vda2 (swapoff, stamp, swapon), unless by then it is inactive or has over 64 MiB in use"}},
		{name: "restamp of a swap file", o: Options{},
			edit: func(f *Facts) { f.Report.record = stale(); f.Report.record.file = "/swapfile" },
			want: []string{"stamp the image record of this boot on /swapfile (swapoff, stamp, swapon), unless by then it is inactive or has over 64 MiB in use"}},
		{name: "no restamp with --no-record", o: Options{NoRecord: true},
			edit: func(f *Facts) { f.Report.record = stale() }},
		{name: "no restamp of too much in use", o: Options{},
			edit: func(f *Facts) { f.Report.record = stale(); f.Report.record.canStamp = false }},
		{name: "no restamp of the record of this boot", o: Options{},
			edit: func(f *Facts) { f.Report.record = &recordState{current: true} }},
		{name: "everything, in order", o: Options{Mode: "reboot", ImageSize: "min", Test: "core"},
			edit: func(f *Facts) { f.Power["resume"], f.Report.SetResume, f.Report.record = "0:0", true, stale() },
			want: []string{
				"stamp the image record of this boot on /dev/vda2 (swapoff, stamp, swapon), unless by then it is inactive or has over 64 MiB in use",
				"write reboot to /sys/power/disk (was platform)", "write 0 to /sys/power/image_size (was 423053312)",
				"write 0 to /sys/power/resume_offset (was 0)", "write 254:2 to /sys/power/resume (was 0:0)",
				"write core to /sys/power/pm_test (was none)"},
			after: []string{"restore /sys/power/disk to platform", "restore /sys/power/image_size to 423053312",
				"restore /sys/power/resume_offset to 0", "restore /sys/power/resume to 0:0", "restore /sys/power/pm_test to none"}},
	} {
		for _, hooks := range [][]string{nil, {"/etc/hibernate/hooks.d/10-a", "/usr/lib/systemd/system-sleep/20-b"}} {
			t.Run(fmt.Sprintf("%s/%d hooks", tc.name, len(hooks)), func(t *testing.T) {
				f := Facts{Report: Report{ResumeDevT: "254:2"}, Power: debian12(), Hooks: hooks}
				o := tc.o
				if tc.edit != nil {
					tc.edit(&f)
				}
				if o.ImageSize == "" && f.Meminfo == nil {
					o.ImageSize = ImageSizeKernel // the cases about other settings
				}
				p, err := Plan(f, o)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, h := range hooks {
					want = append(want, "run "+h+" pre hibernate")
				}
				want = append(append(append(want, tc.want...), tail...), tc.after...)
				for _, h := range hooks {
					want = append(want, "run "+h+" post hibernate")
				}
				if got := p.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				checkUndoSteps(t, p)
			})
		}
	}
}

// withMeminfo gives the facts the memory of a 1 GiB machine with 424 MiB in use, of which 120
// MiB page cache no process maps and 20 MiB reclaimable slab: auto is 284 MiB.
func withMeminfo(f *Facts) {
	f.Meminfo = sysfs.Meminfo{"MemTotal": 1 << 30, "MemFree": 600 << 20, "AnonPages": 220 << 20, "Buffers": 10 << 20,
		"Cached": 150 << 20, "Shmem": 10 << 20, "Mapped": 30 << 20, "SReclaimable": 20 << 20}
	f.SwapFree = 1 << 30
}

// checkUndoSteps: each undo names the step it undoes, before the write of disk; a restore the
// write of its file, a post hook the pre hook of its path.
func checkUndoSteps(t *testing.T, p NowPlan) {
	t.Helper()
	for _, u := range p.Undo {
		if u.Step < 0 || u.Step >= len(p.Steps)-2 {
			t.Fatalf("undo %q of step %d of %d", u, u.Step, len(p.Steps))
		}
		s := p.Steps[u.Step]
		ok := s.Path == u.Path && (u.Kind == ActRestore && s.Kind == ActWrite && s.Was == u.Value ||
			u.Kind == ActRunHook && s.Kind == ActRunHook && s.Args[0] == "pre" && u.Args[0] == "post")
		if !ok {
			t.Fatalf("undo %q undoes step %d, %q", u, u.Step, s)
		}
	}
}

func TestPlanHybridSleepHooks(t *testing.T) {
	f := Facts{Power: debian12(), Hooks: []string{"/etc/systemd/system-sleep/x"}}
	p, err := Plan(f, Options{Mode: "suspend", ImageSize: ImageSizeKernel})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Steps[0]; got.String() != "run /etc/systemd/system-sleep/x pre hybrid-sleep" {
		t.Fatalf("first step %q", got)
	}
	if got := p.Undo[len(p.Undo)-1]; got.String() != "run /etc/systemd/system-sleep/x post hybrid-sleep" || got.Step != 0 {
		t.Fatalf("last undo %q of step %d", got, got.Step)
	}
}

func TestPlanRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		edit func(power map[string]string)
		want string
	}{
		{"mode not offered", Options{Mode: "suspend"}, func(p map[string]string) { p["disk"] = "[platform] shutdown" }, `mode suspend: /sys/power/disk offers "[platform] shutdown"`},
		{"unknown mode", Options{Mode: "hybrid"}, nil, "mode hybrid"},
		{"no modes", Options{}, func(p map[string]string) { delete(p, "disk") }, "mode shutdown"},
		{"bad image size", Options{ImageSize: "big"}, nil, `--image-size "big"`},
		{"negative image size", Options{ImageSize: "-1"}, nil, `--image-size "-1"`},
		{"exponent image size", Options{ImageSize: "1e9"}, nil, `--image-size "1e9": not a size`},
		{"trailing letters", Options{ImageSize: "12abc"}, nil, `--image-size "12abc": not a size`},
		{"bad pm_test level", Options{Test: "everything"}, nil, `--test "everything"`},
		{"no pm_test", Options{Test: "devices"}, func(p map[string]string) { delete(p, "pm_test") }, "CONFIG_PM_DEBUG"},
		{"no image_size", Options{ImageSize: "min"}, func(p map[string]string) { delete(p, "image_size") }, "cannot read /sys/power/image_size"},
		{"auto without meminfo", Options{}, func(p map[string]string) { p["meminfo"] = "" }, "--image-size auto: /proc/meminfo was not read"},
	} {
		power := debian12()
		if tc.edit != nil {
			tc.edit(power)
		}
		f := Facts{Power: power}
		if _, no := power["meminfo"]; !no {
			withMeminfo(&f)
		}
		delete(power, "meminfo")
		_, err := Plan(f, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Plan = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A dry run with every kind of step (hooks, restamp, resume to set, mode, image size, pm_test)
// changes no byte below the root, the kernel log included; then a real run carries out that
// same plan.
func TestNowDryRunChangesNoByte(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	tr.Write("dev/kmsg", "6,1,1000,-;Linux version 6.1.0-57-amd64\n")
	stamp(t, tr, "another-boot")
	hook(t, tr, "etc/hibernate/hooks.d/10-first", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/20-second", "")
	o := Options{Mode: "reboot", ImageSize: "min", Test: "core", Swapper: &testutil.Swapper{}, DryRun: true}
	before := testutil.Snapshot(t, tr.Root)
	dry, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if after := testutil.Snapshot(t, tr.Root); !reflect.DeepEqual(before, after) {
		for p, v := range after {
			if before[p] != v {
				t.Errorf("%s: %q, was %q", p, v, before[p])
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("%s: gone", p)
			}
		}
		t.Fatal("the dry run changed the tree")
	}
	kinds := map[ActionKind]bool{}
	for _, s := range dry.Plan.Steps {
		kinds[s.Kind] = true
	}
	if len(kinds) != 5 {
		t.Fatalf("the dry run's plan has %d kinds of step, want all 5:\n%s", len(kinds), strings.Join(dry.Plan.Lines(), "\n"))
	}

	o.DryRun, o.write = false, logWrites(tr)
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dry.Plan.Lines(), res.Plan.Lines()) {
		t.Fatalf("the run carried out\n%s\nthe dry run said\n%s", strings.Join(res.Plan.Lines(), "\n"), strings.Join(dry.Plan.Lines(), "\n"))
	}
	var want []string // what hooks.log shows of the plan: hooks and writes
	for _, l := range res.Plan.Lines() {
		if strings.HasPrefix(l, "run ") {
			f := strings.Fields(l)
			want = append(want, fmt.Sprintf("%s %s %s %s", filepath.Base(f[1]), f[2], f[3], f[3]))
		}
		if strings.HasPrefix(l, "write ") {
			want = append(want, strings.SplitN(l, " (was", 2)[0])
		}
	}
	if got := hookLog(tr); got != strings.Join(want, "\n") {
		t.Fatalf("hooks.log:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
