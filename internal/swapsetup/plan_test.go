package swapsetup

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The plans' tests: what each planner decides, in the words a dry run prints, with a fixed UUID
// for the swap areas it makes.

const planUUID = "0a0b0c0d-0e0f-4011-8213-141516171819"

func fixedPlanner(tr *faketree.Tree, o Options) planner {
	pl := newPlanner(tr.FS(), o)
	pl.newUUID = func() ([16]byte, error) { return swsusp.ParseUUID(planUUID) }
	return pl
}

func swapAreaPage(t *testing.T, uuid string) []byte {
	t.Helper()
	id, err := swsusp.ParseUUID(uuid)
	if err != nil {
		t.Fatal(err)
	}
	page, err := swsusp.MkswapPage(64<<20, swsusp.MkswapOptions{UUID: id, PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return page
}

const keptUUID = "11111111-2222-4333-8444-555555555555"

func TestPlanPartition(t *testing.T) {
	rec := &swsusp.Record{KernelRelease: "6.1.0-test"}
	for _, tc := range []struct {
		name   string
		area   bool   // vda2 holds a swap area (keptUUID)
		active string // its /proc/swaps line
		o      Options
		want   []string
		notes  []string
	}{
		{name: "new area", o: Options{Device: "/dev/vda2", Priority: -1}, want: []string{
			"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ")",
			"swapon /dev/vda2",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
		}},
		{name: "new area, label, priority, record", o: Options{Device: "PARTLABEL=swap", Label: "hib", Priority: 3, Record: rec}, want: []string{
			"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ", label hib)",
			"stamp the image record for 6.1.0-test into the swap header of /dev/vda2",
			"swapon /dev/vda2 (priority 3)",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
		}},
		{name: "kept area", area: true, o: Options{Device: "/dev/vda2", Priority: -1}, want: []string{
			"swapon /dev/vda2",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
		}, notes: []string{"/dev/vda2 is already a swap area (UUID " + keptUUID + "): kept"}},
		{name: "kept area, forced", area: true, o: Options{Device: "/dev/vda2", Priority: -1, Force: true}, want: []string{
			"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ")",
			"swapon /dev/vda2",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
		}},
		{name: "active area", area: true, active: "/dev/vda2 partition 65532 0 -2", o: Options{Device: "/dev/vda2", Priority: -1, Record: rec}, want: []string{
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
		}, notes: []string{
			"/dev/vda2 is already a swap area (UUID " + keptUUID + "): kept",
			"/dev/vda2 is already active: not activated again",
			"not stamping the image record: /dev/vda2 is active (swapoff it to stamp one)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var content []byte
			if tc.area {
				content = swapAreaPage(t, keptUUID)
			}
			tr := machine(t, content)
			if tc.active != "" {
				tr.Swap(tc.active)
			}
			p, err := fixedPlanner(tr, tc.o).partition()
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, tc.want, tc.notes)
		})
	}
}

func checkPlan(t *testing.T, p *Plan, want, notes []string) {
	t.Helper()
	res, err := p.DryRun()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Actions, want) {
		t.Errorf("plan:\n\t%s\nwant:\n\t%s", strings.Join(res.Actions, "\n\t"), strings.Join(want, "\n\t"))
	}
	if notes != nil && !slices.Equal(res.Notes, notes) {
		t.Errorf("notes:\n\t%s\nwant:\n\t%s", strings.Join(res.Notes, "\n\t"), strings.Join(notes, "\n\t"))
	}
}

// Setup's plan is the swap's, then the fstab line, each boot configuration found, the record.
func TestPlanSetup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files func(tr *faketree.Tree)
		o     Options
		want  []string
	}{
		{name: "partition, nothing else", files: func(*faketree.Tree) {}, o: Options{Device: "/dev/vda2", Priority: -1}, want: []string{
			"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ")",
			"swapon /dev/vda2",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
			"record what setup added in /var/lib/hibernate/setup.json (for hibernate setup --undo)",
		}},
		{name: "fstab and boot configuration", files: bootFiles, o: Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true}, want: []string{
			"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ")",
			"swapon /dev/vda2 (priority 3)",
			"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
			`add "UUID=` + planUUID + ` none swap defaults,pri=3 0 0" to /etc/fstab (backup /etc/fstab.hibernate-backup)`,
			"put resume=UUID=" + planUUID + " in /etc/default/grub (backup /etc/default/grub.hibernate-backup)",
			"put resume=UUID=" + planUUID + " in /etc/kernel/cmdline (backup /etc/kernel/cmdline.hibernate-backup)",
			"put resume=UUID=" + planUUID + " in /etc/hibernate/resume.json",
			"record what setup added in /var/lib/hibernate/setup.json (for hibernate setup --undo)",
		}},
		{name: "fstab there already", files: func(tr *faketree.Tree) { tr.Write("etc/fstab", "UUID="+planUUID+" none swap sw 0 0\n") },
			o: Options{Device: "/dev/vda2", Priority: -1, Fstab: true}, want: []string{
				"make a swap area on /dev/vda2 (64 MiB, UUID " + planUUID + ")",
				"swapon /dev/vda2",
				"write 0 to /sys/power/resume_offset, then 254:2 to /sys/power/resume",
				"record what setup added in /var/lib/hibernate/setup.json (for hibernate setup --undo)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := machine(t, nil)
			tc.files(tr)
			p, err := fixedPlanner(tr, tc.o).setup()
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, tc.want, nil)
		})
	}
}

// A new partition's device is known once the kernel lists it: the actions on it say its place.
func TestPlanNewPartition(t *testing.T) {
	tr := faketree.New(t)
	gptDisk(t, tr)
	p, err := fixedPlanner(tr, Options{NewPartition: "/dev/vdb", Size: 32 << 20, Priority: -1, Record: &swsusp.Record{KernelRelease: "6.1.0-test"}}).newPartition()
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, []string{
		`make partition 2 of /dev/vdb: 32 MiB at sector 34816, type Linux swap, name "hibernate-swap", holding a swap area (UUID ` + planUUID + ")",
		"stamp the image record for 6.1.0-test into the swap header of partition 2 of /dev/vdb",
		"swapon partition 2 of /dev/vdb",
		"write 0 to /sys/power/resume_offset, then its MAJ:MIN to /sys/power/resume",
	}, nil)
	if p.res.KernelParams != "resume=UUID="+planUUID {
		t.Errorf("kernel parameters %q", p.res.KernelParams)
	}
}

// The undo of a setup with everything: each change taken back, then the record.
func TestPlanUndo(t *testing.T) {
	tr := machine(t, nil)
	bootFiles(tr)
	sw := &testutil.Swapper{}
	p, err := fixedPlanner(tr, Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true}).setup()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(sw); err != nil {
		t.Fatal(err)
	}
	tr.Swap("/dev/vda2 partition 65532 0 3")
	u, err := PlanUndo(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	params := "resume=UUID=" + planUUID
	checkPlan(t, u, []string{
		"take " + params + " out of /etc/default/grub, putting back resume=/dev/old",
		"take " + params + " out of /etc/kernel/cmdline, putting back resume_offset=77",
		"remove /etc/hibernate/resume.json (setup made it for " + params + ")",
		`remove "UUID=` + planUUID + ` none swap defaults,pri=3 0 0" from /etc/fstab`,
		"write 0 to /sys/power/resume_offset",
		"swapoff /dev/vda2",
		"put back the first page of /dev/vda2 as it was before mkswap",
		"remove /var/lib/hibernate/setup.json",
	}, []string{"/sys/power/resume keeps 254:2 until reboot (the kernel takes no 0:0); hibernation would still use this swap if it stays active"})
}

// Apply carries out the plan a dry run shows, action for action.
func TestApplyDoesThePlan(t *testing.T) {
	tr := machine(t, nil)
	bootFiles(tr)
	p, err := fixedPlanner(tr, Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true, Record: &swsusp.Record{KernelRelease: "6.1.0-test"}}).setup()
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := p.DryRun()
	sw := &testutil.Swapper{}
	done, err := p.Apply(sw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done.Actions, plan.Actions) {
		t.Fatalf("done:\n\t%s\nplanned:\n\t%s", strings.Join(done.Actions, "\n\t"), strings.Join(plan.Actions, "\n\t"))
	}
	a := readArea(t, tr.FS().Path("dev/vda2"))
	if a.Swap.UUIDString() != planUUID || a.Record == nil || a.Record.KernelRelease != "6.1.0-test" {
		t.Fatalf("vda2: %+v", a)
	}
	if !done.Activated || len(sw.On) != 1 || tr.Read("sys/power/resume") != "254:2" {
		t.Fatalf("result %+v, swapon %v", done, sw.On)
	}
}

// After a failed action the rest is not done, but what was made is recorded for --undo.
func TestApplyStopsAndRecords(t *testing.T) {
	tr := machine(t, nil)
	sw := &testutil.Swapper{Fail: map[string]error{"/dev/vda2": fmt.Errorf("swapon /dev/vda2: EBUSY")}}
	res, err := Setup(tr.FS(), sw, Options{Device: "/dev/vda2", Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "EBUSY") {
		t.Fatalf("err = %v", err)
	}
	want := []string{"make a swap area on /dev/vda2", "swapon /dev/vda2", "record what setup added"}
	if len(res.Actions) != len(want) {
		t.Fatalf("actions %q, want %q", res.Actions, want)
	}
	for i := range want {
		if !strings.HasPrefix(res.Actions[i], want[i]) {
			t.Fatalf("actions %q, want %q", res.Actions, want)
		}
	}
	if tr.Read("sys/power/resume") != "0:0" {
		t.Fatal("the resume device was set after swapon failed")
	}
	st, err := LoadState(tr.FS())
	if err != nil || st == nil || !st.MadeArea || st.Activated || st.Runtime || len(st.OldPage0) != swsusp.PageSize {
		t.Fatalf("record %+v, %v", st, err)
	}
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s: %q, before the dry run %q", p, v, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: gone after the dry run", p)
		}
	}
}

// A dry run changes nothing: the tree is byte for byte what it was, for every kind of setup and
// for the undo.
func TestDryRunLeavesTheTree(t *testing.T) {
	rec := &swsusp.Record{KernelRelease: "6.1.0-test"}
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T) *faketree.Tree
		o     Options
		setup bool // a setup first (really), then the dry run of its undo
	}{
		{"partition", func(t *testing.T) *faketree.Tree { tr := machine(t, nil); bootFiles(tr); return tr },
			Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true, Record: rec}, false},
		{"new partition", func(t *testing.T) *faketree.Tree { tr := faketree.New(t); gptDisk(t, tr); bootFiles(tr); return tr },
			Options{NewPartition: "/dev/vdb", Size: 32 << 20, Priority: -1, Fstab: true, WriteBootConfig: true, Record: rec}, false},
		{"file", func(t *testing.T) *faketree.Tree {
			tr := faketree.New(t)
			loopFS(t, tr, "ext4", 128, "", "-b", "4096")
			bootFiles(tr)
			return tr
		}, Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1, Fstab: true, WriteBootConfig: true, Record: rec}, false},
		{"undo", func(t *testing.T) *faketree.Tree { tr := machine(t, nil); bootFiles(tr); return tr },
			Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.make(t)
			sw := &testutil.Swapper{}
			if tc.setup {
				if _, err := Setup(tr.FS(), sw, tc.o); err != nil {
					t.Fatal(err)
				}
				tr.Swap("/dev/vda2 partition 65532 0 3")
				sw.Calls = nil
			}
			before := testutil.Snapshot(t, tr.Root)
			var res Result
			var err error
			if tc.setup {
				res, err = Undo(tr.FS(), sw, true)
			} else {
				o := tc.o
				o.DryRun = true
				res, err = Setup(tr.FS(), sw, o)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Actions) < 5 || len(sw.Calls) != 0 {
				t.Fatalf("dry run planned %q, called %q", res.Actions, sw.Calls)
			}
			sameTree(t, before, testutil.Snapshot(t, tr.Root))
		})
	}
}

// A swap file's plan through its life on one file system: made, kept, kept active, remade. A new
// file's resume_offset is learned on the way: the plan says so, the result has it, and so does
// the boot configuration written after it.
func TestPlanFile(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	tr.Write("etc/kernel/cmdline", cmdlineText)
	o := Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1, WriteBootConfig: true}
	p, err := fixedPlanner(tr, o).setup()
	if err != nil {
		t.Fatal(err)
	}
	devt, fsUUID := p.res.DevT, p.res.UUID
	resume := "write the file's first page (known once it is made) to /sys/power/resume_offset, then " + devt + " to /sys/power/resume"
	checkPlan(t, p, []string{
		"allocate 16 MiB at /mnt/swapfile (mode 0600, fallocate, no holes: checked with FIEMAP)",
		"make a swap area in /mnt/swapfile (UUID " + planUUID + ")",
		"swapon /mnt/swapfile",
		resume,
		"put resume=UUID=" + fsUUID + " resume_offset=? in /etc/kernel/cmdline (backup /etc/kernel/cmdline.hibernate-backup)",
		"put resume=UUID=" + fsUUID + " resume_offset=? in /etc/hibernate/resume.json",
		"record what setup added in /var/lib/hibernate/setup.json (for hibernate setup --undo)",
	}, nil)
	res, err := p.Apply(&testutil.Swapper{})
	if err != nil {
		t.Fatal(err)
	}
	off := filefragOffset(t, tr.FS().Path("mnt/swapfile"))
	params := fmt.Sprintf("resume=UUID=%s resume_offset=%d", fsUUID, off)
	if res.ResumeOffset != off || res.KernelParams != params || !strings.Contains(tr.Read("etc/kernel/cmdline"), params) ||
		res.Actions[3] != fmt.Sprintf("write %d to /sys/power/resume_offset, then %s to /sys/power/resume", off, devt) {
		t.Fatalf("applied %+v\ncmdline %q", res, tr.Read("etc/kernel/cmdline"))
	}
	resume = fmt.Sprintf("write %d to /sys/power/resume_offset, then %s to /sys/power/resume", off, devt)
	o.WriteBootConfig = false
	for _, tc := range []struct {
		name   string
		active bool
		force  bool
		want   []string
	}{
		{"kept", false, false, []string{"swapon /mnt/swapfile", resume}},
		{"kept active", true, false, []string{resume}},
		{"remade", false, true, []string{
			"remove /mnt/swapfile (--force)",
			"allocate 16 MiB at /mnt/swapfile (mode 0600, fallocate, no holes: checked with FIEMAP)",
			"make a swap area in /mnt/swapfile (UUID " + planUUID + ")",
			"swapon /mnt/swapfile",
			"write the file's first page (known once it is made) to /sys/power/resume_offset, then " + devt + " to /sys/power/resume",
		}},
	} {
		tr.Swap()
		if tc.active {
			tr.Swap("/mnt/swapfile file 16380 0 -2")
		}
		o.Force = tc.force
		p, err := fixedPlanner(tr, o).file()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, p, tc.want, nil) })
	}
}
