package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// Scale (issue 17): cost as memory grows. One fresh guest a size (512 MiB to 4 GiB, a job holding
// a quarter of it, a swap partition as large as the memory), our initramfs: the swap partition's
// own sequential speed measured in the guest before its setup (O_DIRECT, the agent's
// disk-speed), then one hibernation and one resume, with the kernels' own figures from the
// console; the same image (a copy of the disk taken before) is resumed by initramfs-tools
// (MODULES=most, the peer root's, built for that guest's swap) too. The physical limit of each is
// the image's bytes over the disk's speed.

// OnlyScale is Options.Only for the scale section.
const OnlyScale = "scale"

const scaleHeading = "## Scale: cost as memory grows"

// ScaleSizes are the guests' memory sizes, MiB.
var ScaleSizes = []int{512, 1024, 2048, 4096}

// ScaleRun is one size's hibernation and resume.
type ScaleRun struct {
	MemoryMiB   int
	DiskWrite   float64 // bytes/s, O_DIRECT, the swap partition
	DiskRead    float64
	ImageKiB    int64 // the kernel's "Wrote N kbytes" (pages written, before compression)
	Compressed  int64 // KiB on the disk ("Image size after compression", 6.9 and later; else 0)
	Write       time.Duration
	Read        time.Duration
	Hibernate   time.Duration // hibernate now's request to QEMU gone
	Resume      time.Duration // QEMU start to the job's first line
	PreSnapshot time.Duration // hibernate now's first line to the kernel's "Need to copy": checks, freeze, page cache freed
	Prealloc    time.Duration // the kernel's "Allocated N kbytes in S seconds": memory freed down to image_size
	Err         error
	// The same image resumed by initramfs-tools: the kernel's read, QEMU start to the job.
	ToolsRead, ToolsResume time.Duration
	ToolsErr               error
}

// ScaleResult is the scale section's run.
type ScaleResult struct {
	Kernel string
	Runs   []ScaleRun
	Plot   string // the PNG, "" when it could not be drawn
	Took   time.Duration
}

func runScale(ctx context.Context, a scenario.Artifacts, plot, outDir string, log io.Writer, say func(string, ...any)) *ScaleResult {
	r := &ScaleResult{Kernel: a.Kernel.Release}
	start := time.Now()
	tools, err := kernelRoot(ctx, a, debroot.InitramfsToolsPeer(), log)
	if err != nil {
		say("scale: the initramfs-tools root: %v (its resumes left out)", err)
	}
	for _, mem := range ScaleSizes {
		run := scaleOnce(ctx, a, mem, tools.Dir, err, outDir, log)
		r.Runs = append(r.Runs, run)
		say("scale %d MiB: disk write %.0f MB/s read %.0f MB/s; image %d KiB, written in %s, read in %s; hibernate %s, resume %s (%v); initramfs-tools: read %s, resume %s (%v)",
			mem, run.DiskWrite/1e6, run.DiskRead/1e6, run.ImageKiB, run.Write, run.Read, run.Hibernate.Round(100*time.Millisecond), run.Resume.Round(100*time.Millisecond), run.Err,
			run.ToolsRead, run.ToolsResume.Round(100*time.Millisecond), run.ToolsErr)
	}
	if err := scalePlot(r, filepath.Join(a.WorkDir, "scale.dat"), plot); err != nil {
		say("scale plot: %v", err)
	} else {
		r.Plot = plot
	}
	r.Took = time.Since(start)
	return r
}

func scaleOnce(ctx context.Context, a scenario.Artifacts, mem int, toolsRoot string, toolsErr error, outDir string, log io.Writer) (run ScaleRun) {
	run.MemoryMiB = mem
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	m, err := scenario.New(ctx, a, fmt.Sprintf("bench-scale-%d", mem), scenario.Memory(mem), scenario.JobState(mem/4), scenario.SwapPartition(mem))
	if err != nil {
		run.Err = err
		return run
	}
	defer os.RemoveAll(filepath.Dir(m.Guest.Disk))
	vm, _, err := m.Boot(ctx, "")
	defer func() {
		if vm != nil {
			vm.Kill()
		}
	}()
	if err != nil {
		run.Err = err
		return run
	}
	// The swap partition before its setup: 256 MiB from its 1 MiB mark, its header kept.
	dev := fmt.Sprintf("/dev/vda%d", m.Guest.Layout.SwapPartIndex)
	res, err := vm.Run(ctx, scenario.GuestAgentInit, "disk-speed", dev, "1", "256")
	if err == nil && res.Exit != 0 {
		err = fmt.Errorf("disk-speed: exit %d: %s", res.Exit, res.Stderr)
	}
	if err == nil {
		_, err = fmt.Sscanf(res.Stdout, "write %g read %g", &run.DiskWrite, &run.DiskRead)
	}
	if err == nil {
		err = scenario.Do(ctx, vm, m.SetupSwap, m.StartJob)
	}
	if err != nil {
		run.Err = err
		return run
	}
	mark := len(vm.ConsoleLines())
	if err := m.HibernateNow(ctx, vm); err != nil {
		run.Err = err
		return run
	}
	down := vm.ConsoleLines()[mark:]
	run.Hibernate = m.Summary.HibernateTime
	if run.ImageKiB, run.Write, _, err = scenario.KernelSpeed(down, "Wrote"); err != nil {
		run.Err = err
		return run
	}
	run.Compressed = scenario.CompressedKiB(down)
	if _, d, _, err := scenario.KernelSpeed(down, "Allocated"); err == nil {
		run.Prealloc = d
	}
	first, _, okFirst := scenario.ConsoleStamp(down, "hibernate: hibernate now: checking")
	snap, _, okSnap := scenario.ConsoleStamp(down, "Need to copy ")
	if okFirst && okSnap {
		run.PreSnapshot = snap - first
	}
	// The same image for initramfs-tools: a copy of the disk, before ours resumes it.
	vm.Kill()
	vm = nil
	var tools *scenario.Machine
	run.ToolsErr = toolsErr
	if toolsErr == nil {
		tools, run.ToolsErr = m.Clone(fmt.Sprintf("bench-scale-%d-tools", mem))
	}
	if tools != nil {
		defer os.RemoveAll(filepath.Dir(tools.Guest.Disk))
	}
	next, err := m.Resume(ctx, m.Setup.KernelParams)
	vm = next
	if err != nil {
		run.Err = err
		return run
	}
	run.Resume = m.Summary.ResumeTime
	if _, run.Read, _, err = scenario.KernelSpeed(next.ConsoleLines(), "Read"); err != nil {
		run.Err = err
		return run
	}
	if run.ToolsErr == nil {
		vm.Kill()
		vm = nil
		run.ToolsRead, run.ToolsResume, run.ToolsErr = toolsResume(ctx, a, tools, toolsRoot, outDir, log)
	}
	return run
}

// toolsResume resumes c (a copy of a hibernated guest's disk) with initramfs-tools' initramfs
// (MODULES=most, RESUME= its swap), and gives the kernel's read and QEMU's start to the job.
func toolsResume(ctx context.Context, a scenario.Artifacts, c *scenario.Machine, root, outDir string, log io.Writer) (read, resume time.Duration, err error) {
	initrd := filepath.Join(outDir, c.Config.Name+".img")
	defer os.Remove(initrd)
	if err := buildTools(ctx, root, "most", "UUID="+c.Setup.UUID, a.Kernel.Release, initrd, log); err != nil {
		return 0, 0, err
	}
	c.Guest.Initrd = initrd
	vm, err := c.Resume(ctx, c.Setup.KernelParams)
	if vm != nil {
		defer vm.Kill()
	}
	if err != nil {
		return 0, 0, err
	}
	_, read, _, err = scenario.KernelSpeed(vm.ConsoleLines(), "Read")
	return read, c.Summary.ResumeTime, err
}

// ScaleMarkdown is the scale section of the report.
func ScaleMarkdown(r *ScaleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", scaleHeading)
	fmt.Fprintf(&b, "One fresh guest a size (Debian 12's %s), a job holding a quarter of the memory, a swap partition as large as\n", r.Kernel)
	b.WriteString("the memory, our initramfs, one hibernation and one resume each. The disk: the swap partition's own sequential\n")
	b.WriteString("speed, measured in the guest before its setup (O_DIRECT, 1 MiB blocks, 256 MiB). The limit: the image's bytes\n")
	b.WriteString("(the kernel's `Wrote N kbytes`, before compression) over that speed. Write and read: the kernels' own figures.\n")
	b.WriteString("initramfs-tools: the same image (a copy of the disk taken before ours resumed it) resumed by initramfs-tools,\n")
	b.WriteString("MODULES=most, built in the peer root for that guest's swap.\n")
	b.WriteString("`go run ./qemu-tests/bench/cmd/bench -only scale` (part of `make bench`).\n\n")
	b.WriteString("| memory | job | disk write / read | image | on disk | write (limit) | write MB/s | read (limit) | read MB/s | first line to the snapshot (of it, the kernel freeing memory) | hibernate, request to off | resume, QEMU start to the job | initramfs-tools: read, resume |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var wsum, rsum, dwsum, drsum float64
	ok := 0
	for _, s := range r.Runs {
		if s.Err != nil {
			fmt.Fprintf(&b, "| %d MiB | %d MiB | failed: `%s` | | | | | | | | | | |\n", s.MemoryMiB, s.MemoryMiB/4, strings.ReplaceAll(firstLine(s.Err.Error()), "|", "/"))
			continue
		}
		img := float64(s.ImageKiB) * 1024
		onDisk := "—"
		if s.Compressed > 0 {
			onDisk = fmt.Sprintf("%.0f MiB", float64(s.Compressed)/1024)
		}
		tools := fmt.Sprintf("%.2f s, %.1f s", s.ToolsRead.Seconds(), s.ToolsResume.Seconds())
		if s.ToolsErr != nil {
			tools = "failed: `" + strings.ReplaceAll(firstLine(s.ToolsErr.Error()), "|", "/") + "`"
		}
		fmt.Fprintf(&b, "| %d MiB | %d MiB | %.0f / %.0f MB/s | %.0f MiB | %s | %.2f s (%.2f s) | %.0f | %.2f s (%.2f s) | %.0f | %.2f s (%.2f s) | %.1f s | %.1f s | %s |\n",
			s.MemoryMiB, s.MemoryMiB/4, s.DiskWrite/1e6, s.DiskRead/1e6, img/(1<<20), onDisk,
			s.Write.Seconds(), img/s.DiskWrite, img/1e6/s.Write.Seconds(), s.Read.Seconds(), img/s.DiskRead, img/1e6/s.Read.Seconds(),
			s.PreSnapshot.Seconds(), s.Prealloc.Seconds(), s.Hibernate.Seconds(), s.Resume.Seconds(), tools)
		wsum, rsum, dwsum, drsum = wsum+img/1e6/s.Write.Seconds(), rsum+img/1e6/s.Read.Seconds(), dwsum+s.DiskWrite/1e6, drsum+s.DiskRead/1e6
		ok++
	}
	if ok > 0 {
		n := float64(ok)
		fmt.Fprintf(&b, "\nThe kernel writes at %.0f MB/s on average over the sizes and reads at %.0f MB/s, where the disk itself writes at %.0f and reads at %.0f MB/s:", wsum/n, rsum/n, dwsum/n, drsum/n)
		b.WriteString(" the time grows with the image at a steady slope, and the limit is not the disk but the kernel's compression and decompression")
		b.WriteString(" (one thread, emulated under TCG). Before the write, the kernel frees memory down to image_size (hibernate now's auto by default: what processes hold),")
		b.WriteString(" swapping out what anonymous memory does not fit, uncompressed: the figure in brackets of the snapshot's column. `hibernate now` can close the gap with")
		b.WriteString(" a smaller image (`--image-size`: less to compress, more to page back in after) or lz4 (`--compressor lz4`, 6.9 and later;")
		b.WriteString(" no gain measured under TCG, see the compressor section).\n")
	}
	b.WriteString(toolsAgainstOurs(r.Runs))
	if r.Plot != "" {
		fmt.Fprintf(&b, "\n![write and read time against the image's size, with the disk's limit](%s)\n", filepath.Base(r.Plot))
	}
	fmt.Fprintf(&b, "\nThe run took %s.\n", r.Took.Round(time.Second))
	return b.String()
}

// toolsAgainstOurs says, over the sizes where both resumed, how initramfs-tools' resume and the
// kernel's read under it compare with ours ("" where none did).
func toolsAgainstOurs(runs []ScaleRun) string {
	var resume, read []float64
	for _, s := range runs {
		if s.Err == nil && s.ToolsErr == nil && s.Resume > 0 && s.Read > 0 {
			resume = append(resume, s.ToolsResume.Seconds()/s.Resume.Seconds())
			read = append(read, s.ToolsRead.Seconds()/s.Read.Seconds())
		}
	}
	if len(resume) == 0 {
		return ""
	}
	return fmt.Sprintf("\ninitramfs-tools resumed the same images in %.2f–%.2f× our time (QEMU's start to the job), and the kernel's read of the image took %.2f–%.2f× as long under it as under ours (one resume of each a size; why the kernel reads slower there is not measured).\n",
		slices.Min(resume), slices.Max(resume), slices.Min(read), slices.Max(read))
}

// scalePlot draws the write and read times against the image's MiB, with the disk's limits.
func scalePlot(r *ScaleResult, dat, png string) error {
	var d bytes.Buffer
	n := 0
	for _, s := range r.Runs {
		if s.Err != nil {
			continue
		}
		img := float64(s.ImageKiB) * 1024
		fmt.Fprintf(&d, "%.1f %.3f %.3f %.3f %.3f\n", img/(1<<20), s.Write.Seconds(), s.Read.Seconds(), img/s.DiskWrite, img/s.DiskRead)
		n++
	}
	if n == 0 {
		return fmt.Errorf("no successful run to plot")
	}
	if err := os.WriteFile(dat, d.Bytes(), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 900,520 font ",10"
set output %q
set title "Hibernation's write and the resume's read against the image (TCG, %s)"
set xlabel "image, MiB (before compression)"
set ylabel "seconds"
set yrange [0:*]
set grid
set key top left
plot %q using 1:2 with linespoints title "write (the kernel's)", \
     %q using 1:3 with linespoints title "read (the kernel's)", \
     %q using 1:4 with lines dashtype 2 title "limit: image / disk write speed", \
     %q using 1:5 with lines dashtype 3 title "limit: image / disk read speed"
`, png, r.Kernel, dat, dat, dat, dat)
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w\n%s", err, out)
	}
	return nil
}
