// Package bench is `make bench`: our initramfs against the ones Debian 12 users already have
// (initramfs-tools with MODULES=most and MODULES=dep, dracut), on the same kernel build, the same
// disk and the same hibernation image, in one run. It writes docs/benchmarks.md and a plot of the
// resume latency (gnuplot).
//
// One guest hibernates once; every resume trial boots a sparse copy of its disk, ours and each
// peer alternating (A B A B …), so that a noisy host (other QEMU guests) weighs on both sides
// alike; the report compares medians. An encrypted LVM machine gets the same against
// initramfs-tools with cryptsetup-initramfs, timed from the passphrase's Enter (luks.go).
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// Options shape a run.
type Options struct {
	Pairs          int    // resume pairs per peer (ours, peer), default 5
	HibernatePairs int    // pairs of (hibernate now, a direct write) and of image sizes, default 3
	Report         string // the Markdown report, default docs/benchmarks.md
	Plot           string // the PNG, default docs/benchmarks-resume.png
	// Only runs one section: "luks" (the encrypted machine), whose part of Report alone is
	// rewritten; "" runs them all and writes the whole report.
	Only string
	// Icount, above 0, runs the floor section's resumes under QEMU's -icount shift=Icount, its
	// figures by the guest's clock (instructions), whatever the host's load.
	Icount int
	Out    io.Writer
}

// OnlyLUKS is Options.Only for the encrypted section.
const OnlyLUKS = "luks"

// Trial is one resume boot.
type Trial struct {
	Initrd   string // Initrd.Name
	Seq      int    // order in the run
	Round    int    // the round it ran in, where a section runs in rounds (0 or 1: the first)
	Resume   time.Duration
	Share    time.Duration // "Run /init" to the kernel's "resume from hibernation", kernel clock
	OurInit  time.Duration // ours only: /init's own "starting" to its "writing … /sys/power/resume", its clock
	AfterDev time.Duration // the kernel's line for the disk ("virtio_blk virtio0: [vda] …") to the resume write, kernel clock
	// Unpack is the kernel's unpacking of the initramfs ("Trying to unpack rootfs image" to
	// "Freeing initrd memory"), InitAt its "Run /init" since the kernel's start: kernel clock,
	// before the share; 0 where the console does not show them.
	Unpack, InitAt time.Duration
	Log            string
	Err            error // the resume failed
	ShareErr       error // the console did not show the share's start or end
}

// HibernateRun is one hibernation of a fresh guest.
type HibernateRun struct {
	Method    string // "hibernate now", "echo disk > /sys/power/state", "hibernate now --image-size min"
	Took      time.Duration
	ImageMem  uint64        // bytes of memory in the image
	ImageDisk uint64        // bytes on the swap partition
	WriteTime time.Duration // the kernel's "Image saving" to power off, from its console
	// BeforeEntry is hibernate now's first kernel-log line to the kernel's "hibernation entry"
	// (kernel clock); 0 for the direct write.
	BeforeEntry time.Duration
	Log         string // the console log
	Err         error
}

// Result is everything the report shows.
type Result struct {
	Start     time.Time
	Took      time.Duration
	Pairs     int
	Kernel    scenario.Kernel
	Versions  [][2]string
	Machine   [][2]string
	Initrds   []Initrd
	Trials    []Trial
	Hibernate []HibernateRun
	Notes     []string
	// DepBuildInGuest is mkinitramfs MODULES=dep's time in the guest that built it (TCG).
	DepBuildInGuest time.Duration
	LUKS            *LUKSResult            // the encrypted machine's section
	Firmware        *FirmwareResult        // through UEFI and GRUB, ours against initramfs-tools
	Compressor      *CompressorResult      // lzo against lz4
	Floor           *FloorResult           // ours against the smallest initramfs
	FloorIcount     *FloorResult           // the same under -icount (fullIcount), in two rounds
	HibernateIcount *HibernateIcountResult // hibernate now's share under -icount, in two rounds
	Scale           *ScaleResult           // cost as memory grows
	ImageSize       *ImageSizeResult       // kernel, min and auto
}

// fullIcount is the -icount shift of make bench's guest-clock sections: 8 ns an instruction.
const fullIcount = 3

func (o *Options) defaults(root string) {
	if o.Pairs == 0 {
		o.Pairs = 5
	}
	if o.HibernatePairs == 0 {
		o.HibernatePairs = 3
	}
	if o.Report == "" {
		o.Report = filepath.Join(root, "docs/benchmarks.md")
	}
	if o.Plot == "" {
		o.Plot = filepath.Join(root, "docs/benchmarks-resume.png")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// Run is the whole benchmark.
func Run(ctx context.Context, o Options) (*Result, error) {
	root, err := scenario.FindModuleRoot()
	if err != nil {
		return nil, err
	}
	o.defaults(root)
	if !slices.Contains([]string{"", OnlyLUKS, OnlyCompressor, OnlyFloor, OnlyScale, OnlyImageSize, OnlyHibernate, OnlyFirmware}, o.Only) {
		return nil, fmt.Errorf("bench: no section %q to run alone (there are %q, %q, %q, %q, %q, %q and %q)", o.Only, OnlyLUKS, OnlyCompressor, OnlyFloor, OnlyScale, OnlyImageSize, OnlyHibernate, OnlyFirmware)
	}
	if o.Only == OnlyHibernate && o.Icount <= 0 {
		return nil, fmt.Errorf("bench: -only %s is hibernate now's share under -icount: give -icount N (3: 8 ns an instruction)", OnlyHibernate)
	}
	scalePNG := filepath.Join(filepath.Dir(o.Plot), "benchmarks-scale.png")
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, "bench: "+format+"\n", args...) }
	a, err := scenario.Discover(root, scenario.DefaultFlavour)
	if err != nil {
		return nil, err
	}
	a.WorkDir = filepath.Join(root, "build/bench")
	res := &Result{Start: time.Now(), Pairs: o.Pairs, Kernel: a.Kernel}
	outDir := filepath.Join(a.WorkDir, "initrds")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(a.WorkDir, "chroot.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	if o.Only == OnlyCompressor {
		res.Compressor = runCompressor(ctx, root, o.HibernatePairs, say)
		res.Took = time.Since(res.Start)
		if res.Compressor.Err != nil {
			return res, res.Compressor.Err
		}
		if err := spliceSection(o.Report, compressorHeading, CompressorMarkdown(res.Compressor), targetsHeading); err != nil {
			return res, err
		}
		say("wrote the compressor section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyHibernate {
		hr := runHibernateIcount(ctx, a, o.Icount, 2, o.HibernatePairs, say)
		res.Took = time.Since(res.Start)
		if err := spliceSection(o.Report, hibernateIcountHeading, HibernateIcountMarkdown(hr), budgetHeading); err != nil {
			return res, err
		}
		say("wrote the hibernating-by-the-guest's-clock section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyImageSize {
		res.ImageSize = runImageSize(ctx, a, o.HibernatePairs, say)
		res.Took = time.Since(res.Start)
		if res.ImageSize.Err != nil {
			return res, res.ImageSize.Err
		}
		if err := spliceSection(o.Report, imageSizeHeading, ImageSizeMarkdown(res.ImageSize), targetsHeading); err != nil {
			return res, err
		}
		say("wrote the image-size section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyScale {
		res.Scale = runScale(ctx, a, scalePNG, outDir, logf, say)
		res.Took = time.Since(res.Start)
		if err := spliceSection(o.Report, scaleHeading, ScaleMarkdown(res.Scale), hibernatingHeading); err != nil {
			return res, err
		}
		say("wrote the scale section of %s and %s in %s", o.Report, scalePNG, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyFloor {
		res.Floor = runFloor(ctx, a, root, outDir, o.Pairs, say, o)
		res.Took = time.Since(res.Start)
		if res.Floor.Err != nil {
			return res, res.Floor.Err
		}
		if err := spliceSection(o.Report, floorHeadingOf(o.Icount), FloorMarkdown(res.Floor), hibernatingHeading); err != nil {
			return res, err
		}
		say("wrote the floor section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyFirmware {
		res.Firmware = runFirmware(ctx, a, o.Pairs, logf, say)
		res.Took = time.Since(res.Start)
		if res.Firmware.Err != nil {
			return res, res.Firmware.Err
		}
		if err := spliceSection(o.Report, firmwareHeading, FirmwareMarkdown(res.Firmware), floorHeading); err != nil {
			return res, err
		}
		say("wrote the firmware section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}
	if o.Only == OnlyLUKS {
		res.LUKS = runLUKS(ctx, a, o, outDir, logf, say)
		res.Took = time.Since(res.Start)
		if res.LUKS.Err != nil {
			return res, res.LUKS.Err
		}
		if err := spliceSection(o.Report, luksHeading, LUKSMarkdown(res.LUKS), hibernatingHeading); err != nil {
			return res, err
		}
		say("wrote the encrypted section of %s in %s", o.Report, res.Took.Round(time.Second))
		return res, nil
	}

	say("peer roots (debootstrap once, then cached; the kernel .deb of the kernel cache installed by dpkg; log %s)", logf.Name())
	t0 := time.Now()
	peers, err := ensurePeerRoots(ctx, a, logf)
	if err != nil {
		return nil, err
	}
	say("peer roots ready in %s: %s, %s", time.Since(t0).Round(time.Second), peers.tools.Dir, peers.dracut.Dir)

	say("hibernating the guest every trial resumes")
	h, err := scenario.Hibernate(ctx, a, "bench", scenario.Output(o.Out))
	if err != nil {
		return nil, err
	}
	resume := "UUID=" + h.Setup.UUID
	res.Hibernate = append(res.Hibernate, HibernateRun{Method: "hibernate now", Took: h.Summary.HibernateTime,
		ImageMem: h.Summary.ImageBytes, ImageDisk: h.Summary.ImageDiskBytes, WriteTime: saveTime(h.Summary.Logs[len(h.Summary.Logs)-1]),
		BeforeEntry: beforeEntry(h.Summary.Logs[len(h.Summary.Logs)-1])})

	ours := buildOurs(ctx, a, h.Guest.Initrd, outDir)
	say("ours: cold %s, warm %s", ours.Cold.Round(time.Millisecond), ours.Warm.Round(time.Millisecond))
	say("building the peers' initrds for %s, resume=%s", a.Kernel.Release, resume)
	peerInitrds, depTook := buildPeers(ctx, a, peers, resume, ours.Path, outDir, logf)
	res.Initrds = append([]Initrd{ours}, peerInitrds...)
	res.DepBuildInGuest = depTook
	for i := range res.Initrds {
		in := &res.Initrds[i]
		if in.Path == "" {
			say("%s: not built: %v", in.Name, in.Err)
			continue
		}
		if in.Packed, in.Unpacked, err = Sizes(in.Path); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("size of %s: %v", in.Name, err))
		}
		say("%s: %.1f MiB (%.1f MiB unpacked), build cold %s warm %s", in.Name, mibI(in.Packed), mibI(in.Unpacked), in.Cold.Round(time.Millisecond), in.Warm.Round(time.Millisecond))
	}

	// The trials: for each pair, ours then the peer, for every peer in turn.
	seq := 0
	for p := 0; p < o.Pairs; p++ {
		for _, peer := range res.Initrds[1:] {
			if peer.Path == "" {
				continue
			}
			for _, in := range []Initrd{ours, peer} {
				seq++
				t := trial(ctx, h, in, seq, h.Setup.KernelParams)
				res.Trials = append(res.Trials, t)
				if t.Err != nil {
					say("trial %d %s: FAIL %v", seq, in.Name, t.Err)
				} else {
					say("trial %d %s: resumed in %s (initramfs share %s)", seq, in.Name, t.Resume.Round(10*time.Millisecond), t.Share.Round(time.Millisecond))
				}
			}
		}
	}

	for p := 0; p < o.HibernatePairs; p++ {
		for _, m := range []string{methodNow, methodDirect} {
			r := hibernateOnce(ctx, a, m, fmt.Sprintf("bench-hib-%d", len(res.Hibernate)))
			say("%s: %s (%v)", m, r.Took.Round(10*time.Millisecond), r.Err)
			res.Hibernate = append(res.Hibernate, r)
		}
		r := hibernateOnce(ctx, a, methodMin, fmt.Sprintf("bench-hib-%d", len(res.Hibernate)))
		say("%s: %s, image %.1f MiB (%v)", methodMin, r.Took.Round(10*time.Millisecond), mib(r.ImageDisk), r.Err)
		res.Hibernate = append(res.Hibernate, r)
	}

	res.LUKS = runLUKS(ctx, a, o, outDir, logf, say)
	if res.LUKS.Err != nil {
		say("encrypted: %v", res.LUKS.Err)
	}

	res.Firmware = runFirmware(ctx, a, o.Pairs, logf, say)
	if res.Firmware.Err != nil {
		say("firmware: %v", res.Firmware.Err)
	}
	res.Floor = runFloor(ctx, a, root, outDir, o.Pairs, say, o)
	if res.Floor.Err != nil {
		say("floor: %v", res.Floor.Err)
	}
	// The guest's clock (-icount) for the figures the host's load moves: the /init share, the
	// disk to the write, hibernate now's share; two rounds each, to show they hold.
	oi := o
	oi.Icount = fullIcount
	res.FloorIcount = runFloor(ctx, a, root, outDir, min(o.Pairs, 3), say, oi)
	if res.FloorIcount.Err != nil {
		say("floor under -icount: %v", res.FloorIcount.Err)
	}
	res.HibernateIcount = runHibernateIcount(ctx, a, fullIcount, 2, o.HibernatePairs, say)
	res.Scale = runScale(ctx, a, scalePNG, outDir, logf, say)
	res.Compressor = runCompressor(ctx, root, o.HibernatePairs, say)
	if res.Compressor.Err != nil {
		say("compressor: %v", res.Compressor.Err)
	}
	res.ImageSize = runImageSize(ctx, a, o.HibernatePairs, say)
	if res.ImageSize.Err != nil {
		say("image size: %v", res.ImageSize.Err)
	}

	res.Versions = versions(a, peers)
	res.Machine = machine()
	res.Took = time.Since(res.Start)
	if err := writePlot(res, filepath.Join(a.WorkDir, "resume.dat"), o.Plot); err != nil {
		res.Notes = append(res.Notes, "plot: "+err.Error())
		say("plot: %v", err)
	}
	// The runtime budget's section comes from an end-to-end test (TestTrixieBudget), not from
	// this run: it is kept as it was.
	budget, _ := readSection(o.Report, budgetHeading)
	if err := os.WriteFile(o.Report, []byte(Markdown(res, filepath.Base(o.Plot))), 0o644); err != nil {
		return res, err
	}
	if budget != "" {
		if err := spliceSection(o.Report, budgetHeading, budget, targetsHeading); err != nil {
			return res, err
		}
	}
	say("wrote %s and %s in %s", o.Report, o.Plot, res.Took.Round(time.Second))
	return res, nil
}

// trial boots a sparse copy of h's disk with the initrd in, and measures QEMU start to the job's
// first line (Resume checks that the job goes on with the same memory and boot).
func trial(ctx context.Context, h *scenario.Machine, in Initrd, seq int, resumeArgs string) Trial {
	t := Trial{Initrd: in.Name, Seq: seq}
	c, vm, err := resumeCopy(ctx, h, fmt.Sprintf("bench-trial-%02d", seq), in.Path, 3*time.Minute, resumeArgs, &t.Log, nil)
	if err != nil {
		t.Err = err
		return t
	}
	t.Resume = c.Summary.ResumeTime
	lines := vm.ConsoleLines()
	t.Share, t.OurInit, t.AfterDev, t.ShareErr = shares(lines)
	t.Unpack, t.InitAt = kernelBeforeInit(lines)
	return t
}

// kernelBeforeInit reads the console up to /init: the kernel's unpacking of the initramfs (its
// "Trying to unpack rootfs image as initramfs" to its "Freeing initrd memory") and the time of its
// "Run /init", on the kernel's clock; 0 for what is not there.
func kernelBeforeInit(lines []string) (unpack, initAt time.Duration) {
	start, freed, run := -1.0, -1.0, -1.0
	for _, l := range parseKernelLines(lines) {
		switch {
		case strings.Contains(l.text, "Trying to unpack rootfs image as initramfs") && start < 0:
			start = l.at
		case strings.Contains(l.text, "Freeing initrd memory") && freed < 0:
			freed = l.at
		case strings.Contains(l.text, "Run /init as init process") && run < 0:
			run = l.at
		}
	}
	if start >= 0 && freed >= start {
		unpack = secs(freed - start)
	}
	if run >= 0 {
		initAt = secs(run)
	}
	return unpack, initAt
}

// resumeCopy boots a sparse copy (named name) of h's disk with the initramfs at initrd and the
// kernel parameters extra, up to the job's first line after the resume, within limit
// (Machine.Resume, which checks that the job goes on with the same memory and boot); prepare,
// if not nil, sets the copy up first. The VM is killed and gone when it returns, the copy's disk
// removed; *logPath is its console log.
func resumeCopy(ctx context.Context, h *scenario.Machine, name, initrd string, limit time.Duration, extra string, logPath *string,
	prepare func(*scenario.Machine)) (*scenario.Machine, *harness.VM, error) {
	c, err := h.Clone(name)
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(filepath.Dir(c.Guest.Disk))
	c.Guest.Initrd = initrd
	c.Config.Out = io.Discard
	if prepare != nil {
		prepare(c)
	}
	tctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	vm, err := c.Resume(tctx, extra)
	if vm != nil {
		*logPath = vm.ConsoleLogPath()
		vm.Kill()
		vm.WaitExit(tctx)
	}
	return c, vm, err
}

var (
	// A kernel line's timestamp, at the start or after what a script printed without a newline
	// ("Begin: Running /scripts/local-premount ... [   12.486393] PM: …").
	kernelTS = regexp.MustCompile(`\[\s*(\d+\.\d+)\] `)
	ourTS    = regexp.MustCompile(`^` + regexp.QuoteMeta(resume.LinePrefix) + `\[\s*(\d+\.\d+)\]`)
)

// diskTS matches the kernel's line for the virtio disk coming up, once its driver probed it.
var diskLine = regexp.MustCompile(`virtio_blk virtio\d+: \[vd[a-z]+\] `)

// shares reads the console: the kernel's "Run /init as init process" to its "PM: hibernation:
// resume from hibernation" (printed when /sys/power/resume is written), and the kernel's line of
// the disk appearing to that write, all on the kernel's clock; for ours also /init's own
// timestamps.
func shares(lines []string) (share, ourInit, afterDev time.Duration, err error) {
	var runInit, resumeAt, diskAt, ourStart, ourWrite float64 = -1, -1, -1, -1, -1
	for _, l := range lines {
		if m := kernelTS.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			switch {
			case strings.Contains(l, "Run /init as init process") && runInit < 0:
				runInit = v
			case strings.Contains(l, "PM: hibernation: resume from hibernation") && resumeAt < 0:
				resumeAt = v
			case diskLine.MatchString(l) && diskAt < 0 && runInit >= 0:
				diskAt = v
			}
		}
		if m := ourTS.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			switch {
			case strings.Contains(l, resume.Starting) && ourStart < 0:
				ourStart = v
			case strings.Contains(l, resume.WritingResume) && ourWrite < 0:
				ourWrite = v
			}
		}
	}
	if runInit < 0 || resumeAt < 0 {
		return 0, 0, 0, fmt.Errorf("console has no \"Run /init\" (%v) or no \"resume from hibernation\" (%v) line", runInit >= 0, resumeAt >= 0)
	}
	share = secs(resumeAt - runInit)
	if diskAt >= 0 && diskAt <= resumeAt {
		afterDev = secs(resumeAt - diskAt)
	}
	if ourStart >= 0 && ourWrite >= 0 {
		ourInit = secs(ourWrite - ourStart)
	}
	return share, ourInit, afterDev, nil
}

var saveRE = regexp.MustCompile(`PM: (Compressing and saving image data|Saving image data pages)`)

// saveTime is the kernel's "saving image data" line to the last kernel line (power off) of a
// console log, on the kernel's clock.
func saveTime(log string) time.Duration {
	start, last := -1.0, -1.0
	for _, l := range kernelLines(log) {
		if saveRE.MatchString(l.text) && start < 0 {
			start = l.at
		}
		if start >= 0 {
			last = l.at
		}
	}
	if start < 0 {
		return 0
	}
	return time.Duration((last - start) * float64(time.Second))
}

// kernelLine is a console line the kernel printed, with its timestamp (seconds since boot).
type kernelLine struct {
	at   float64
	text string
}

// kernelLines reads the timestamped kernel lines of a console log (none if it cannot be read).
func kernelLines(log string) []kernelLine {
	b, err := os.ReadFile(log)
	if err != nil {
		return nil
	}
	return parseKernelLines(strings.Split(string(b), "\n"))
}

// parseKernelLines is the lines that carry a kernel timestamp, with it.
func parseKernelLines(lines []string) []kernelLine {
	var out []kernelLine
	for _, l := range lines {
		if m := kernelTS.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			out = append(out, kernelLine{v, l})
		}
	}
	return out
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
func mibI(n int64) float64 { return float64(n) / (1 << 20) }
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	l, _, _ := strings.Cut(s, "\n")
	return l
}
