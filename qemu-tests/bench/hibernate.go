package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

const (
	methodNow    = "hibernate now"
	methodDirect = "echo disk > /sys/power/state"
	methodMin    = "hibernate now --image-size min"
)

// hibernateOnce boots a fresh guest, makes its swap with hibernate setup, starts the demo job
// (64 MiB of state), and hibernates it by method; it measures from the request to QEMU gone,
// and reads the image's size from the disk. The direct write gets /sys/power/disk=shutdown
// first, as hibernate now --mode shutdown sets it.
func hibernateOnce(ctx context.Context, a scenario.Artifacts, method, name string, opts ...scenario.Option) HibernateRun {
	r := HibernateRun{Method: method}
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	fail := func(err error) HibernateRun { r.Err = err; return r }
	if method == methodMin {
		opts = append(opts, scenario.NowFlags("--image-size", "min"))
	}
	m, err := scenario.New(ctx, a, name, opts...)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(filepath.Dir(m.Guest.Disk))
	vm, _, err := m.Boot(ctx, "")
	if vm != nil {
		defer vm.Kill()
	}
	if err != nil {
		return fail(err)
	}
	if err := scenario.Do(ctx, vm, m.SetupSwap, m.StartJob); err != nil {
		return fail(err)
	}
	switch method {
	case methodNow, methodMin:
		if err := m.HibernateNow(ctx, vm); err != nil {
			return fail(err)
		}
		r.Took = m.Summary.HibernateTime
	case methodDirect:
		if err := vm.WriteFile(ctx, "/sys/power/disk", []byte("shutdown"), 0o644); err != nil {
			return fail(err)
		}
		start := time.Now()
		// The write returns only after a resume: its answer never comes, the guest powers off.
		go vm.WriteFile(ctx, "/sys/power/state", []byte("disk"), 0o644)
		exit, err := vm.WaitExit(ctx)
		if err != nil {
			return fail(err)
		}
		r.Took = time.Since(start)
		if !exit.GuestShutdown {
			return fail(vm.Fail("QEMU exited without the guest powering off (%s)", exit.Reason))
		}
	}
	r.Log = vm.ConsoleLogPath()
	r.WriteTime = saveTime(vm.ConsoleLogPath())
	r.BeforeEntry = beforeEntry(vm.ConsoleLogPath())
	area, err := m.SwapArea()
	if err != nil {
		return fail(err)
	}
	if !area.HasImage() {
		return fail(fmt.Errorf("no image on the swap partition after %s", method))
	}
	if area.Info != nil {
		r.ImageMem = area.Info.Size
	}
	r.ImageDisk = (area.DataPages + uint64(area.MapPages)) * swsusp.PageSize
	return r
}

// beforeEntry is, on the kernel's clock of a console log, from hibernate now's first line (it
// writes each step to /dev/kmsg) to the kernel's "hibernation entry", printed when disk is
// written to /sys/power/state: what hibernate now does before the kernel starts. 0 when the
// log has not both.
func beforeEntry(log string) time.Duration {
	start := -1.0
	for _, l := range kernelLines(log) {
		switch {
		case strings.Contains(l.text, "hibernate: hibernate now: checking") && start < 0:
			start = l.at
		case strings.Contains(l.text, "PM: hibernation: hibernation entry") && start >= 0:
			return time.Duration((l.at - start) * float64(time.Second))
		}
	}
	return 0
}

// OnlyHibernate is Options.Only for hibernate now's share by the guest's clock (with -icount).
const OnlyHibernate = "hibernate"

const hibernateIcountHeading = "## Hibernating, by the guest's clock (-icount)"

// HibernateIcountResult is hibernate now's share, in rounds, each of fresh guests under -icount.
type HibernateIcountResult struct {
	Icount int
	Rounds [][]HibernateRun
	Took   time.Duration
}

// runHibernateIcount hibernates rounds×runs fresh guests with hibernate now under -icount shift.
func runHibernateIcount(ctx context.Context, a scenario.Artifacts, shift, rounds, runs int, say func(string, ...any)) *HibernateIcountResult {
	r := &HibernateIcountResult{Icount: shift}
	start := time.Now()
	for i := 0; i < rounds; i++ {
		var round []HibernateRun
		for j := 0; j < runs; j++ {
			h := hibernateOnce(ctx, a, methodNow, fmt.Sprintf("bench-hib-icount-%d-%d", i, j), scenario.Icount(shift))
			say("hibernate now under -icount %d, round %d run %d: first line to the kernel's entry %s (%v)", shift, i+1, j+1, h.BeforeEntry, h.Err)
			round = append(round, h)
		}
		r.Rounds = append(r.Rounds, round)
	}
	r.Took = time.Since(start)
	return r
}

// HibernateIcountMarkdown is the section of the report.
func HibernateIcountMarkdown(r *HibernateIcountResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", hibernateIcountHeading)
	fmt.Fprintf(&b, "hibernate now's share, from its first kernel-log line to the kernel's `hibernation entry` (the checks, the lock, the\n")
	fmt.Fprintf(&b, "hooks, the record, the settings and the sync), on the kernel's clock under QEMU's `-icount shift=%d,align=off,sleep=off`\n", r.Icount)
	fmt.Fprintf(&b, "(the guest's clock advances %d ns an instruction, whatever the host's load). Fresh guests as in the section above\n", 1<<r.Icount)
	fmt.Fprintf(&b, "(512 MiB, the 64 MiB job, the default --image-size), in %d rounds run one after the other, to show that the figure holds.\n", len(r.Rounds))
	fmt.Fprintf(&b, "`go run ./qemu-tests/bench/cmd/bench -only hibernate -icount %d` (part of `make bench`).\n\n", r.Icount)
	b.WriteString("| round | runs | share, median | min–max | of it, the checks (median, min–max) | the sync (median, min–max) | the rest (median, min–max) |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for i, round := range r.Rounds {
		var v, checks, syncs, rest []float64
		for _, h := range round {
			if h.Err != nil || h.BeforeEntry <= 0 {
				continue
			}
			c, s := nowParts(h.Log)
			v, checks, syncs = append(v, msOf(h.BeforeEntry)), append(checks, msOf(c)), append(syncs, msOf(s))
			rest = append(rest, msOf(h.BeforeEntry-c-s))
		}
		if len(v) == 0 {
			fmt.Fprintf(&b, "| %d | 0 | — | — | — | — | — |\n", i+1)
			continue
		}
		fmt.Fprintf(&b, "| %d | %d | %.0f ms | %.0f–%.0f ms | %.0f ms (%.0f–%.0f) | %.0f ms (%.0f–%.0f) | %.0f ms (%.0f–%.0f) |\n", i+1, len(v),
			median(v), slices.Min(v), slices.Max(v), median(checks), slices.Min(checks), slices.Max(checks),
			median(syncs), slices.Min(syncs), slices.Max(syncs), median(rest), slices.Min(rest), slices.Max(rest))
	}
	if t := checkTimesTable(r.Rounds); t != "" {
		b.WriteString("\nThe checks one by one, over the runs of both rounds (hibernate now's `check times` line: each check's own work,\n")
		b.WriteString("those that took a millisecond or more):\n\n")
		b.WriteString(t)
	}
	b.WriteString("\nThe checks and the sync are read from hibernate now's own kernel-log lines (`checks done in`, `syncing file systems` to\n")
	b.WriteString("`writing disk`). A wait on the disk executes no instructions, but the guest's clock does not stop across it: with\n")
	b.WriteString("sleep=off QEMU moves it on to the next timer while the guest waits. So the parts that read the disk for the first time\n")
	b.WriteString("(the initramfs check reads the running kernel's initramfs, image-record the swap header, the sync) count more than their\n")
	b.WriteString("instructions and move with the host's disk: `hibernate check` run twice in a row in one guest under -icount took\n")
	b.WriteString("164 ms, then 75 ms with the page cache warm (2026-12-04 at cd5b5ef, a -tags cpuprofile build, whose profile put\n")
	b.WriteString("most of the rest in the parse of our initramfs's config, then 24 KiB, the sysfs reads and the JSON printed). The\n")
	b.WriteString("computing part is what holds. The first JSON parse of a run, with the decoder's tables for its types, falls in the\n")
	b.WriteString("initramfs check since 2e0fbe5 (our config): the swap check no longer parses setup's record unless it names a\n")
	b.WriteString("hibernation file (swap 35 -> 4 ms, initramfs 29 -> 42 ms, side by side on 2026-12-04).\n")
	fmt.Fprintf(&b, "\nThe run took %s.\n", r.Took.Round(time.Second))
	return b.String()
}

// msOf is d in milliseconds.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// nowParts reads hibernate now's kernel-log lines in a console log: the checks' time (its
// "checks done in N ms") and the sync's ("syncing file systems" to "writing disk"); 0 where not
// there.
func nowParts(log string) (checks, sync time.Duration) {
	syncAt := -1.0
	for _, l := range kernelLines(log) {
		switch {
		case strings.Contains(l.text, "hibernate: checks done in "):
			var n int
			if _, err := fmt.Sscanf(l.text[strings.Index(l.text, "checks done in ")+len("checks done in "):], "%d ms", &n); err == nil {
				checks = time.Duration(n) * time.Millisecond
			}
		case strings.Contains(l.text, "hibernate: syncing file systems"):
			syncAt = l.at
		case strings.Contains(l.text, "hibernate: writing disk to /sys/power/state") && syncAt >= 0:
			sync = time.Duration((l.at - syncAt) * float64(time.Second))
		}
	}
	return checks, sync
}

// checkTimes reads hibernate now's "check times: NAME N ms, …" line in a console log.
func checkTimes(log string) map[string]time.Duration {
	t := map[string]time.Duration{}
	for _, l := range kernelLines(log) {
		_, list, ok := strings.Cut(l.text, "hibernate: check times: ")
		if !ok {
			continue
		}
		for _, part := range strings.Split(list, ", ") {
			var name string
			var ms int
			if _, err := fmt.Sscanf(part, "%s %d ms", &name, &ms); err == nil {
				t[name] = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return t
}

// checkTimesTable is each check's time over the runs, the longest median first ("" when no
// run logged its check times). A check a run does not name took under a millisecond there.
func checkTimesTable(rounds [][]HibernateRun) string {
	per := map[string][]float64{}
	runs := 0
	for _, round := range rounds {
		for _, h := range round {
			if h.Err != nil {
				continue
			}
			t := checkTimes(h.Log)
			if len(t) == 0 {
				continue
			}
			runs++
			for n, d := range t {
				per[n] = append(per[n], msOf(d))
			}
		}
	}
	if runs == 0 {
		return ""
	}
	names := make([]string, 0, len(per))
	for n, v := range per {
		for len(v) < runs {
			v = append(v, 0)
		}
		per[n] = v
		names = append(names, n)
	}
	slices.SortFunc(names, func(x, y string) int {
		if c := cmp.Compare(median(per[y]), median(per[x])); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	var b strings.Builder
	b.WriteString("| check | runs | median | min–max |\n| --- | --- | --- | --- |\n")
	for _, n := range names {
		v := per[n]
		fmt.Fprintf(&b, "| %s | %d | %.0f ms | %.0f–%.0f ms |\n", n, runs, median(v), slices.Min(v), slices.Max(v))
	}
	return b.String()
}
