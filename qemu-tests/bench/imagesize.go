package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// The image's size (issue 17): hibernate now's three choices of /sys/power/image_size, the
// kernel's (2/5 of RAM), min (0) and auto (what processes hold, without the page cache none
// maps), against the whole interruption they cause. One guest boot of 1 GiB whose job holds 320
// MiB and reads a file of 128 MiB in every pass (its page cache), every hibernation resumed by
// our initramfs; a warm-up first, not counted, then rounds that rotate the order. Before each
// hibernation the job is paused (its passes stop: demojob's pause file), so that its first pass
// after the resume is a whole one, all of it after the resume; the pass gets back from the disk
// what the image left out (anonymous memory swapped out, page cache dropped).

// OnlyImageSize is Options.Only for the image-size section.
const OnlyImageSize = "imagesize"

const imageSizeHeading = "## The image's size"

// The guest of the section.
const (
	imageSizeMemMiB  = 1024
	imageSizeJobMiB  = 320
	imageSizeFileMiB = 128
)

// ImageSizeChoices are hibernate now's --image-size values measured, in the first round's order.
var ImageSizeChoices = []string{"kernel", "min", "auto"}

// ImageSizeTrial is one hibernation and resume with one choice.
type ImageSizeTrial struct {
	Choice    string
	Seq       int
	Asked     int64 // bytes written to /sys/power/image_size (-1: left as it was)
	Used      int64 // MemTotal − MemFree before the hibernation
	ImageKiB  int64 // the kernel's "Wrote N kbytes"
	Prealloc  time.Duration
	Write     time.Duration
	Read      time.Duration
	FirstPass time.Duration // the job's first pass after the resume
	Steady    time.Duration // its next pass, all in memory again
	Hibernate time.Duration // hibernate now's request to QEMU gone
	Resume    time.Duration // QEMU start to the job's first line
	Err       error
}

// Interruption is what the choice costs the job: the kernel freeing memory, writing and
// reading the image, and the first pass's time beyond a pass in memory.
func (t ImageSizeTrial) Interruption() time.Duration {
	return t.Prealloc + t.Write + t.Read + max(0, t.FirstPass-t.Steady)
}

// ImageSizeResult is the section's run.
type ImageSizeResult struct {
	Kernel string
	Trials []ImageSizeTrial
	Took   time.Duration
	Err    error
}

func runImageSize(ctx context.Context, a scenario.Artifacts, rounds int, say func(string, ...any)) *ImageSizeResult {
	r := &ImageSizeResult{Kernel: a.Kernel.Release}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(len(ImageSizeChoices)*rounds+1)*4*time.Minute)
	defer cancel()
	m, err := scenario.New(ctx, a, "bench-imagesize", scenario.Memory(imageSizeMemMiB), scenario.SwapPartition(imageSizeMemMiB),
		scenario.JobState(imageSizeJobMiB), scenario.JobFile(imageSizeFileMiB), scenario.JobPausable(), scenario.JobTicks(1))
	if err != nil {
		r.Err = err
		return r
	}
	defer os.RemoveAll(filepath.Dir(m.Guest.Disk))
	vm, _, err := m.Boot(ctx, "")
	defer func() {
		if vm != nil {
			vm.Kill()
		}
	}()
	if err == nil {
		err = scenario.Do(ctx, vm, m.SetupSwap, m.StartJob)
	}
	if err != nil {
		r.Err = err
		return r
	}
	order := []string{"kernel"} // the warm-up
	for i := 0; i < rounds; i++ {
		for j := range ImageSizeChoices {
			order = append(order, ImageSizeChoices[(i+j)%len(ImageSizeChoices)])
		}
	}
	for i, choice := range order {
		t, next := imageSizeTrial(ctx, m, vm, choice, i)
		if next != nil {
			vm.Kill()
			vm = next
		}
		if i == 0 {
			say("image size: warm-up (%s, not counted): %v", choice, t.Err)
		} else {
			r.Trials = append(r.Trials, t)
			say("image size trial %d %s: asked %d MiB of %d MiB in use; freed in %s, wrote %d KiB in %s, read in %s; first pass %s (steady %s): %s (%v)",
				i, choice, t.Asked>>20, t.Used>>20, t.Prealloc, t.ImageKiB, t.Write, t.Read, t.FirstPass, t.Steady, t.Interruption().Round(10*time.Millisecond), t.Err)
		}
		if t.Err != nil {
			r.Err = t.Err
			return r
		}
	}
	return r
}

var imageSizeWrite = regexp.MustCompile(`write (\d+) to /sys/power/image_size`)

// imageSizeTrial pauses the job, hibernates the running guest with --image-size choice, resumes
// it, lets the job go on and times its first two passes; it returns the resumed VM (nil where
// the resume did not start).
func imageSizeTrial(ctx context.Context, m *scenario.Machine, vm *harness.VM, choice string, seq int) (ImageSizeTrial, *harness.VM) {
	t := ImageSizeTrial{Choice: choice, Seq: seq, Asked: -1}
	fail := func(err error) (ImageSizeTrial, *harness.VM) { t.Err = err; return t, nil }
	mark := len(vm.ConsoleLines())
	if err := vm.WriteFile(ctx, scenario.JobPauseFile, []byte("pause\n"), 0o644); err != nil {
		return fail(err)
	}
	if _, err := scenario.WaitJobLine(ctx, vm, mark, func(l demojob.Line) bool { return l.Paused }); err != nil {
		return fail(fmt.Errorf("the job did not pause: %w", err))
	}
	b, err := vm.ReadFile(ctx, "/proc/meminfo")
	if err != nil {
		return fail(err)
	}
	mem := sysfs.ParseMeminfo(b)
	t.Used = mem["MemTotal"] - mem["MemFree"]
	m.Config.NowFlags = []string{"--image-size", choice}
	mark = len(vm.ConsoleLines())
	if err := m.HibernateNow(ctx, vm); err != nil {
		return fail(err)
	}
	down := vm.ConsoleLines()[mark:]
	t.Hibernate = m.Summary.HibernateTime
	for _, l := range down {
		if s := imageSizeWrite.FindStringSubmatch(l); s != nil {
			t.Asked, _ = strconv.ParseInt(s[1], 10, 64)
		}
	}
	if t.ImageKiB, t.Write, _, err = scenario.KernelSpeed(down, "Wrote"); err != nil {
		return fail(err)
	}
	if _, d, _, err := scenario.KernelSpeed(down, "Allocated"); err == nil {
		t.Prealloc = d
	}
	next, err := resumeTimed(ctx, m, &t.Resume, &t.Read)
	if err != nil {
		t.Err = err
		return t, next
	}
	mark = len(next.ConsoleLines())
	if err := next.WriteFile(ctx, scenario.JobPauseFile, []byte("run\n"), 0o644); err != nil {
		t.Err = err
		return t, next
	}
	whole := func(l demojob.Line) bool { return !l.Paused && l.Pass > 0 }
	first, err := scenario.WaitJobLine(ctx, next, mark, whole)
	if err == nil {
		t.FirstPass = first.Pass
		var steady demojob.Line
		steady, err = scenario.WaitJobLine(ctx, next, mark, func(l demojob.Line) bool { return whole(l) && l.Count > first.Count })
		t.Steady = steady.Pass
	}
	t.Err = err
	return t, next
}

// ImageSizeMarkdown is the section of the report.
func ImageSizeMarkdown(r *ImageSizeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", imageSizeHeading)
	fmt.Fprintf(&b, "`hibernate now --image-size` kernel (the kernel's image_size, 2/5 of RAM), min (0) and auto (what processes hold, without\n")
	b.WriteString("the page cache none maps), Debian 12's " + r.Kernel + ", one guest boot of " + fmt.Sprint(imageSizeMemMiB) + " MiB whose job holds " + fmt.Sprint(imageSizeJobMiB) + " MiB\n")
	fmt.Fprintf(&b, "and reads a file of %d MiB in every pass (its page cache), each hibernation resumed by our initramfs; a warm-up first,\n", imageSizeFileMiB)
	b.WriteString("not counted, then rounds in rotating order. The job is paused before each hibernation and let go after the\n")
	b.WriteString("resume, so that its first pass is whole and all after the resume: it gets back from the disk what the image left out.\n")
	b.WriteString("Freeing: the kernel's `Allocated … in S seconds` (memory freed down to image_size: page cache dropped,\n")
	b.WriteString("anonymous memory swapped out). Write and read: the kernels' `Wrote` and `Read` lines. Interruption: freeing +\n")
	b.WriteString("write + read + the first pass's time beyond a pass in memory (the next one).\n")
	b.WriteString("`go run ./qemu-tests/bench/cmd/bench -only imagesize` (part of `make bench`).\n\n")
	if r.Err != nil {
		fmt.Fprintf(&b, "Not measured: %v\n", r.Err)
		return b.String()
	}
	b.WriteString("| --image-size | trials | asked | image (MiB) | freeing | write | read | first pass after the resume | pass in memory | interruption (median, min–max) | hibernate, request to off | resume, QEMU start to the job |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	meds := map[string]float64{}
	for _, choice := range ImageSizeChoices {
		var asked, img, pre, w, rd, first, steady, total, hib, res []float64
		for _, t := range r.Trials {
			if t.Choice != choice || t.Err != nil {
				continue
			}
			asked, img = append(asked, float64(t.Asked)), append(img, float64(t.ImageKiB)/1024)
			pre, w, rd = append(pre, t.Prealloc.Seconds()), append(w, t.Write.Seconds()), append(rd, t.Read.Seconds())
			first, steady = append(first, t.FirstPass.Seconds()), append(steady, t.Steady.Seconds())
			total, hib, res = append(total, t.Interruption().Seconds()), append(hib, t.Hibernate.Seconds()), append(res, t.Resume.Seconds())
		}
		if len(total) == 0 {
			continue
		}
		meds[choice] = median(total)
		a := "as it was"
		if v := median(asked); v >= 0 {
			a = fmt.Sprintf("%.0f MiB", v/(1<<20))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s (%.2f–%.2f) | %.1f s | %.1f s |\n",
			choice, len(total), a, median(img), median(pre), median(w), median(rd), median(first), median(steady),
			median(total), slices.Min(total), slices.Max(total), median(hib), median(res))
	}
	best := ""
	for _, c := range ImageSizeChoices {
		if _, ok := meds[c]; ok && (best == "" || meds[c] < meds[best]) {
			best = c
		}
	}
	if best == "" {
		return b.String()
	}
	worst := best
	for c := range meds {
		if meds[c] > meds[worst] {
			worst = c
		}
	}
	if meds[worst] < 1.1*meds[best] {
		fmt.Fprintf(&b, "\nMedians of this run: the three within %.0f%% of each other (%.2f s to %.2f s): no choice is clearly shorter here. ",
			100*(meds[worst]/meds[best]-1), meds[best], meds[worst])
	} else {
		fmt.Fprintf(&b, "\nThe shortest interruption, medians of this run: %s (%.2f s); %s %.2f× that. ", best, meds[best], worst, meds[worst]/meds[best])
	}
	// The two ways to treat a MiB: in the image (written and read back) or left out (freed,
	// then got back by the first pass), from kernel's and min's medians.
	k, m := choiceMedians(r, "kernel"), choiceMedians(r, "min")
	if k.img > m.img && k.img > 0 {
		inImage := (k.write + k.read) / k.img
		leftOut := ((m.pre - k.pre) + (m.extra - k.extra)) / (k.img - m.img)
		fmt.Fprintf(&b, "A MiB in the image cost %.1f ms (written and read back: kernel's %.0f MiB in %.2f s); a MiB left out cost %.1f ms "+
			"(freed, then read back by the first pass: min left out %.0f MiB more, for %.2f s more freeing and first pass): ",
			1000*inImage, k.img, k.write+k.read, 1000*leftOut, k.img-m.img, (m.pre-k.pre)+(m.extra-k.extra))
		switch {
		case leftOut > 1.2*inImage:
			b.WriteString("what the processes hold is cheaper kept in the image, which is what auto does, and why `hibernate now` asks for auto by default.")
		case inImage > 1.2*leftOut:
			b.WriteString("here memory left out was cheaper than memory kept: `--image-size min` would have been the better default on this machine.")
		default:
			b.WriteString(autoSame)
		}
	}
	fmt.Fprintf(&b, " The run took %s.\n", r.Took.Round(time.Second))
	return b.String()
}

// autoSame is what the report says where a MiB costs about the same either way.
const autoSame = "the two cost about the same here (within 20%), so the choice moves the interruption little on this machine. " +
	"`hibernate now` asks for auto by default: below the kernel's 2/5 of RAM where processes hold less (the page cache none maps stays " +
	"out: less to write and read), above it where they hold more (their memory stays out of swap, read back a page at a time as they touch it)."

// choiceStats are one choice's medians, in seconds and MiB.
type choiceStats struct{ img, pre, write, read, extra float64 }

func choiceMedians(r *ImageSizeResult, choice string) choiceStats {
	var img, pre, w, rd, extra []float64
	for _, t := range r.Trials {
		if t.Choice == choice && t.Err == nil {
			img, pre = append(img, float64(t.ImageKiB)/1024), append(pre, t.Prealloc.Seconds())
			w, rd = append(w, t.Write.Seconds()), append(rd, t.Read.Seconds())
			extra = append(extra, max(0, t.FirstPass-t.Steady).Seconds())
		}
	}
	if len(img) == 0 {
		return choiceStats{}
	}
	return choiceStats{median(img), median(pre), median(w), median(rd), median(extra)}
}
