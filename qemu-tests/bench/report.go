package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// The targets the project holds itself to (issue 7).
const (
	targetRatio    = 0.6
	targetPacked   = 4 << 20
	targetShare    = 50 * time.Millisecond
	targetOverhead = 150 * time.Millisecond
)

// hibernatingHeading begins the section after the encrypted one.
const hibernatingHeading = "## Hibernating"

// Stats are a median and the range of durations.
type Stats struct {
	N                int
	Median, Min, Max time.Duration
}

func statsOf(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stats{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

// byInitrd gathers a field of the successful trials per initrd.
func (r *Result) byInitrd(name string, f func(Trial) time.Duration) []time.Duration {
	return r.trials(name, f, false)
}

// shareOf is byInitrd for the trials whose console showed the share.
func (r *Result) shareOf(name string, f func(Trial) time.Duration) []time.Duration {
	return r.trials(name, f, true)
}

func (r *Result) trials(name string, f func(Trial) time.Duration, share bool) []time.Duration {
	var out []time.Duration
	for _, t := range r.Trials {
		if t.Initrd == name && t.Err == nil && (!share || t.ShareErr == nil) {
			out = append(out, f(t))
		}
	}
	return out
}

func (r *Result) hib(method string) []HibernateRun {
	var out []HibernateRun
	for _, h := range r.Hibernate {
		if h.Method == method && h.Err == nil {
			out = append(out, h)
		}
	}
	return out
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func ms(d time.Duration) string  { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// Markdown is the report.
func Markdown(r *Result, plot string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmarks: our initramfs against initramfs-tools and dracut")
	w("")
	w("Written by `make bench` (qemu-tests/bench) on %s, in %s; do not edit by hand. Every figure is from", r.Start.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second))
	w("QEMU with software emulation (TCG, no KVM) on the machine below, so absolute times are several")
	w("times those of real hardware; the ratios are what carries over. The machine is shared (other QEMU")
	w("guests may run beside the benchmark): that is why trials alternate, ours then the peer, and why")
	w("the comparison is of medians.")
	w("")
	w("Same kernel build for everyone: the guests boot `%s` (Debian package %s) unpacked from", r.Kernel.Release, r.Kernel.Version)
	w("the test cache's `kernels/` (`$HIBERNATE_CACHE`), and the peers are built inside two Debian 12 chroots (debootstrap, cached) into which")
	w("that very `.deb` was installed with dpkg. Same disk and same image: one guest hibernated once (512 MiB")
	w("RAM, a job holding 64 MiB); each trial boots a sparse copy of that disk with the same kernel command")
	w("line (`root=PARTUUID=… rw resume=UUID=…`), and only the initrd differs. Each peer was told the same")
	w("resume device (initramfs-tools: `RESUME=UUID=…` in conf.d; dracut: `resume=` on the command line and")
	w("its `resume` module). An encrypted LVM machine, ours against initramfs-tools with cryptsetup-initramfs")
	w("and lvm2, timed from the passphrase's Enter, has its own section below.")
	w("")
	ref := "initramfs-tools (MODULES=most)"
	refMed := statsOf(r.byInitrd(ref, func(t Trial) time.Duration { return t.Resume })).Median
	w("## Resume latency")
	w("")
	w("QEMU start to the resumed job's first line, %d pairs per peer (ours, peer, ours, peer, …).", r.Pairs)
	w("")
	w("![resume latency per initramfs](%s)", plot)
	w("")
	w("| initramfs | trials | median | min–max | median / initramfs-tools (most) | initramfs share: /init to resume write, median (min–max) | disk there to resume write, median (min–max) |")
	w("| --- | --- | --- | --- | --- | --- | --- |")
	for _, in := range r.Initrds {
		s := statsOf(r.byInitrd(in.Name, func(t Trial) time.Duration { return t.Resume }))
		sh := statsOf(r.shareOf(in.Name, func(t Trial) time.Duration { return t.Share }))
		ad := statsOf(r.shareOf(in.Name, func(t Trial) time.Duration { return t.AfterDev }))
		if s.N == 0 {
			w("| %s | 0 | — | — | — | — | — |", in.Name)
			continue
		}
		ratio := "—"
		if refMed > 0 {
			ratio = fmt.Sprintf("%.2f", float64(s.Median)/float64(refMed))
		}
		w("| %s | %d | %s | %s–%s | %s | %s (%s–%s) | %s (%s–%s) |", in.Name, s.N, sec(s.Median), sec(s.Min), sec(s.Max), ratio, ms(sh.Median), ms(sh.Min), ms(sh.Max), ms(ad.Median), ms(ad.Min), ms(ad.Max))
	}
	w("")
	w("The initramfs share is read from the kernel's console timestamps for everyone: from `Run /init as")
	w("init process` to `PM: hibernation: resume from hibernation`, which the kernel prints when")
	w("/sys/power/resume is written. The resume device (virtio-blk) is attached from power-on; what the")
	w("share holds is each initramfs's own work before the write (loading modules, udev, waiting). The")
	w("last column starts at the kernel's line for the disk (`virtio_blk virtio0: [vda] …`, once the")
	w("initramfs has loaded its driver and the driver probed it): the time from the device there to the write.")
	ourInit := statsOf(r.shareOf("ours", func(t Trial) time.Duration { return t.OurInit }))
	afterDev := statsOf(r.shareOf("ours", func(t Trial) time.Duration { return t.AfterDev }))
	if ourInit.N > 0 {
		w("Ours by its own clock (`hibernate: [T]` lines): /init starting to the write, median %s (%s–%s).", ms(ourInit.Median), ms(ourInit.Min), ms(ourInit.Max))
	}
	var failed []string
	for _, t := range r.Trials {
		if t.Err != nil {
			failed = append(failed, fmt.Sprintf("- trial %d (%s): %s", t.Seq, t.Initrd, firstLine(t.Err.Error())))
		} else if t.ShareErr != nil {
			failed = append(failed, fmt.Sprintf("- trial %d (%s), share only: %s", t.Seq, t.Initrd, firstLine(t.ShareErr.Error())))
		}
	}
	if len(failed) > 0 {
		w("")
		w("Failed trials (left out of the figures):")
		w("")
		w("%s", strings.Join(failed, "\n"))
	}
	w("")
	w("## Size and build time")
	w("")
	w("| initramfs | generator | compressed | uncompressed | build, cold | build, warm |")
	w("| --- | --- | --- | --- | --- | --- |")
	for _, in := range r.Initrds {
		if in.Path == "" {
			w("| %s | %s | not built | | | |", in.Name, in.Generator)
			continue
		}
		if in.Cold == 0 && strings.Contains(in.Name, "MODULES=dep") {
			w("| %s | %s | %.2f MiB | %.2f MiB | %s in the guest (TCG) | — |", in.Name, in.Generator, mibI(in.Packed), mibI(in.Unpacked), sec(r.DepBuildInGuest))
			continue
		}
		w("| %s | %s | %.2f MiB | %.2f MiB | %s | %s |", in.Name, in.Generator, mibI(in.Packed), mibI(in.Unpacked), sec(in.Cold), sec(in.Warm))
	}
	w("")
	w("Built on the host for the same release: `hibernate initramfs build --kernel-release R` (its base")
	w("compiled once by `make build`), `mkinitramfs -d CONF -o FILE R` and `dracut --no-hostonly --add resume")
	w("--kver R FILE` inside their chroots. Cold is the first build of the run, warm the same build again at")
	w("once (page cache warm). Uncompressed is the sum of the cpio archives inside (early and main).")
	w("MODULES=dep takes the modules of the running system's devices, so mkinitramfs refuses it in a chroot:")
	w("it is built inside a guest booted from a disk made of the peer root (virtio-blk, ext4: the trials'")
	w("hardware), once; its time is the emulated guest's and not comparable with the host's.")
	for _, in := range r.Initrds {
		if in.Err != nil {
			w("")
			w("%s was not built: `%s`", in.Name, firstLine(in.Err.Error()))
		}
	}
	w("")
	b.WriteString(LUKSMarkdown(r.LUKS))
	w("")
	if r.Firmware != nil {
		b.WriteString(FirmwareMarkdown(r.Firmware))
		w("")
	}
	if r.Floor != nil {
		b.WriteString(FloorMarkdown(r.Floor))
		w("")
	}
	if r.Scale != nil {
		b.WriteString(ScaleMarkdown(r.Scale))
		w("")
	}
	if r.FloorIcount != nil {
		b.WriteString(FloorMarkdown(r.FloorIcount))
		w("")
	}
	w("%s", hibernatingHeading)
	w("")
	w("Fresh guests (512 MiB, the 64 MiB job), each hibernated once; time from the request (the agent")
	w("spawning `hibernate now --mode shutdown`, or writing `disk` to /sys/power/state after `shutdown` to")
	w("/sys/power/disk) to QEMU gone after the guest powered off.")
	w("")
	w("| method | runs | median | min–max | image in memory | image on disk | kernel: saving to power off | in the guest: first line to the kernel's hibernation entry |")
	w("| --- | --- | --- | --- | --- | --- | --- | --- |")
	var before []time.Duration
	for _, m := range []string{methodNow, methodDirect, methodMin} {
		hs := r.hib(m)
		if len(hs) == 0 {
			w("| `%s` | 0 | — | — | — | — | — | — |", m)
			continue
		}
		var took, write, be []time.Duration
		var mem, disk uint64
		for _, h := range hs {
			took, write = append(took, h.Took), append(write, h.WriteTime)
			mem, disk = mem+h.ImageMem, disk+h.ImageDisk
			if h.BeforeEntry > 0 {
				be = append(be, h.BeforeEntry)
			}
		}
		s, ws, bs := statsOf(took), statsOf(write), statsOf(be)
		n := uint64(len(hs))
		bcol := "—"
		if bs.N > 0 {
			bcol = fmt.Sprintf("%s (%s–%s)", ms(bs.Median), ms(bs.Min), ms(bs.Max))
		}
		if m == methodNow {
			before = be
		}
		w("| `%s` | %d | %s | %s–%s | %.1f MiB | %.1f MiB | %s | %s |", m, len(hs), sec(s.Median), sec(s.Min), sec(s.Max), mib(mem/n), mib(disk/n), sec(ws.Median), bcol)
	}
	now, direct := statsOf(durations(r.hib(methodNow))), statsOf(durations(r.hib(methodDirect)))
	overhead := now.Median - direct.Median
	inGuest := statsOf(before)
	w("")
	w("`hibernate now` against the direct write, QEMU clock: %s (difference of medians; it holds the", ms(overhead))
	w("start of the hibernate binary and the guest's noise, and the image size differs run to run).")
	w("In the guest, on the kernel's clock, from `hibernate now`'s first line in the kernel log (it")
	w("logs each step to /dev/kmsg) to the kernel's `hibernation entry` (the write of `disk`): median %s:", ms(inGuest.Median))
	w("the checks, the lock, the hooks, the record and the sysfs writes, all that it adds before the")
	w("kernel's own work. `hibernate now` asks for image_size auto (what processes hold, see the image's size below); `--image-size min`")
	w("writes 0, the smallest image the kernel can make.")
	for _, h := range r.Hibernate {
		if h.Err != nil {
			w("")
			w("A `%s` run failed (left out): `%s`", h.Method, firstLine(h.Err.Error()))
		}
	}
	w("")
	if r.HibernateIcount != nil {
		b.WriteString(HibernateIcountMarkdown(r.HibernateIcount))
		w("")
	}
	if r.Compressor != nil {
		b.WriteString(CompressorMarkdown(r.Compressor))
		w("")
	}
	if r.ImageSize != nil {
		b.WriteString(ImageSizeMarkdown(r.ImageSize))
		w("")
	}
	w("## Targets")
	w("")
	w("| target | measured | met |")
	w("| --- | --- | --- |")
	ours := statsOf(r.byInitrd("ours", func(t Trial) time.Duration { return t.Resume }))
	ourShare := statsOf(r.shareOf("ours", func(t Trial) time.Duration { return t.Share }))
	var ourPacked int64
	if len(r.Initrds) > 0 {
		ourPacked = r.Initrds[0].Packed
	}
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	if refMed > 0 {
		ratio := float64(ours.Median) / float64(refMed)
		w("| resume latency ≤ %.1f× initramfs-tools | %.2f× (%s against %s) | %s |", targetRatio, ratio, sec(ours.Median), sec(refMed), yes(ratio <= targetRatio))
	}
	w("| ours ≤ 4 MiB compressed, with the storage modules | %.2f MiB | %s |", mibI(ourPacked), yes(ourPacked > 0 && ourPacked <= targetPacked))
	w("| ≤ 50 ms from /init start to the resume write once the device is there | %s from the disk's kernel line to the write (the whole share from /init's start: %s) | %s |", ms(afterDev.Median), ms(ourShare.Median), yes(afterDev.N > 0 && afterDev.Median <= targetShare))
	w("| `hibernate now` adds ≤ 150 ms | %s in the guest before the kernel's entry (%s by the QEMU clock, difference of medians) | %s |", ms(inGuest.Median), ms(overhead), yes(inGuest.N > 0 && inGuest.Median <= targetOverhead))
	for _, fr := range []*FloorResult{r.Floor, r.FloorIcount} {
		if fr == nil || fr.Err != nil {
			continue
		}
		o, f := floorStats(fr, "ours", 0), floorStats(fr, floorC, 0)
		if o[0].N == 0 || f[0].N == 0 {
			continue
		}
		clock := "QEMU's clock; the share by the kernel's"
		if fr.Icount > 0 {
			clock = "the share by the guest's clock (-icount)"
		}
		tr, sr := float64(o[0].Median)/float64(f[0].Median), float64(o[1].Median)/float64(f[1].Median)
		w("| ours ≤ 1.05× the floor's total, ≤ 2× its share (%s) | %.2f×, %.2f× (%s against %s) | %s |", clock, tr, sr, ms(o[1].Median), ms(f[1].Median), yes(tr <= 1.05 && sr <= 2))
		if fr.Icount > 0 {
			w("| ≤ 50 ms from the disk there to the resume write, by the guest's clock (-icount) | %s (%s–%s, %d resumes) | %s |", ms(o[2].Median), ms(o[2].Min), ms(o[2].Max), o[2].N, yes(o[2].Median <= targetShare))
		}
	}
	if hi := r.HibernateIcount; hi != nil {
		var v []time.Duration
		for _, round := range hi.Rounds {
			for _, h := range round {
				if h.Err == nil && h.BeforeEntry > 0 {
					v = append(v, h.BeforeEntry)
				}
			}
		}
		if st := statsOf(v); st.N > 0 {
			w("| `hibernate now` adds ≤ 150 ms, by the guest's clock (-icount) | %s (%s–%s, %d runs) | %s |", ms(st.Median), ms(st.Min), ms(st.Max), st.N, yes(st.Median <= targetOverhead))
		}
	}
	if afterDev.N > 0 && afterDev.Median > targetShare {
		w("")
		w("Why the 50 ms is missed here: from the disk's kernel line to the write, %s. In it: the rest of", ms(afterDev.Median))
		w("virtio_blk's load after the disk is announced (the kernel prints the line while the driver still")
		w("probes), then /init's look (sysfs, and the first page of each partition for the UUID), the swap")
		w("header, the image's first map page and info page, the decision, and the writes to /sys/power.")
		w("Under TCG every instruction is emulated and each piece of code is translated the first time it")
		w("runs, which is every piece here: this run cannot tell the figure on hardware; it does show it")
		w("against the peers' on the same emulated CPU (the last column above). Of the whole share (%s", ms(ourShare.Median))
		w("from `Run /init`), the start of the Go runtime before /init's first line is the largest part left.")
	}
	if inGuest.N > 0 && inGuest.Median > targetOverhead {
		w("")
		w("Why `hibernate now` misses 150 ms here: in the guest %s from its first line to the kernel's entry:", ms(inGuest.Median))
		w("the checks (each one's time in the table of \"Hibernating, by the guest's clock\", and in `hibernate check --json`), the")
		w("lock and hooks folders, the image-record state and sysfs writes, and sync.")
		w("The sync is work the kernel does anyway at the start of")
		w("a hibernation (it syncs first): done before, it makes the kernel's faster. All of it is emulated code")
		w("run for the first time in the process; the start of the hibernate binary itself (its runtime and")
		w("package initialisers) comes before the first line and is not in the figure.")
	}
	if refMed > 0 && ours.N > 0 && float64(ours.Median)/float64(refMed) > targetRatio {
		w("")
		w("Why the latency ratio is missed: most of a resume under TCG is the kernel's own work, the same for")
		w("every initramfs (booting to /init, then reading and decompressing the image: see the kernel's")
		w("\"Read … kbytes in … seconds\" line in the trials' logs), so the initramfs's share bounds the ratio.")
	}
	if len(r.Notes) > 0 {
		w("")
		w("Notes:")
		w("")
		for _, n := range r.Notes {
			w("- %s", n)
		}
	}
	w("")
	w("## Versions and machine")
	w("")
	w("| what | version |")
	w("| --- | --- |")
	for _, v := range r.Versions {
		w("| %s | %s |", v[0], v[1])
	}
	for _, v := range r.Machine {
		w("| %s | %s |", v[0], v[1])
	}
	w("")
	w("Run it again with `make bench` (this run took %s; the chroots take a few minutes more the first", r.Took.Round(time.Minute))
	w("time); `make bench BENCH_ONLY=luks` runs the encrypted section alone and rewrites only that section.")
	w("Trials' console logs are under build/test-logs/bench-trial-* and bench-luks-trial-*.")
	return b.String()
}

func durations(hs []HibernateRun) []time.Duration {
	var out []time.Duration
	for _, h := range hs {
		out = append(out, h.Took)
	}
	return out
}

// versions of what the figures depend on.
func versions(a scenario.Artifacts, p peerRoots) [][2]string {
	v := [][2]string{
		{"kernel", a.Kernel.Release + " (Debian " + a.Kernel.Version + ")"},
		{"hibernate", hibernateVersion(a)},
		{"QEMU", cmdLine("qemu-system-x86_64", "--version")},
		{"Go", runtime.Version()},
	}
	keys := make([]string, 0, len(p.versions))
	for k := range p.versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v = append(v, [2]string{k + " (peer chroots)", p.versions[k]})
	}
	v = append(v, [2]string{"gnuplot", cmdLine("gnuplot", "--version")})
	return v
}

func machine() [][2]string {
	m := [][2]string{{"host kernel", cmdLine("uname", "-srm")}, {"CPUs", fmt.Sprint(runtime.NumCPU())}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, val, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m = append(m, [2]string{"CPU", strings.TrimSpace(val)})
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m = append(m, [2]string{"memory", strings.TrimSpace(strings.TrimPrefix(firstLine(string(b)), "MemTotal:"))})
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m = append(m, [2]string{"host OS", "Debian " + strings.TrimSpace(string(b))})
	}
	m = append(m, [2]string{"accelerator", "TCG (no KVM)"})
	return m
}

func cmdLine(name string, args ...string) string {
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	return firstLine(string(b))
}

// writePlot writes the trials as data and has gnuplot draw them: one column per initramfs, each
// trial a point (jittered sideways), the median a bar.
func writePlot(r *Result, dat, png string) error {
	var d bytes.Buffer
	var names []string
	for _, in := range r.Initrds {
		if len(r.byInitrd(in.Name, func(t Trial) time.Duration { return t.Resume })) > 0 {
			names = append(names, in.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no successful trial to plot")
	}
	for i, n := range names {
		ts := r.byInitrd(n, func(t Trial) time.Duration { return t.Resume })
		for j, t := range ts {
			jit := (float64(j%5) - 2) * 0.04
			fmt.Fprintf(&d, "%d %.3f %.3f\n", i, float64(i)+jit, t.Seconds())
		}
	}
	d.WriteString("\n\n")
	for i, n := range names {
		m := statsOf(r.byInitrd(n, func(t Trial) time.Duration { return t.Resume })).Median
		fmt.Fprintf(&d, "%d %.3f\n", i, m.Seconds())
	}
	if err := os.MkdirAll(filepath.Dir(dat), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dat, d.Bytes(), 0o644); err != nil {
		return err
	}
	var tics []string
	for i, n := range names {
		tics = append(tics, fmt.Sprintf("%q %d", strings.ReplaceAll(n, " (", "\n("), i))
	}
	script := fmt.Sprintf(`set terminal pngcairo size 900,520 font ",10"
set output %q
set title "Resume latency: QEMU start to the resumed job's first line (TCG, %s)"
set ylabel "seconds"
set xrange [-0.6:%d.6]
set yrange [0:*]
set xtics (%s)
set grid ytics
set key top left
plot %q index 0 using 2:3 with points pt 7 ps 1.2 title "trial", \
     %q index 1 using 1:2:(0.3) with xerrorbars pt 0 lw 3 lc rgb "black" title "median"
`, png, r.Kernel.Release, len(names)-1, strings.Join(tics, ", "), dat, dat)
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		// gnuplot-nox may lack cairo: fall back to the gd png terminal.
		cmd = exec.Command("gnuplot")
		cmd.Stdin = strings.NewReader(strings.Replace(script, `pngcairo size 900,520 font ",10"`, "png size 900,520", 1))
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			return fmt.Errorf("gnuplot: %w: %s / %s", err2, out, out2)
		}
	}
	return nil
}

// floorStats is the total, the share, the disk-to-write, the kernel's unpack of the initramfs
// and its Run /init's time of in's trials in the floor's run that resumed and showed their
// share (the last two of those whose console shows them): round's (1 the first), or every
// round's for round 0.
func floorStats(r *FloorResult, in string, round int) [5]Stats {
	var tot, share, dev, unpack, initAt []time.Duration
	for _, t := range r.Trials {
		if t.Initrd == in && (round == 0 || max(t.Round, 1) == round) && t.Err == nil && t.ShareErr == nil {
			tot, share, dev = append(tot, t.Resume), append(share, t.Share), append(dev, t.AfterDev)
			if t.Unpack > 0 && t.InitAt > 0 {
				unpack, initAt = append(unpack, t.Unpack), append(initAt, t.InitAt)
			}
		}
	}
	return [5]Stats{statsOf(tot), statsOf(share), statsOf(dev), statsOf(unpack), statsOf(initAt)}
}
