package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/modules"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// The floor (issue 17): the same disk and image resumed by the smallest initramfs that can do it,
// floor/floor.c as /init (static, a libc and nothing else) with the disk's modules, uncompressed.
// Every initramfs's resume is set against it: how much of the time is the initramfs's at all.

// OnlyFloor is Options.Only for the floor section.
const OnlyFloor = "floor"

const floorHeading = "## The floor"

// floorHeadingOf is the floor section's heading: by the wall clock, or by the guest's under -icount.
func floorHeadingOf(icount int) string {
	if icount > 0 {
		return floorHeading + ", by the guest's clock (-icount)"
	}
	return floorHeading
}

// floorModules are the modules the guests' disk needs: the virtio PCI transport and its disk.
var floorModules = []string{"virtio_pci", "virtio_blk"}

// The floors: the C one, and the same steps in Go (gofloor), which shows the Go runtime's own cost.
const (
	floorC  = "floor"
	floorGo = "floor (Go)"
)

// buildFloor compiles the floor called name (floor.c with gcc -static, or gofloor with
// CGO_ENABLED=0) and writes its initramfs for kernel a.Kernel into outDir, resuming from devt
// (MAJ:MIN).
func buildFloor(ctx context.Context, a scenario.Artifacts, root, name, devt, outDir string) Initrd {
	in := Initrd{Name: name, Generator: "qemu-tests/bench/floor/floor.c, gcc -static"}
	start := time.Now()
	bin := filepath.Join(outDir, "floor-init")
	cmd := exec.CommandContext(ctx, "gcc", "-static", "-O2", "-s", "-o", bin, filepath.Join(root, "qemu-tests/bench/floor/floor.c"))
	if name == floorGo {
		in.Generator = "qemu-tests/bench/floor/gofloor, CGO_ENABLED=0"
		bin = filepath.Join(outDir, "gofloor-init")
		cmd = exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", bin, "./qemu-tests/bench/floor/gofloor")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		in.Err = fmt.Errorf("%s (the floor is built static; for C: apt-get install gcc libc6-dev): %w\n%s", cmd.Args[0], err, out)
		return in
	}
	init, err := os.ReadFile(bin)
	if err != nil {
		in.Err = err
		return in
	}
	ix, err := modules.Scan(a.Kernel.ModulesDir)
	if err != nil {
		in.Err = err
		return in
	}
	mods, _, err := ix.Closure(floorModules...)
	if err != nil {
		in.Err = err
		return in
	}
	recs := []cpio.Record{cpio.StaticFile("init", string(init), 0o755), cpio.Directory("sys", 0o755),
		cpio.Directory("dev", 0o755), cpio.CharDev("dev/console", 0o600, 5, 1), cpio.StaticFile("floor/resume", devt+"\n", 0o644)}
	var list []string
	for _, m := range mods {
		data, err := modules.Decompress(filepath.Join(a.Kernel.ModulesDir, m.Path))
		if err != nil {
			in.Err = err
			return in
		}
		p := path.Join("lib/modules", a.Kernel.Release, m.Name+".ko")
		recs = append(recs, cpio.StaticFile(p, string(data), 0o644))
		list = append(list, "/"+p)
	}
	recs = append(recs, cpio.StaticFile("floor/modules", strings.Join(list, "\n")+"\n", 0o644))
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		in.Err = err
		return in
	}
	if err := cpio.WriteTrailer(w); err != nil {
		in.Err = err
		return in
	}
	in.Path = filepath.Join(outDir, "initrd-"+strings.ReplaceAll(strings.Trim(strings.ReplaceAll(name, "(", ""), ")"), " ", "-")+".img")
	if err := os.WriteFile(in.Path, b.Bytes(), 0o644); err != nil {
		in.Path, in.Err = "", err
		return in
	}
	in.Cold = time.Since(start)
	return in
}

// FloorResult is the floor section's run: ours and the floor, alternating, on one image.
type FloorResult struct {
	Kernel  string
	Ours    Initrd
	Floor   Initrd
	GoFloor Initrd
	Icount  int // the resumes ran under -icount shift=Icount; 0: not
	Rounds  int // the trials ran in Rounds rounds one after the other (2 under -icount: to show the figures hold)
	Trials  []Trial
	Took    time.Duration
	Err     error
}

// runFloor hibernates a guest and resumes it pairs times with ours, then the floor.
func runFloor(ctx context.Context, a scenario.Artifacts, root, outDir string, pairs int, out func(string, ...any), o Options) *FloorResult {
	r := &FloorResult{Kernel: a.Kernel.Release}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	h, err := scenario.Hibernate(ctx, a, "bench-floor", scenario.Output(o.Out))
	if err != nil {
		r.Err = err
		return r
	}
	r.Ours = Initrd{Name: "ours", Path: h.Guest.Initrd}
	h.Config.Icount, r.Icount = o.Icount, o.Icount              // the resumes only: the hibernation ran at full speed
	devt := fmt.Sprintf("254:%d", h.Guest.Layout.SwapPartIndex) // virtio_blk's major: the first dynamic one
	r.Floor = buildFloor(ctx, a, root, floorC, devt, outDir)
	r.GoFloor = buildFloor(ctx, a, root, floorGo, devt, outDir)
	for _, in := range []*Initrd{&r.Floor, &r.GoFloor} {
		if in.Err != nil {
			r.Err = in.Err
			return r
		}
	}
	for _, in := range []*Initrd{&r.Ours, &r.Floor, &r.GoFloor} {
		in.Packed, in.Unpacked, _ = Sizes(in.Path)
	}
	r.Rounds = 1
	if o.Icount > 0 {
		r.Rounds = 2
	}
	seq := 0
	for round := 1; round <= r.Rounds; round++ {
		for p := 0; p < pairs; p++ {
			for _, in := range []Initrd{r.Ours, r.Floor, r.GoFloor} {
				seq++
				t := trial(ctx, h, in, seq, h.Setup.KernelParams)
				t.Round = round
				r.Trials = append(r.Trials, t)
				out("floor round %d trial %d %s: resumed in %s (initramfs share %s, disk to the write %s) %v", round, seq, in.Name,
					t.Resume.Round(10*time.Millisecond), t.Share.Round(time.Millisecond), t.AfterDev.Round(time.Millisecond), t.Err)
			}
		}
	}
	return r
}

// FloorMarkdown is the floor's section of the report.
func FloorMarkdown(r *FloorResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", floorHeadingOf(r.Icount))
	if r.Icount > 0 {
		fmt.Fprintf(&b, "Under QEMU's `-icount shift=%d,align=off,sleep=off`: the guest's clock advances %d ns an instruction, whatever the host's\n", r.Icount, 1<<r.Icount)
		b.WriteString("load, so the share and the disk-to-write figures (kernel clock) count the guest's work alone; the total stays QEMU's\n")
		fmt.Fprintf(&b, "wall clock. `go run ./qemu-tests/bench/cmd/bench -only floor -icount %d`.\n\n", r.Icount)
	}
	fmt.Fprintf(&b, "The same disk and image (Debian 12's %s, the 512 MiB guest), resumed in turn by ours, the floor and the floor in Go:\n", r.Kernel)
	b.WriteString("the smallest initramfs that can resume it, [floor.c](../qemu-tests/bench/floor/floor.c) as /init (static, C) with\n")
	b.WriteString("virtio_pci and virtio_blk, which loads them, waits for the swap partition and writes it to /sys/power/resume: no\n")
	b.WriteString("checks, no config, no image read; [gofloor](../qemu-tests/bench/floor/gofloor/main.go) takes the same steps in Go (static,\n")
	b.WriteString("x/sys/unix only), to show what the Go runtime's start costs by itself. Total: QEMU's start to the job's first line after the resume. Share: the kernel's\n")
	b.WriteString("`Run /init` to its `resume from hibernation` (the initramfs's part, kernel clock). Disk to the write: the kernel's\n")
	b.WriteString("line for the disk to the resume write. Before /init: the kernel's unpacking of the initramfs (its `Trying to unpack\n")
	b.WriteString("rootfs image` to `Freeing initrd memory`) and its `Run /init`, kernel clock, the part of the total that comes\n")
	b.WriteString("before the share. `go run ./qemu-tests/bench/cmd/bench -only floor` (part of `make bench`).\n\n")
	if r.Err != nil {
		fmt.Fprintf(&b, "Not measured: %v\n", r.Err)
		return b.String()
	}
	rounds := max(r.Rounds, 1)
	roundHead, roundSep := "", ""
	if rounds > 1 {
		fmt.Fprintf(&b, "In %d rounds run one after the other, to show that the figures hold.\n\n", rounds)
		roundHead, roundSep = "| round ", "| --- "
	}
	b.WriteString(roundHead + "| initramfs | size | trials | total (median, min–max) | share (median, min–max) | disk to the write (median, min–max) | before /init: unpack, Run /init at (medians) |\n")
	b.WriteString(roundSep + "| --- | --- | --- | --- | --- | --- | --- |\n")
	var ratios []string
	beforeInit := map[string][2]time.Duration{} // the unpack and Run /init, medians, of the last round
	for round := 1; round <= rounds; round++ {
		med := map[string][2]time.Duration{}
		for _, in := range []Initrd{r.Ours, r.Floor, r.GoFloor} {
			cell := ""
			if rounds > 1 {
				cell = fmt.Sprintf("| %d ", round)
			}
			st := floorStats(r, in.Name, round)
			ts, ss, ds, us, is := st[0], st[1], st[2], st[3], st[4]
			if ts.N == 0 {
				fmt.Fprintf(&b, "%s| %s | %.2f MiB | 0 | — | — | — | — |\n", cell, in.Name, mibI(in.Packed))
				continue
			}
			med[in.Name] = [2]time.Duration{ts.Median, ss.Median}
			before := "—"
			if us.N > 0 {
				before = fmt.Sprintf("%s, %s", secs2(us.Median), secs2(is.Median))
				beforeInit[in.Name] = [2]time.Duration{us.Median, is.Median}
			}
			fmt.Fprintf(&b, "%s| %s | %.2f MiB | %d | %s (%s–%s) | %s (%s–%s) | %s (%s–%s) | %s |\n", cell, in.Name, mibI(in.Packed), ts.N,
				secs2(ts.Median), secs2(ts.Min), secs2(ts.Max), ms(ss.Median), ms(ss.Min), ms(ss.Max), ms(ds.Median), ms(ds.Min), ms(ds.Max), before)
		}
		if o, f := med["ours"], med[floorC]; f[0] > 0 && f[1] > 0 {
			line := fmt.Sprintf("total %.2f× (goal ≤ 1.05×), share %.2f× (goal ≤ 2×), %s more in the share",
				o[0].Seconds()/f[0].Seconds(), o[1].Seconds()/f[1].Seconds(), ms(o[1]-f[1]))
			if g := med[floorGo]; g[1] > 0 {
				line += fmt.Sprintf("; the floor in Go: share %.2f× the C floor's (%s more), ours %.2f× the Go floor's share",
					g[1].Seconds()/f[1].Seconds(), ms(g[1]-f[1]), o[1].Seconds()/g[1].Seconds())
			}
			if rounds > 1 {
				line = fmt.Sprintf("round %d: %s", round, line)
			}
			ratios = append(ratios, line)
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintf(&b, "\nOurs against the floor, medians: %s (the run took %s).\n", strings.Join(ratios, "; "), r.Took.Round(time.Second))
	}
	if o, f := beforeInit["ours"], beforeInit[floorC]; o[1] > 0 && f[1] > 0 {
		fmt.Fprintf(&b, "\nBefore /init (the last round, kernel clock): ours' `Run /init` comes %s after the floor's, and the kernel's unpacking of\n", secs2(o[1]-f[1]))
		fmt.Fprintf(&b, "the initramfs takes %s against %s (%.2f against %.2f MiB compressed): that part of the total is the size of what the kernel\n", secs2(o[0]), secs2(f[0]), mibI(r.Ours.Packed), mibI(r.Floor.Packed))
		b.WriteString("unpacks (ours' /init, its modules, the emergency shell's busybox), not anything /init does. Side by side on\n")
		b.WriteString("2026-12-04 (one image, -icount 3), of 14.1 MB unpacked: the busybox 4.6 MB, /init 3.7, the modules 5.8; ours\n")
		b.WriteString("without the busybox unpacked in 1.47 s against 1.89 s, its `Run /init` 0.42 s sooner.\n")
	}
	var lo leftOut
	for _, t := range r.Trials {
		lo.add(t.Seq, t.Initrd, t.Err)
	}
	b.WriteString(lo.String())
	return b.String()
}

// leftOut gathers the failed trials of a section, for its "Left out:" line.
type leftOut []string

func (l *leftOut) add(seq int, initrd string, err error) {
	if err != nil {
		*l = append(*l, fmt.Sprintf("trial %d (%s): %s", seq, initrd, firstLine(err.Error())))
	}
}

// String is the line ("" when no trial failed).
func (l leftOut) String() string {
	if len(l) == 0 {
		return ""
	}
	return fmt.Sprintf("\nLeft out: %s.\n", strings.Join(l, "; "))
}

func secs2(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
