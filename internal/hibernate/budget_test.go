package hibernate

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The records of a resumed log, as Debian 12's 6.1 left them in a guest (TestRoundTrip's
// console: our line, then the kernel's up to the snapshot, then the resumed kernel's).
var resumedLog61 = []string{
	"12,880,8830177,-;hibernate: writing disk to /sys/power/state: the machine hibernates now",
	"6,881,8831829,-;PM: hibernation: hibernation entry",
	"6,885,8849072,-;PM: hibernation: Preallocating image memory",
	"6,886,10022484,-;PM: hibernation: Allocated 42849 pages for snapshot",
	"6,890,10056037,-;PM: hibernation: Creating image:",
	"6,891,10088205,-;PM: hibernation: Need to copy 42738 pages",
	"6,893,10179408,-;PM: hibernation: hibernation exit",
	"12,894,10309079,-;hibernate: resumed after 6s off; the kernel log after the resume does not say how long the restore took",
}

func records(lines ...string) []logRecord {
	var out []logRecord
	for _, l := range lines {
		out = append(out, parseKmsgRecord(l))
	}
	return out
}

func TestFreezeFromLog(t *testing.T) {
	for _, c := range []struct {
		name   string
		lines  []string
		freeze time.Duration
		pages  int64
		ok     bool
	}{
		{"6.1", resumedLog61, 1258028 * time.Microsecond, 42738, true},
		{"6.12", []string{"12,1,8471079,-;hibernate: writing disk to /sys/power/state: the machine hibernates now",
			"6,2,9744219,-;PM: hibernation: Need to copy 38962 pages"}, 1273140 * time.Microsecond, 38962, true},
		{"the last hibernation's", append([]string{"12,1,1000000,-;" + writeDiskLine, "6,2,2000000,-;PM: Need to copy 5 pages"},
			resumedLog61...), 1258028 * time.Microsecond, 42738, true},
		{"no snapshot after our line", []string{"6,2,2000000,-;PM: Need to copy 5 pages", "12,3,3000000,-;" + writeDiskLine}, 0, 0, false},
		{"our line without a time", []string{writeDiskLine, "6,2,2000000,-;PM: Need to copy 5 pages"}, 0, 0, false},
		{"no pages", []string{"12,1,1000000,-;" + writeDiskLine, "6,2,2000000,-;PM: Need to copy many pages"}, 0, 0, false},
		{"nothing", nil, 0, 0, false},
	} {
		freeze, pages, ok := freezeFromLog(records(c.lines...))
		if freeze != c.freeze || pages != c.pages || ok != c.ok {
			t.Errorf("%s: freezeFromLog = %s, %d pages, %v; want %s, %d, %v", c.name, freeze, pages, ok, c.freeze, c.pages, c.ok)
		}
	}
}

func TestParseKmsgRecord(t *testing.T) {
	for in, want := range map[string]logRecord{
		"6,120,9000000,-;PM: x":  {9 * time.Second, "PM: x"},
		"6,120,9000000,c,x;a;b":  {9 * time.Second, "a;b"},
		"hibernate: plain":       {-1, "hibernate: plain"},
		"6,120,-5,-;negative":    {-1, "negative"},
		"6,120,nine,-;not a num": {-1, "not a num"},
		"a;b":                    {-1, "a;b"},
	} {
		if got := parseKmsgRecord(in); got != want {
			t.Errorf("parseKmsgRecord(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func FuzzFreezeFromLog(f *testing.F) {
	f.Add(strings.Join(resumedLog61, "\n"))
	f.Add("12,1,1,-;" + writeDiskLine + "\n6,2,0,-;Need to copy -3 pages")
	f.Fuzz(func(t *testing.T, log string) {
		freeze, pages, ok := freezeFromLog(records(strings.Split(log, "\n")...))
		if ok && pages <= 0 {
			t.Errorf("ok with %d pages (freeze %s)", pages, freeze)
		}
	})
}

// budgetTree is a 1 GiB machine with 300 MiB in use, 200 MiB of it anonymous or shmem and 20
// MiB page cache no process maps, and the kernel's image_size of 400 MiB.
func budgetTree(t *testing.T) *faketree.Tree {
	tr := ready(t)
	tr.Meminfo(map[string]int64{"MemTotal": 1 << 20, "MemFree": 1<<20 - 300<<10, "AnonPages": 150 << 10, "Shmem": 50 << 10,
		"Cached": 80 << 10, "Mapped": 10 << 10})
	tr.Write("sys/power/image_size", "419430400\n")
	return tr
}

func TestPredictBudgetAssumed(t *testing.T) {
	tr := budgetTree(t)
	b, err := PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel})
	if err != nil {
		t.Fatal(err)
	}
	write := time.Duration(float64(300<<20) / AssumedWriteSpeed * float64(time.Second))
	if b.ImageBytes != 300<<20 || b.Measured || b.Speed != AssumedWriteSpeed || b.Write != write || b.Freeze != AssumedFreeze || b.Hooks != 0 {
		t.Errorf("budget = %+v", b)
	}
	if b.Margin != MinMargin || b.Total != write+AssumedFreeze+MinMargin {
		t.Errorf("margin %s, total %s", b.Margin, b.Total)
	}
	if !strings.Contains(b.String(), "image ~300 MiB at 40 MiB/s (assumed: no canary measured it here") {
		t.Errorf("String() = %q", b.String())
	}
}

// The image: page cache is freed down to image_size, never the anonymous memory and shmem.
func TestPredictBudgetImage(t *testing.T) {
	tr := budgetTree(t)
	for _, c := range []struct {
		imageSize string
		want      int64
	}{
		{"kernel", 300 << 20}, // all that is in use fits in the kernel's 400 MiB
		{"auto", 280 << 20},   // the unmapped page cache left out
		{"", 280 << 20},       // auto
		{"min", 200 << 20},    // the page cache freed, anon and shmem stay (in the image or swapped out)
		{"250M", 250 << 20},   // freed down to the size asked
		{"100M", 200 << 20},   // never below anon + shmem
		{"1G", 300 << 20},     // all in use
		{"nonsense", -1},
	} {
		b, err := PredictBudget(tr.FS(), BudgetOptions{ImageSize: c.imageSize})
		if (err != nil) != (c.want < 0) || (err == nil && b.ImageBytes != c.want) {
			t.Errorf("image-size %q: %d MiB, %v; want %d MiB", c.imageSize, b.ImageBytes>>20, err, c.want>>20)
		}
	}
}

func TestPredictBudgetMeasured(t *testing.T) {
	tr := budgetTree(t)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	// The canary: 100 MiB written and read back in 2 s: 52 MB/s counted on.
	if err := writeTiming(tr.FS(), Timing{Canary: &Measured{At: at, Kernel: "6.12.57+deb13-amd64", Freeze: 2 * time.Second, Pages: 25600, Frozen: 2 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	b, err := PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Measured || b.Speed != float64(100<<20)/2 || b.Write != 6*time.Second || b.Freeze != 2*time.Second ||
		!strings.Contains(b.SpeedFrom, "the canary of 2026-12-02 10:00:00 on 6.12.57+deb13-amd64: 100 MiB written and read back in 2s") {
		t.Errorf("budget after a canary = %+v", b)
	}
	// A hibernation since: its freeze and hooks; the canary's speed still.
	tm, _ := ReadTiming(tr.FS())
	tm.Last = &Measured{At: at.Add(time.Hour), Hooks: 30 * time.Second, Freeze: 10 * time.Second, Pages: 1000}
	writeTiming(tr.FS(), tm)
	if b, err = PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel}); err != nil {
		t.Fatal(err)
	}
	if b.Hooks != 30*time.Second || b.Freeze != 10*time.Second || b.Write != 6*time.Second || b.Margin != 11500*time.Millisecond || b.Total != 57500*time.Millisecond {
		t.Errorf("budget after a hibernation = %+v", b)
	}
	// A speed given wins.
	if b, _ = PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel, Speed: 300 << 20}); b.Write != time.Second || b.SpeedFrom != "given (write-speed)" {
		t.Errorf("budget with a speed given = %+v", b)
	}
	tr.Write(TimingName, "{not json")
	if _, err := PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel}); err == nil || !strings.Contains(err.Error(), "timing.json") {
		t.Errorf("a broken timing file: %v", err)
	}
}

// resumeWrite plays the kernel of a hibernation and resume: the log as the resume leaves it,
// our line and the kernel's before the snapshot, stamped.
func resumeWrite(lines ...string) func(fs sysfs.FS, file, value string) error {
	return func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			f, _ := os.OpenFile(fs.Path("dev/kmsg"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			f.WriteString(strings.Join(lines, "\n") + "\n")
			f.Close()
		}
		return fs.WriteString(file, value)
	}
}

// hibernate now keeps, after the resume, the freeze and the image's pages its log says, and the
// pre hooks' time; the canary its own, apart.
func TestNowKeepsTiming(t *testing.T) {
	tr := budgetTree(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-slow", "[ \"$1\" = pre ] && sleep 0.2")
	if _, err := Now(tr.FS(), Options{Mode: "shutdown", write: resumeWrite(resumedLog61[:6]...)}); err != nil {
		t.Fatal(err)
	}
	tm, err := ReadTiming(tr.FS())
	if err != nil || tm.Last == nil || tm.Canary != nil {
		t.Fatalf("timing after hibernate now = %+v, %v", tm, err)
	}
	if l := tm.Last; l.Freeze != 1258028*time.Microsecond || l.Pages != 42738 || l.Hooks < 200*time.Millisecond || l.Hooks > 5*time.Second || l.Kernel != testRelease {
		t.Errorf("kept %+v", l)
	}
	b, _ := PredictBudget(tr.FS(), BudgetOptions{ImageSize: ImageSizeKernel})
	if b.Freeze != 1258028*time.Microsecond || b.Hooks != tm.Last.Hooks || b.Measured {
		t.Errorf("budget after the hibernation = %+v", b)
	}

	// A resumed log without the snapshot's line: said, nothing kept, the old timing stays.
	before, _ := os.ReadFile(tr.FS().Path(TimingName))
	var out strings.Builder
	if _, err := Now(tr.FS(), Options{NoHooks: true, Out: &out, write: resumeWrite("6,1,1,-;PM: hibernation: hibernation exit")}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(tr.FS().Path(TimingName)); string(after) != string(before) || !strings.Contains(out.String(), "no timing kept") {
		t.Errorf("timing changed to %s; said %s", after, out.String())
	}
}

func TestCanaryKeepsTiming(t *testing.T) {
	tr := budgetTree(t)
	since66(t, tr)
	if _, err := Canary(tr.FS(), Options{NoHooks: true, write: resumeWrite(resumedLog61[:6]...)}); err != nil {
		t.Fatal(err)
	}
	tm, err := ReadTiming(tr.FS())
	if err != nil || tm.Canary == nil || tm.Last != nil || tm.Canary.Pages != 42738 || tm.Canary.Kernel != "6.12.57+deb13-amd64" {
		t.Fatalf("timing after the canary = %+v %+v, %v", tm, tm.Canary, err)
	}
}
