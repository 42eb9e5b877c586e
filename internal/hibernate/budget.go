package hibernate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// The runtime budget: how long hibernating takes now, from the decision until the machine is
// off, for `hibernate watch` to decide while a UPS still has that much runtime left.
//
// What can be measured, and where (seen in the guests): the kernel prints how long it took to
// write the image ("PM: hibernation: Wrote N kbytes in S seconds") after the snapshot, so the
// log that comes back with the resume (the snapshot's) never holds that line; nor the booting
// kernel's "Read" line, nor "Image created". It does hold what came before the snapshot: our
// "writing disk" line and the kernel's "Need to copy N pages", both stamped by the log's clock,
// so every hibernation measures the freeze (freezing, the page cache freed, the snapshot begun)
// and the image's size. The write itself is measured by `hibernate canary` (test_resume): the
// time the machine was frozen for the image written and read back, an upper bound of the write.
// Where neither measured it, an assumed speed is said as assumed.

// TimingName is the file below the root where hibernate now and the canary keep what they measured.
const TimingName = "var/lib/hibernate/timing.json"

// AssumedWriteSpeed (bytes/s) stands in for a write speed nothing measured: below what the
// guests' virtual disks and a laptop's hard disk do, with the kernel's compression.
const AssumedWriteSpeed = 40 << 20

// AssumedFreeze stands in for a freeze no hibernation measured yet (1.3 s in a 512 MiB guest,
// most of it the page cache freed).
const AssumedFreeze = 5 * time.Second

// MinMargin is the least margin the budget adds; it adds a quarter of the rest where that is more.
const MinMargin = 10 * time.Second

// Timing is what the last hibernation and the last canary measured.
type Timing struct {
	Last   *Measured `json:"last,omitempty"`   // the last hibernate now that came back
	Canary *Measured `json:"canary,omitempty"` // the last hibernate canary that came back
}

// Measured is what one hibernation (or canary) measured.
type Measured struct {
	At     time.Time     `json:"at"`
	Kernel string        `json:"kernel"`    // uname -r
	Hooks  time.Duration `json:"hooks_ns"`  // the pre hooks, by the wall clock
	Freeze time.Duration `json:"freeze_ns"` // our "writing disk" line to the kernel's "Need to copy", by the log's clock
	Pages  int64         `json:"image_pages"`
	// Frozen is, for a canary, how long the machine was frozen for the image written and read
	// back (Result.Asleep).
	Frozen time.Duration `json:"frozen_ns,omitempty"`
	// Write is the kernel's own figure, where the log after the return has its line (none seen).
	Write time.Duration `json:"write_ns,omitempty"`
}

// ReadTiming reads the timing file below fs; a machine that never hibernated has none (no error).
func ReadTiming(fs sysfs.FS) (Timing, error) {
	var t Timing
	b, err := os.ReadFile(fs.Path(TimingName))
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("read %s: %w", fs.Path(TimingName), err)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return Timing{}, fmt.Errorf("read %s: %w", fs.Path(TimingName), err)
	}
	return t, nil
}

// writeTiming writes t below fs, whole or not at all (swapsetup.WriteConfig: a synced new file
// renamed over the old).
func writeTiming(fs sysfs.FS, t Timing) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return swapsetup.WriteConfig(fs, TimingName, string(b)+"\n")
}

// logRecord is one record of the kernel log: its time since boot by the log's clock (-1 when
// the record had no header, as a test's plain line) and its text.
type logRecord struct {
	At  time.Duration
	Msg string
}

// writeDiskLine is the line hibernate now logs just before it writes disk; the log's readers
// take what follows its last one.
const writeDiskLine = "hibernate: writing disk to /sys/power/state"

// freezeFromLog finds, after our last line before the write of disk, the kernel's "Need to copy
// N pages" (printed as the snapshot begins, so the resumed log has it): the time between the
// two and the image's pages. ok is false where the log has not both, stamped.
func freezeFromLog(recs []logRecord) (freeze time.Duration, pages int64, ok bool) {
	start := -1
	for i, r := range recs {
		if strings.Contains(r.Msg, writeDiskLine) {
			start = i
		}
	}
	if start < 0 || recs[start].At < 0 {
		return 0, 0, false
	}
	for _, r := range recs[start+1:] {
		i := strings.Index(r.Msg, "Need to copy ")
		if i < 0 || r.At < 0 {
			continue
		}
		if _, err := fmt.Sscanf(r.Msg[i:], "Need to copy %d pages", &pages); err != nil || pages <= 0 {
			return 0, 0, false
		}
		return r.At - recs[start].At, pages, true
	}
	return 0, 0, false
}

// recordTiming keeps what the hibernation that just came back measured: the pre hooks' time
// from res, the freeze and the image's pages from the kernel log, and for a canary the time
// frozen. It says what it kept, or why nothing.
func (a *applier) recordTiming(recs []logRecord) {
	freeze, pages, ok := freezeFromLog(recs)
	if !ok {
		a.k.logf("the kernel log after the resume lacks the \"Need to copy N pages\" line after ours: no timing kept for the runtime budget")
		return
	}
	m := &Measured{At: time.Now().UTC().Round(time.Second), Freeze: freeze, Pages: pages, Write: a.res.Write}
	if u, err := a.fs.Uname(); err == nil {
		m.Kernel = u.Release
	}
	for _, h := range a.res.Hooks {
		if len(h.Args) > 0 && h.Args[0] == "pre" {
			m.Hooks += h.Duration
		}
	}
	t, err := ReadTiming(a.fs)
	if err != nil {
		a.k.logf("%v: writing it anew", err)
	}
	what := "hibernation"
	if a.o.testResume {
		m.Frozen = a.res.Asleep
		t.Canary = m
		what = "canary"
	} else {
		t.Last = m
	}
	if err := writeTiming(a.fs, t); err != nil {
		a.k.logf("timing not kept: %v", err)
		return
	}
	line := fmt.Sprintf("kept this %s's timing in /%s: pre hooks %s, freeze %s, image %d pages (%d MiB)",
		what, TimingName, m.Hooks.Round(time.Millisecond), m.Freeze.Round(time.Millisecond), pages, pages*pageSize>>20)
	if m.Frozen > 0 {
		line += fmt.Sprintf(", written and read back in %s", m.Frozen.Round(time.Millisecond))
	}
	a.k.logf("%s", line)
}

const pageSize = 4096

// Budget is the prediction of how long hibernating takes now, from the decision to the machine off.
type Budget struct {
	Total      time.Duration `json:"total_ns"`
	ImageBytes int64         `json:"image_bytes"` // what the image (and the memory swapped out to make it) will write
	Speed      float64       `json:"write_bytes_per_s"`
	SpeedFrom  string        `json:"speed_from"`
	Measured   bool          `json:"speed_measured"` // false: Speed is AssumedWriteSpeed
	Hooks      time.Duration `json:"hooks_ns"`
	Freeze     time.Duration `json:"freeze_ns"`
	FreezeFrom string        `json:"freeze_from"`
	Write      time.Duration `json:"write_ns"`
	Margin     time.Duration `json:"margin_ns"`
}

// BudgetOptions are what the prediction may be told.
type BudgetOptions struct {
	ImageSize string  // hibernate now's --image-size: "" or auto (computed), kernel (image_size as it is), min, or bytes
	Speed     float64 // a write speed given by the user (bytes/s); 0: measured, else assumed
}

// PredictBudget predicts, from /proc/meminfo, /sys/power/image_size and the timing file below
// fs, how long hibernating would take now.
//
// The image: the kernel frees page cache until the image fits image_size, but never below what
// anonymous memory and shmem hold (the excess goes out to swap as the image is made, written to
// the same disk). So it writes max(min(used, image_size), AnonPages+Shmem), used being
// MemTotal-MemFree. The write: that over the speed; the kernel's figure counts pages before
// compression, as this does.
func PredictBudget(fs sysfs.FS, o BudgetOptions) (Budget, error) {
	var b Budget
	mem, err := fs.Meminfo()
	if err != nil {
		return b, err
	}
	limit, err := predictedImageSize(fs, o.ImageSize, mem)
	if err != nil {
		return b, err
	}
	used := mem["MemTotal"] - mem["MemFree"]
	b.ImageBytes = max(min(used, limit), mem["AnonPages"]+mem["Shmem"])
	t, err := ReadTiming(fs)
	if err != nil {
		return b, err
	}
	b.Speed, b.SpeedFrom, b.Measured = writeSpeed(t, o.Speed)
	b.Write = time.Duration(float64(b.ImageBytes) / b.Speed * float64(time.Second))
	switch {
	case t.Last != nil:
		b.Hooks, b.Freeze = t.Last.Hooks, t.Last.Freeze
		b.FreezeFrom = fmt.Sprintf("the hibernation of %s", t.Last.At.Format(time.DateTime))
	case t.Canary != nil:
		b.Freeze = t.Canary.Freeze
		b.FreezeFrom = fmt.Sprintf("the canary of %s", t.Canary.At.Format(time.DateTime))
	default:
		b.Freeze, b.FreezeFrom = AssumedFreeze, "assumed: no hibernation measured here yet"
	}
	rest := b.Hooks + b.Freeze + b.Write
	b.Margin = max(MinMargin, rest/4)
	b.Total = rest + b.Margin
	return b, nil
}

// writeSpeed is the speed to count on, where it comes from, and whether it was measured: the
// user's, the kernel's own figure, the canary's (written and read back: below the write's own),
// else assumed.
func writeSpeed(t Timing, given float64) (float64, string, bool) {
	switch {
	case given > 0:
		return given, "given (write-speed)", true
	case t.Last != nil && t.Last.Write > 0 && t.Last.Pages > 0:
		return float64(t.Last.Pages*pageSize) / t.Last.Write.Seconds(),
			fmt.Sprintf("the kernel's, at the hibernation of %s", t.Last.At.Format(time.DateTime)), true
	case t.Canary != nil && t.Canary.Frozen > 0 && t.Canary.Pages > 0:
		c := t.Canary
		return float64(c.Pages*pageSize) / c.Frozen.Seconds(),
			fmt.Sprintf("the canary of %s on %s: %d MiB written and read back in %s", c.At.Format(time.DateTime), c.Kernel,
				c.Pages*pageSize>>20, c.Frozen.Round(10*time.Millisecond)), true
	}
	return AssumedWriteSpeed, "assumed: no canary measured it here (hibernate canary, on Linux 6.6 or later), none given (watch's write-speed)", false
}

// String is the budget in one line.
func (b Budget) String() string {
	return fmt.Sprintf("about %s: image ~%d MiB at %.0f MiB/s (%s) %s, pre hooks %s, freeze %s (%s), margin %s",
		b.Total.Round(time.Second), b.ImageBytes>>20, b.Speed/(1<<20), b.SpeedFrom, b.Write.Round(100*time.Millisecond),
		b.Hooks.Round(100*time.Millisecond), b.Freeze.Round(100*time.Millisecond), b.FreezeFrom, b.Margin.Round(time.Second))
}
