package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	hb "github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// budgetOf is what `hibernate check --json` predicts, in the guest, for hibernating now.
func budgetOf(t *testing.T, ctx context.Context, vm *harness.VM, m *Machine) hb.Budget {
	t.Helper()
	r, err := vm.Run(ctx, m.Command("check", "--json")...) // exit 1 is a check failing: the budget is still there
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Budget *hb.Budget `json:"budget"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.Budget == nil {
		t.Fatalf("hibernate check --json: %v, no budget in\n%s%s", err, r.Stdout, r.Stderr)
	}
	return *out.Budget
}

// TestTrixieBudget measures the runtime budget's prediction against a real hibernation, on
// Debian 13's 6.12 (whose test_resume lets the canary measure the write). Before any canary the
// budget says its speed is assumed; after one, measured by it. hibernate now then runs, and the
// console gives the real time from its first line to the kernel's power down, both by the
// guest's clock: the prediction must cover it. After the resume, the timing file holds the
// freeze and the image's pages the console shows, to the microsecond and the page, and the
// budget counts that freeze.
func TestTrixieBudget(t *testing.T) {
	ctx := timeout(t, 8*time.Minute)
	m, err := New(ctx, trixieArtifacts(t), t.Name(), Output(testWriter{t}), JobTicks(1))
	if err != nil {
		t.Fatal(err)
	}
	vm, _ := boot(t, ctx, m, "")
	wantRelease(t, m)
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	if b := budgetOf(t, ctx, vm, m); b.Measured || !strings.HasPrefix(b.SpeedFrom, "assumed") || b.Freeze != hb.AssumedFreeze {
		t.Errorf("before any canary or hibernation, the budget counts on %s", b)
	}
	if _, err := run(ctx, vm, m.Command("canary")...); err != nil {
		t.Fatal(err)
	}
	b := budgetOf(t, ctx, vm, m)
	if !b.Measured || !strings.HasPrefix(b.SpeedFrom, "the canary of ") {
		t.Fatalf("after the canary, the budget counts on %s", b)
	}
	t.Logf("the budget after the canary: %s", b)

	mark := len(vm.ConsoleLines())
	if err := m.HibernateNow(ctx, vm); err != nil {
		t.Fatal(err)
	}
	lines := vm.ConsoleLines()[mark:]
	start, _, ok1 := ConsoleStamp(lines, "hibernate: hibernate now: checking")
	writing, _, ok2 := ConsoleStamp(lines, "hibernate: writing disk to /sys/power/state")
	snap, needLine, ok3 := ConsoleStamp(lines, "Need to copy ")
	off, _, ok4 := ConsoleStamp(lines, "reboot: Power down")
	kb, wrote, wroteLine, werr := KernelSpeed(lines, "Wrote")
	if !ok1 || !ok2 || !ok3 || !ok4 || werr != nil {
		t.Fatalf("the console lacks a line of the hibernation (now %v, writing %v, snapshot %v, power down %v, wrote %v); console: %s",
			ok1, ok2, ok3, ok4, werr, vm.ConsoleLogPath())
	}
	var pages int64
	fmt.Sscanf(needLine[strings.Index(needLine, "Need to copy "):], "Need to copy %d pages", &pages)
	real := off - start
	wroteSecs := wrote.Seconds()
	t.Logf("budget against the real hibernation, by the guest's clock: predicted %s (%.2f× the real %s, from hibernate now's first line to the power down);"+
		" the image: estimated %d MiB, the kernel's %d pages (%d MiB);"+
		" the write: predicted %s at %.0f MiB/s, the kernel's %s (%.0f MiB/s, %q);"+
		" the freeze: predicted %s, this one %s",
		b.Total.Round(10*time.Millisecond), b.Total.Seconds()/real.Seconds(), real.Round(10*time.Millisecond),
		b.ImageBytes>>20, pages, pages*4096>>20,
		b.Write.Round(10*time.Millisecond), b.Speed/(1<<20), wrote, float64(kb)/1024/wroteSecs, strings.TrimSpace(wroteLine),
		b.Freeze.Round(10*time.Millisecond), (snap - writing).Round(10*time.Millisecond))
	if b.Total < real {
		t.Errorf("the budget, %s, does not cover the hibernation's %s", b.Total, real)
	}

	vm = resumeBoot(t, ctx, m, m.Setup.KernelParams)
	// hibernate now writes the timing after its "resumed after" line, while the job runs on:
	// read it once hibernate now has finished (a Debian 13 host, busier, read it before).
	nowFinished(t, ctx, vm)
	raw, err := vm.ReadFile(ctx, "/"+hb.TimingName)
	if err != nil {
		t.Fatal(err)
	}
	var tm hb.Timing
	if err := json.Unmarshal(raw, &tm); err != nil || tm.Last == nil || tm.Canary == nil {
		t.Fatalf("/%s after the resume: %v\n%s", hb.TimingName, err, raw)
	}
	if tm.Last.Pages != pages || tm.Last.Freeze != snap-writing || tm.Last.Kernel != m.Release {
		t.Errorf("kept %+v; the console says %d pages, freeze %s (%q), kernel %s", *tm.Last, pages, snap-writing, needLine, m.Release)
	}
	if after := budgetOf(t, ctx, vm, m); after.Freeze != tm.Last.Freeze || !strings.HasPrefix(after.FreezeFrom, "the hibernation of ") || !after.Measured {
		t.Errorf("after the hibernation, the budget counts on %s", after)
	}
}
