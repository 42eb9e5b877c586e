package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// The image's compressor (issue 17): lzo, the kernel's default, against lz4 (`hibernate now
// --compressor lz4`, Linux 6.9 and later), on Debian 13's 6.12, in one guest boot: after a
// warm-up hibernation that is not counted (the first of a boot carries the boot's page cache),
// pairs alternate their order (lzo lz4, lz4 lzo, …). Each figure is the kernels' own, from the
// console: the write ("Wrote N kbytes in S seconds", the hibernating kernel) and the read
// ("Read N kbytes in S seconds", the booting kernel), the image's size after compression; and
// the resume, QEMU's start to the job's first line.

// OnlyCompressor is Options.Only for the compressor section.
const OnlyCompressor = "compressor"

const compressorHeading = "## The image's compressor"

// CompressorTrial is one hibernation and resume.
type CompressorTrial struct {
	Compressor string
	Seq        int
	Pages      int64 // the kernel's "Wrote N kbytes", in KiB
	Compressed int64 // "Image size after compression", KiB
	Write      time.Duration
	Read       time.Duration
	Resume     time.Duration
	Err        error
}

// CompressorResult is the section's run.
type CompressorResult struct {
	Kernel string
	// Threads is /sys/power/hibernate_compression_threads as the guest read it, "" where the
	// kernel has no such file.
	Threads string
	Trials  []CompressorTrial
	Took    time.Duration
	Err     error // the run could not go on
}

// runCompressor runs pairs pairs in one Debian 13 guest.
func runCompressor(ctx context.Context, root string, pairs int, say func(string, ...any)) *CompressorResult {
	r := &CompressorResult{}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	a, err := scenario.Discover(root, scenario.DefaultFlavour)
	if err != nil {
		r.Err = err
		return r
	}
	if a.Kernel, err = scenario.FindKernel(testutil.KernelCache(), scenario.TrixieFlavour); err != nil {
		r.Err = fmt.Errorf("Debian 13's kernel (make kernels): %w", err)
		return r
	}
	a.WorkDir = filepath.Join(root, "build/bench")
	r.Kernel = a.Kernel.Release
	files, paths, err := scenario.LZ4Modules(a)
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(2*pairs+2)*3*time.Minute)
	defer cancel()
	m, err := scenario.New(ctx, a, "bench-compressor", scenario.Files(files...), scenario.JobTicks(1))
	if err != nil {
		r.Err = err
		return r
	}
	defer os.RemoveAll(filepath.Dir(m.Guest.Disk))
	vm, _, err := m.Boot(ctx, "")
	if vm != nil {
		defer func() { vm.Kill() }()
	}
	if err == nil {
		err = scenario.Do(ctx, vm, m.SetupSwap, m.StartJob)
	}
	if err == nil {
		_, err = vm.Run(ctx, append([]string{scenario.GuestAgentInit, "insmod"}, paths...)...)
	}
	if err != nil {
		r.Err = err
		return r
	}
	if b, err := vm.ReadFile(ctx, "/sys/power/hibernate_compression_threads"); err == nil {
		r.Threads = strings.TrimSpace(string(b))
	}
	order := []string{"lzo"} // the warm-up
	for p := 0; p < pairs; p++ {
		if p%2 == 0 {
			order = append(order, "lzo", "lz4")
		} else {
			order = append(order, "lz4", "lzo")
		}
	}
	for i, comp := range order {
		t, next := compressorTrial(ctx, m, vm, comp, i)
		if next != nil {
			vm.Kill()
			vm = next
		}
		if i == 0 {
			say("compressor: warm-up (%s, not counted): %v", comp, t.Err)
		} else {
			r.Trials = append(r.Trials, t)
			say("compressor trial %d %s: wrote %d KiB in %s (%d KiB compressed), read in %s, resumed in %s (%v)",
				i, comp, t.Pages, t.Write, t.Compressed, t.Read, t.Resume.Round(10*time.Millisecond), t.Err)
		}
		if t.Err != nil {
			r.Err = t.Err
			return r
		}
	}
	return r
}

// compressorTrial hibernates the running guest with comp and resumes it; it returns the
// resumed VM (nil where the resume did not start).
func compressorTrial(ctx context.Context, m *scenario.Machine, vm *harness.VM, comp string, seq int) (CompressorTrial, *harness.VM) {
	t := CompressorTrial{Compressor: comp, Seq: seq}
	m.Config.NowFlags = []string{"--compressor", comp}
	mark := len(vm.ConsoleLines())
	if t.Err = m.HibernateNow(ctx, vm); t.Err != nil {
		return t, nil
	}
	down := vm.ConsoleLines()[mark:]
	var err error
	if t.Pages, t.Write, _, err = scenario.KernelSpeed(down, "Wrote"); err != nil {
		t.Err = err
		return t, nil
	}
	t.Compressed = scenario.CompressedKiB(down)
	area, err := m.SwapArea()
	if err == nil && (area.Header == nil || area.Header.Compressor() != comp) {
		err = fmt.Errorf("the image on the disk is not %s: %s", comp, area.Kind())
	}
	if err != nil {
		t.Err = err
		return t, nil
	}
	next, err := resumeTimed(ctx, m, &t.Resume, &t.Read)
	t.Err = err
	return t, next
}

// resumeTimed resumes m's image (Machine.Resume), sets *resume to QEMU's start to the job's
// first line and *read to the booting kernel's "Read" of the image, and waits for hibernate
// now's line that it resumed. It returns the resumed VM (nil where the resume did not start).
func resumeTimed(ctx context.Context, m *scenario.Machine, resume, read *time.Duration) (*harness.VM, error) {
	next, err := m.Resume(ctx, m.Setup.KernelParams)
	if err != nil {
		return next, err
	}
	*resume = m.Summary.ResumeTime
	if _, *read, _, err = scenario.KernelSpeed(next.ConsoleLines(), "Read"); err != nil {
		return next, err
	}
	_, err = next.WaitConsole(ctx, scenario.NowResumedKmsg)
	return next, err
}

// CompressorMarkdown is the section of the report.
func CompressorMarkdown(r *CompressorResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", compressorHeading)
	fmt.Fprintf(&b, "lzo (the kernel's default) against lz4 (`hibernate now --compressor lz4`), Debian 13's %s, the 512 MiB guest and its 64 MiB job,\n", r.Kernel)
	b.WriteString("every hibernation in one boot, each resumed by our initramfs (which loads lz4's module for an lz4 image); a warm-up\n")
	b.WriteString("hibernation first, not counted, then pairs in alternating order. The kernels' own figures from the console:\n")
	b.WriteString("the write by the hibernating kernel, the read by the booting one (KiB before compression over seconds).\n")
	b.WriteString("`go run ./qemu-tests/bench/cmd/bench -only compressor` (part of `make bench`).\n\n")
	if r.Err != nil {
		fmt.Fprintf(&b, "Not measured: %v\n", r.Err)
		return b.String()
	}
	b.WriteString("| compressor | trials | image (KiB) | after compression | ratio | write (median, min–max) | write MB/s | read (median, min–max) | read MB/s | resume, QEMU start to the job |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	med := map[string][2]float64{}
	for _, comp := range []string{"lzo", "lz4"} {
		var pages, comp2, w, rd, res, wspeed, rspeed []float64
		for _, t := range r.Trials {
			if t.Compressor != comp || t.Err != nil {
				continue
			}
			pages, comp2 = append(pages, float64(t.Pages)), append(comp2, float64(t.Compressed))
			w, rd, res = append(w, t.Write.Seconds()), append(rd, t.Read.Seconds()), append(res, t.Resume.Seconds())
			wspeed, rspeed = append(wspeed, float64(t.Pages)*1024/1e6/t.Write.Seconds()), append(rspeed, float64(t.Pages)*1024/1e6/t.Read.Seconds())
		}
		if len(w) == 0 {
			continue
		}
		ratio := median(comp2) / median(pages)
		med[comp] = [2]float64{median(wspeed), median(rspeed)}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.2f | %.2f s (%.2f–%.2f) | %.0f | %.2f s (%.2f–%.2f) | %.0f | %.2f s (%.2f–%.2f) |\n",
			comp, len(w), median(pages), median(comp2), ratio, median(w), slices.Min(w), slices.Max(w), median(wspeed),
			median(rd), slices.Min(rd), slices.Max(rd), median(rspeed), median(res), slices.Min(res), slices.Max(res))
	}
	if lzo, lz4 := med["lzo"], med["lz4"]; lzo[0] > 0 && lz4[0] > 0 {
		w, rd := lz4[0]/lzo[0], lz4[1]/lzo[1]
		fmt.Fprintf(&b, "\nlz4 against lzo, medians of this run: write speed %.2f×, read speed %.2f× (the run took %s). ",
			w, rd, r.Took.Round(time.Second))
		if w > 1.15 && rd > 1.15 {
			b.WriteString("lz4 is faster both ways here; `hibernate now` still leaves the kernel's choice by default, as lz4 needs its module at the next boot.\n")
		} else {
			b.WriteString("No clear gain either way here (under TCG the compressors' code is emulated, the disk is not): `hibernate now` leaves the kernel's choice (lzo) by default, and lz4 is for `--compressor lz4`.\n")
		}
	}
	if r.Threads == "" {
		fmt.Fprintf(&b, "\n%s has no `/sys/power/hibernate_compression_threads` (later kernels choose the compression threads there): nothing to measure.\n", r.Kernel)
	} else {
		fmt.Fprintf(&b, "\n`/sys/power/hibernate_compression_threads`: %s (not varied in this run).\n", r.Threads)
	}
	return b.String()
}
