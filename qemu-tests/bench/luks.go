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
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// The encrypted machine (issue 13): ours against initramfs-tools with cryptsetup-initramfs and
// lvm2, on the Debian installer's encrypted LVM layout (scenario.EncryptedLVM: vda1 a LUKS2
// volume opened as vda1_crypt, in it the VG guest-vg with the LVs root and swap_1). One guest
// hibernates once; each trial boots a sparse copy of its disk, ours and the peer alternating,
// and the harness types the passphrase at the prompt the moment it shows. What is measured
// starts at that Enter: a person's typing is no part of either initramfs.

const (
	// luksPeerName names the peer in the report.
	luksPeerName = "initramfs-tools + cryptsetup-initramfs"
	// luksPeerPrompt is what cryptsetup-initramfs's askpass shows (its local-top/cryptroot:
	// "Please unlock disk $CRYPTTAB_NAME: ").
	luksPeerPrompt = "Please unlock disk vda1_crypt: "
	// luksPeerOpened is the line cryptroot prints once the volume is open.
	luksPeerOpened = "vda1_crypt: set up successfully"
	// luksResume is the resume device of both: the swap LV by its device-mapper path, what the
	// peer's conf.d/resume says (as the Debian installer writes it) and what /init resolves by
	// its dm name.
	luksResume = "/dev/mapper/guest--vg-swap_1"
)

// LUKSTrial is one resume boot of the encrypted machine. Durations are from the Enter of the
// passphrase unless named otherwise.
type LUKSTrial struct {
	Initrd string // Initrd.Name
	Seq    int
	Job    time.Duration // to the job's first line after resume (harness clock): the figure
	Opened time.Duration // to the line saying the volume is open, as the harness read it
	// Write is to the kernel's "PM: hibernation: resume from hibernation" (printed as the resume
	// device is written), as the harness read it: the initramfs's part after the Enter.
	Write time.Duration
	// Share is the kernel's "Run /init" to that line, on the kernel's clock: the whole
	// initramfs, the prompt's wait in it (answered at once).
	Share time.Duration
	// ImageRead is the kernel's own "Read N kbytes in S seconds" (the image through dm-crypt).
	ImageRead time.Duration
	PowerOn   time.Duration // QEMU start to the job's first line
	Enter     time.Duration // QEMU start to the Enter
	Log       string
	Err       error // the resume failed
	// ClockErr: the console did not give the kernel's figures (Write, Share, ImageRead).
	ClockErr error
	// Ours only, by /init's own lines: cryptsetup open, and lvm activating the two LVs.
	OurOpen, OurLVM time.Duration
}

// LUKSResult is the encrypted section of the report.
type LUKSResult struct {
	Start    time.Time
	Took     time.Duration
	Pairs    int
	Cmdline  string // the kernel command line of every trial
	LUKS     scenario.LUKS
	Initrds  []Initrd // ours, the peer
	Trials   []LUKSTrial
	Crypttab string // the peer root's /etc/crypttab
	// InInitrd is the crypttab the peer's hook put in its initramfs (cryptroot/crypttab).
	InInitrd string
	Prompts  map[string]string // initrd name -> the prompt line the trials answered
	Retried  []string          // trials run again, their kernel never having run /init, and why
	// HostTools: the versions of the build host's cryptsetup and lvm2, which our initramfs carries.
	HostTools string
	Versions  [][2]string
	Err       error // the section could not run
}

// luksPeerConf is the peer's configuration folder (a copy of /etc/initramfs-tools) in its root.
const luksPeerConf = "etc/initramfs-tools-bench-luks"

// ensureLUKSRoot makes (once, cached) the root of initramfs-tools with cryptsetup-initramfs and
// lvm2, with the guests' kernel package, and reads the versions that matter.
func ensureLUKSRoot(ctx context.Context, a scenario.Artifacts, log io.Writer) (debroot.KernelRoot, map[string]string, error) {
	k, err := kernelRoot(ctx, a, debroot.InitramfsToolsLUKSPeer(), log)
	if err != nil {
		return k, nil, err
	}
	v, err := debroot.DpkgVersions(k.Dir, "linux-image-", "initramfs-tools", "cryptsetup", "lvm2", "udev")
	if err != nil {
		return k, nil, err
	}
	if got := v["linux-image-"+a.Kernel.Release]; got != a.Kernel.Version {
		return k, nil, fmt.Errorf("%s has linux-image-%s %q, the guests boot %s", k.Dir, a.Kernel.Release, got, a.Kernel.Version)
	}
	return k, v, nil
}

// buildLUKSPeer writes the peer root's /etc/crypttab for the disk l and builds its initramfs
// (MODULES=most, RESUME= the swap LV). The crypttab line has the option `initramfs`: the
// cryptroot hook puts into the initramfs the volumes under / and the resume device, which it
// finds through the running system (/proc/mounts, device numbers), so in a chroot without the
// disk it finds neither and leaves the volume out; `initramfs` is crypttab(5)'s way of naming a
// volume the initramfs must open all the same. The hook then keeps the source as written
// (UUID=…) after a warning that it cannot resolve it here. It checks that the initramfs holds
// the volume's line.
func buildLUKSPeer(ctx context.Context, a scenario.Artifacts, root debroot.KernelRoot, vers map[string]string, l *scenario.LUKS, outDir string, r *LUKSResult, log io.Writer) Initrd {
	in := Initrd{Name: luksPeerName, Generator: "initramfs-tools " + vers["initramfs-tools"] + ", cryptsetup-initramfs " + vers["cryptsetup-initramfs"] + ", lvm2 " + vers["lvm2"]}
	fail := func(err error) Initrd { in.Path, in.Err = "", err; return in }
	r.Crypttab = fmt.Sprintf("%s UUID=%s none luks,discard,initramfs\n", l.Name, l.UUID)
	if err := debroot.WriteFile(root.Dir, debroot.File{Path: "etc/crypttab", Data: r.Crypttab}); err != nil {
		return fail(err)
	}
	if err := writePeerConf(root.Dir, luksPeerConf, "most", luksResume); err != nil {
		return fail(err)
	}
	const tmpImg = "/tmp/bench-initrd-luks.img"
	start := time.Now()
	if err := debroot.Chroot(ctx, root.Dir, log, "mkinitramfs", "-d", "/"+luksPeerConf, "-o", tmpImg, a.Kernel.Release); err != nil {
		return fail(err)
	}
	in.Cold = time.Since(start)
	// What the hook kept: unpacked in the chroot by initramfs-tools' own unmkinitramfs.
	const x = "/tmp/bench-initrd-luks.x"
	if err := debroot.Chroot(ctx, root.Dir, log, "sh", "-c", "rm -rf "+x+" && unmkinitramfs "+tmpImg+" "+x); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(filepath.Join(root.Dir, x))
	for _, p := range []string{"cryptroot/crypttab", "main/cryptroot/crypttab"} {
		if b, err := os.ReadFile(filepath.Join(root.Dir, x, p)); err == nil {
			r.InInitrd = string(b)
		}
	}
	if !strings.Contains(r.InInitrd, "UUID="+l.UUID) {
		return fail(fmt.Errorf("the peer's initramfs has no crypttab line for %s (UUID=%s): its cryptroot/crypttab is %q", l.Name, l.UUID, r.InInitrd))
	}
	in.Path = filepath.Join(outDir, "initrd-initramfs-tools-luks.img")
	if err := moveOut(filepath.Join(root.Dir, tmpImg), in.Path); err != nil {
		return fail(err)
	}
	return in
}

// runLUKS is the encrypted section: the peer root, one encrypted guest hibernated, both
// initramfs, then pairs trials of each, alternating.
func runLUKS(ctx context.Context, a scenario.Artifacts, o Options, outDir string, log io.Writer, say func(string, ...any)) *LUKSResult {
	r := &LUKSResult{Start: time.Now(), Pairs: o.Pairs, Prompts: map[string]string{}}
	defer func() { r.Took = time.Since(r.Start) }()
	say("encrypted: the peer root (initramfs-tools, cryptsetup-initramfs, lvm2; debootstrap once, then cached)")
	root, vers, err := ensureLUKSRoot(ctx, a, log)
	if err != nil {
		r.Err = err
		return r
	}
	for _, p := range []string{"initramfs-tools", "cryptsetup-initramfs", "cryptsetup-bin", "lvm2", "udev"} {
		r.Versions = append(r.Versions, [2]string{p, vers[p]})
	}
	say("encrypted: hibernating an encrypted LVM guest (the passphrase typed at /init's prompt)")
	h, err := scenario.New(ctx, a, "bench-luks", scenario.EncryptedLVM(), scenario.Output(o.Out))
	if err == nil {
		err = hibernateEncrypted(ctx, h)
	}
	if err != nil {
		r.Err = fmt.Errorf("the encrypted guest: %w", err)
		return r
	}
	r.LUKS = *h.Guest.LUKS
	r.HostTools = "cryptsetup-bin " + cmdLine("dpkg-query", "-W", "-f", "${Version}", "cryptsetup-bin") + ", lvm2 " + cmdLine("dpkg-query", "-W", "-f", "${Version}", "lvm2")
	r.Cmdline = h.BaseCmdline() + " resume=" + luksResume
	ours := Initrd{Name: "ours", Path: h.Guest.Initrd, Generator: hibernateVersion(a)} // its flags are in the text
	say("encrypted: building the peer's initramfs (MODULES=most, crypttab UUID=%s)", r.LUKS.UUID)
	peer := buildLUKSPeer(ctx, a, root, vers, &r.LUKS, outDir, r, log)
	r.Initrds = []Initrd{ours, peer}
	for i := range r.Initrds {
		in := &r.Initrds[i]
		if in.Path == "" {
			say("encrypted: %s: not built: %v", in.Name, in.Err)
			continue
		}
		if in.Packed, in.Unpacked, err = Sizes(in.Path); err != nil {
			in.Err = err
		}
		say("encrypted: %s: %.1f MiB (%.1f MiB unpacked)", in.Name, mibI(in.Packed), mibI(in.Unpacked))
	}
	if peer.Path == "" {
		r.Err = fmt.Errorf("the peer's initramfs: %w", peer.Err)
		return r
	}
	prompts := map[string]string{ours.Name: "", peer.Name: luksPeerPrompt}
	opened := map[string]string{ours.Name: resume.Unlocked + r.LUKS.Name, peer.Name: luksPeerOpened}
	seq := 0
	for p := 0; p < o.Pairs; p++ {
		for _, in := range r.Initrds {
			seq++
			t := luksTrial(ctx, h, in, seq, prompts[in.Name], opened[in.Name], r)
			if why := beforeInit(t); why != "" {
				// Neither initramfs ran: a TCG guest on a loaded host can miss the timer check at
				// boot. The trial says nothing of either side; it is run once more.
				say("encrypted trial %d %s: the kernel never ran /init (%s): once more", seq, in.Name, why)
				r.Retried = append(r.Retried, fmt.Sprintf("trial %d (%s): %s", seq, in.Name, why))
				t = luksTrial(ctx, h, in, seq, prompts[in.Name], opened[in.Name], r)
			}
			r.Trials = append(r.Trials, t)
			if t.Err != nil {
				say("encrypted trial %d %s: FAIL %v", seq, in.Name, t.Err)
			} else {
				say("encrypted trial %d %s: the job %s after the Enter (volume open %s, resume write %s; kernel: /init to write %s, image read %s)",
					seq, in.Name, t.Job.Round(10*time.Millisecond), t.Opened.Round(10*time.Millisecond), t.Write.Round(10*time.Millisecond),
					t.Share.Round(10*time.Millisecond), t.ImageRead.Round(10*time.Millisecond))
			}
		}
	}
	return r
}

// beforeInit says why a failed trial's kernel never ran the initramfs (its panic line), "" when
// the trial did not fail or the initramfs ran.
func beforeInit(t LUKSTrial) string {
	if t.Err == nil || t.Log == "" {
		return ""
	}
	b, err := os.ReadFile(t.Log)
	if err != nil || strings.Contains(string(b), "Run /init as init process") {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, scenario.KernelPanic); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return "no \"Run /init\" on the console"
}

// hibernateEncrypted boots the new encrypted guest, makes its swap in the swap LV, starts the
// job and hibernates it (the host cannot read the encrypted image: no CheckImage).
func hibernateEncrypted(ctx context.Context, h *scenario.Machine) error {
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	vm, _, err := h.Boot(ctx, "")
	if vm != nil {
		defer vm.Kill()
	}
	if err != nil {
		return err
	}
	return scenario.Do(ctx, vm, h.SetupSwap, h.StartJob, h.HibernateNow)
}

// luksTrial boots a sparse copy of h's disk with in, types the passphrase at prompt ("" for
// /init's), and measures from the Enter; opened is the console line that says the volume is
// open. Resume checks that the job goes on with the same memory in the same boot.
func luksTrial(ctx context.Context, h *scenario.Machine, in Initrd, seq int, prompt, opened string, r *LUKSResult) LUKSTrial {
	t := LUKSTrial{Initrd: in.Name, Seq: seq}
	c, vm, err := resumeCopy(ctx, h, fmt.Sprintf("bench-luks-trial-%02d", seq), in.Path, 4*time.Minute, "resume="+luksResume, &t.Log,
		func(c *scenario.Machine) { c.PassphrasePrompt = prompt })
	if err != nil {
		t.Err = err
		return t
	}
	t.PowerOn, t.Enter = c.Summary.ResumeTime, c.Summary.PassphraseAt
	t.Job = t.PowerOn - t.Enter
	lines := vm.ConsoleTimedLines()
	if _, ok := r.Prompts[in.Name]; !ok {
		r.Prompts[in.Name] = promptLine(lines, prompt, c.Guest.LUKS.Prompt())
	}
	for _, l := range lines {
		if l.At > t.Enter && strings.Contains(l.Text, opened) {
			t.Opened = l.At - t.Enter
			break
		}
	}
	t.Write, t.Share, t.ImageRead, t.ClockErr = luksShares(lines, t.Enter)
	for _, l := range lines {
		if m := ourOpenRE.FindStringSubmatch(l.Text); m != nil {
			n, _ := strconv.Atoi(m[1])
			t.OurOpen = time.Duration(n) * time.Millisecond
		}
		if m := ourLVMRE.FindStringSubmatch(l.Text); m != nil {
			n, _ := strconv.Atoi(m[1])
			t.OurLVM = time.Duration(n) * time.Millisecond
		}
	}
	return t
}

// /init's lines of the unlock and the activation (internal/resume/unlock.go), with their times.
var (
	ourOpenRE = regexp.MustCompile(regexp.QuoteMeta(resume.LinePrefix) + `\[[^]]*\] ` + regexp.QuoteMeta(resume.Unlocked) + `.* in (\d+) ms$`)
	ourLVMRE  = regexp.MustCompile(regexp.QuoteMeta(resume.LinePrefix) + `\[[^]]*\] ` + regexp.QuoteMeta(resume.Activated) + `.* in (\d+) ms `)
)

// promptLine is the console line that held the prompt answered (the prompt, then what followed
// it on that line once the Enter was typed).
func promptLine(lines []harness.TimedLine, prompt, ours string) string {
	if prompt == "" {
		prompt = ours
	}
	for _, l := range lines {
		if i := strings.Index(l.Text, prompt); i >= 0 {
			return strings.TrimSpace(strings.TrimRight(l.Text[i:], "*")) // /init echoes a * a key
		}
	}
	return ""
}

// luksShares reads the console: when the harness read the kernel's resume line, after the Enter
// typed at enter; the kernel's "Run /init" to that line on its own clock; and the kernel's own
// time for reading the image. The Enter itself is not put on the kernel's clock: under TCG on a
// loaded host the guest's clock runs a few percent off the host's (its TSC calibrated under
// emulation), so an offset read early in the boot is off by tenths of a second by the prompt.
func luksShares(lines []harness.TimedLine, enter time.Duration) (write, share, imageRead time.Duration, err error) {
	runInit, resumeAt := -1.0, -1.0
	for _, l := range lines {
		if m := imageReadRE.FindStringSubmatch(l.Text); m != nil && imageRead == 0 {
			v, _ := strconv.ParseFloat(m[1], 64)
			imageRead = secs(v)
		}
		m := kernelTS.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		switch {
		case strings.Contains(l.Text, "Run /init as init process") && runInit < 0:
			runInit = v
		case strings.Contains(l.Text, resumeLine) && resumeAt < 0 && l.At > enter:
			resumeAt = v
			write = l.At - enter
		}
	}
	if runInit < 0 || resumeAt < 0 {
		return 0, 0, 0, fmt.Errorf("console has no \"Run /init\" (%v) or no %q after the Enter (%v)", runInit >= 0, resumeLine, resumeAt >= 0)
	}
	return write, secs(resumeAt - runInit), imageRead, nil
}

const resumeLine = "PM: hibernation: resume from hibernation"

// imageReadRE is the kernel's line at the end of the image read ("PM: hibernation: Read 173548
// kbytes in 4.24 seconds (40.93 MB/s)").
var imageReadRE = regexp.MustCompile(`PM: (?:hibernation: )?Read \d+ kbytes in (\d+\.\d+) seconds`)

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// kernelRoot is one peer root with the guests' kernel .deb (from the kernel cache) installed.
func kernelRoot(ctx context.Context, a scenario.Artifacts, s debroot.Spec, log io.Writer) (debroot.KernelRoot, error) {
	if a.Kernel.Deb == "" {
		return debroot.KernelRoot{}, fmt.Errorf("no linux-image-%s_%s deb beside the unpacked kernel in the kernel cache: run make kernels", a.Kernel.Release, a.Kernel.Version)
	}
	return debroot.EnsureKernelRoot(ctx, s, []string{a.Kernel.Deb}, log)
}

// luksHeading begins the encrypted section of the report.
const luksHeading = "## Resume of an encrypted LVM machine"

// LUKSMarkdown is the encrypted section of the report, its heading first, ending in a newline.
func LUKSMarkdown(r *LUKSResult) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("%s", luksHeading)
	w("")
	if r == nil {
		w("Not run.")
		return b.String()
	}
	w("Run on %s, in %s (`make bench`, or this section alone: `make bench BENCH_ONLY=luks`).", r.Start.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second))
	if r.Err != nil {
		w("")
		w("It did not run to the end: `%s`", firstLine(r.Err.Error()))
		return b.String()
	}
	l := r.LUKS
	w("The Debian installer's encrypted LVM layout (qemu-tests/scenario, `EncryptedLVM`): vda1 is a LUKS2 volume")
	w("(aes-xts-plain64, keyslot %s), opened as %s; in it the VG %s with the LVs %s", l.PBKDF, l.Name, l.VG, l.RootLV)
	w("(ext4, the root) and %s (the swap). One guest hibernated once (512 MiB RAM, the 64 MiB job) from its", l.SwapLV)
	w("swap LV; each trial boots a sparse copy of that disk with the same kernel command line")
	w("(`%s`), and only the initrd differs.", r.Cmdline)
	w("Both ask for the passphrase on the console; the harness types it (and Enter) at the moment the prompt")
	w("shows, so that what is timed is each initramfs's work: from that Enter to the resumed job's first line")
	w("(the harness's clock), %d pairs (ours, then the peer).", r.Pairs)
	w("")
	stat := func(name string, f func(LUKSTrial) time.Duration, clock bool) Stats {
		var ds []time.Duration
		for _, t := range r.Trials {
			if t.Initrd == name && t.Err == nil && (!clock || t.ClockErr == nil) {
				ds = append(ds, f(t))
			}
		}
		return statsOf(ds)
	}
	peerMed := stat(luksPeerName, func(t LUKSTrial) time.Duration { return t.Job }, false).Median
	w("| initramfs | trials | Enter → job, median | min–max | median / %s | Enter → volume open, median (min–max) | Enter → resume write, median (min–max) | `Run /init` → resume write, kernel clock, median | image read, kernel's figure, median | power on → job, median |", luksPeerName)
	w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, in := range r.Initrds {
		s := stat(in.Name, func(t LUKSTrial) time.Duration { return t.Job }, false)
		if s.N == 0 {
			w("| %s | 0 | — | — | — | — | — | — | — | — |", in.Name)
			continue
		}
		op := stat(in.Name, func(t LUKSTrial) time.Duration { return t.Opened }, false)
		wr := stat(in.Name, func(t LUKSTrial) time.Duration { return t.Write }, true)
		sh := stat(in.Name, func(t LUKSTrial) time.Duration { return t.Share }, true)
		rd := stat(in.Name, func(t LUKSTrial) time.Duration { return t.ImageRead }, true)
		po := stat(in.Name, func(t LUKSTrial) time.Duration { return t.PowerOn }, false)
		ratio := "—"
		if peerMed > 0 {
			ratio = fmt.Sprintf("%.2f", float64(s.Median)/float64(peerMed))
		}
		w("| %s | %d | %s | %s–%s | %s | %s (%s–%s) | %s (%s–%s) | %s | %s | %s |", in.Name, s.N, sec(s.Median), sec(s.Min), sec(s.Max), ratio,
			sec(op.Median), sec(op.Min), sec(op.Max), sec(wr.Median), sec(wr.Min), sec(wr.Max), sec(sh.Median), sec(rd.Median), sec(po.Median))
	}
	ours := stat("ours", func(t LUKSTrial) time.Duration { return t.Job }, false)
	if ours.N > 0 && peerMed > 0 {
		w("")
		w("**Enter to the job running: ours %s, %s %s (medians): %.2f× the peer's time.**", sec(ours.Median), luksPeerName, sec(peerMed), float64(ours.Median)/float64(peerMed))
		job := pairRatios(r, func(t LUKSTrial) time.Duration { return t.Job }, false)
		wr := pairRatios(r, func(t LUKSTrial) time.Duration { return t.Write }, true)
		ow := stat("ours", func(t LUKSTrial) time.Duration { return t.Write }, true).Median
		pw := stat(luksPeerName, func(t LUKSTrial) time.Duration { return t.Write }, true).Median
		if len(job) > 0 && pw > 0 {
			w("Each pair's two trials ran one after the other, under the same load: the median of the pairs' own")
			w("ratios is %.2f (%d pairs: %s). Of that time, the initramfs's part (Enter → resume write) is ours %s", median(job), len(job), ratioList(job), sec(ow))
			w("against %s, %.2f× (pairs' median %.2f); the rest, the kernel reading the image through dm-crypt and", sec(pw), float64(ow)/float64(pw), median(wr))
			w("restoring it, is the same work for both, and most of the time.")
		}
	}
	w("")
	w("Enter → job is the figure: the harness's clock, from the Enter written to the console to the job's")
	w("first line read back. Its parts: the volume open is the console line that says so, as the harness")
	w("read it (ours: `hibernate: [T] unlocked %s …`; the peer: `cryptsetup: %s`); both run", l.Name, luksPeerOpened)
	w("cryptsetup open, whose argon2id costs are the same work for both. The resume write is the kernel's")
	w("`%s`, printed as /sys/power/resume is written: Enter to there is the", resumeLine)
	w("initramfs's work after the passphrase (the unlock, the LVs, finding the image); from there on the")
	w("kernel reads the image through dm-crypt (its own figure in the next column), restores it and thaws")
	w("the job, whose next line comes within its 1 s tick. On the kernel's clock, `Run /init` to the write is")
	w("the whole initramfs, the prompt's wait in it (the harness answers within milliseconds). The Enter is")
	w("not set on the kernel's clock: under TCG on a loaded host the guest's clock runs a few percent off")
	w("the host's (an offset read from the console early in the boot was off by 0.3 s by the prompt).")
	w("")
	w("The peer's line comes once cryptsetup has waited for udev to be done with the new device, and lvm2's")
	w("udev rule (69-lvm.rules) activates the VG within that (pvscan, then vgchange -aay): its volume open")
	w("holds its LVM activation, where ours activates the two LVs after its line.")
	oo := stat("ours", func(t LUKSTrial) time.Duration { return t.OurOpen }, false)
	ol := stat("ours", func(t LUKSTrial) time.Duration { return t.OurLVM }, false)
	if oo.N > 0 && oo.Median > 0 {
		w("Ours by its own clock (`hibernate: [T]` lines): cryptsetup open %s, lvm activating root and swap_1 %s (medians).", ms(oo.Median), ms(ol.Median))
	}
	w("")
	w("The prompts answered, as the console shows them:")
	w("")
	for _, in := range r.Initrds {
		if p := r.Prompts[in.Name]; p != "" {
			w("- %s: `%s`", in.Name, p)
		}
	}
	var failed []string
	for _, t := range r.Trials {
		if t.Err != nil {
			failed = append(failed, fmt.Sprintf("- trial %d (%s): %s", t.Seq, t.Initrd, firstLine(t.Err.Error())))
		} else if t.ClockErr != nil {
			failed = append(failed, fmt.Sprintf("- trial %d (%s), kernel clock only: %s", t.Seq, t.Initrd, firstLine(t.ClockErr.Error())))
		}
	}
	if len(r.Retried) > 0 {
		w("")
		w("Trials run once more, their kernel having stopped before /init (the host's load, no initramfs's doing):")
		w("")
		for _, x := range r.Retried {
			w("- %s", x)
		}
	}
	if len(failed) > 0 {
		w("")
		w("Failed trials (left out of the figures):")
		w("")
		w("%s", strings.Join(failed, "\n"))
	}
	w("")
	w("The peer is Debian 12's initramfs-tools with cryptsetup-initramfs and lvm2, in a chroot (debootstrap,")
	w("cached) with the guests' kernel `.deb`, set up as the installer leaves such a machine: `/etc/fstab` has")
	w("the root `/dev/mapper/guest--vg-root` and the swap LV, `conf.d/resume` has `RESUME=%s`,", luksResume)
	w("MODULES=most (Debian's default), and `/etc/cryptsetup-initramfs/conf-hook` has `CRYPTSETUP=y` (cryptsetup")
	w("into the initramfs though no volume is open in the chroot). Its `/etc/crypttab`:")
	w("")
	w("    %s", strings.TrimSpace(r.Crypttab))
	w("")
	w("The option `initramfs` is what makes the hook keep the volume: it takes the volumes under `/` and under")
	w("the resume device from the running system (`/proc/mounts`, device numbers), and in a chroot without the")
	w("disk it finds neither (`cryptsetup: WARNING: Couldn't determine root device`, `ERROR: Couldn't resolve")
	w("device %s`) and leaves the volume out, the initramfs then unable to open it; `initramfs` is", luksResume)
	w("crypttab(5)'s way of naming a volume the initramfs opens all the same, and the hook keeps its source as")
	w("written. The initramfs's own `cryptroot/crypttab` (checked by the benchmark): `%s`.", strings.TrimSpace(r.InInitrd))
	w("It unlocks the volume in local-top (askpass's prompt above), udev's lvm2 rules activate the VG, and")
	w("local-premount writes the swap LV to /sys/power/resume. Ours is `hibernate initramfs build %s`,", strings.Join(l.InitramfsFlags(), " "))
	w("the flags the user gives for this disk: /init asks, opens the volume, activates those two LVs only and resumes;")
	w("its cryptsetup and lvm are the build host's (%s).", r.HostTools)
	w("")
	w("| initramfs | generator | compressed | uncompressed | build |")
	w("| --- | --- | --- | --- | --- |")
	for _, in := range r.Initrds {
		build := "with the guest (see Size and build time)"
		if in.Cold > 0 {
			build = sec(in.Cold) + " (mkinitramfs in the chroot, once)"
		}
		w("| %s | %s | %.2f MiB | %.2f MiB | %s |", in.Name, in.Generator, mibI(in.Packed), mibI(in.Unpacked), build)
	}
	w("")
	var vs []string
	for _, v := range r.Versions {
		vs = append(vs, v[0]+" "+v[1])
	}
	w("Peer root: %s. Trials' console logs are under build/test-logs/bench-luks-trial-*.", strings.Join(vs, ", "))
	return b.String()
}

// pairRatios is ours over the peer's figure f for each pair whose two trials both succeeded (and,
// with clock, both gave the kernel's figures), in the run's order.
func pairRatios(r *LUKSResult, f func(LUKSTrial) time.Duration, clock bool) []float64 {
	ok := func(t LUKSTrial) bool { return t.Err == nil && (!clock || t.ClockErr == nil) && f(t) > 0 }
	var out []float64
	for i := 0; i+1 < len(r.Trials); i += 2 {
		a, b := r.Trials[i], r.Trials[i+1]
		if a.Initrd == "ours" && b.Initrd == luksPeerName && ok(a) && ok(b) {
			out = append(out, float64(f(a))/float64(f(b)))
		}
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratioList(xs []float64) string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(out, ", ")
}

// spliceSection puts section (a heading and what follows) into the Markdown file at path in place
// of the part that begins with heading and runs to the next heading of its level, or, when it
// has none, before the heading before ("## …"), else at the end.
func spliceSection(path, heading, section, before string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	if !strings.HasSuffix(section, "\n") {
		section += "\n"
	}
	if i, end, ok := sectionBounds(doc, heading); ok {
		if end < len(doc) {
			section += "\n"
		}
		doc = doc[:i] + section + doc[end:]
	} else if i := strings.Index(doc, before+"\n"); i >= 0 {
		doc = doc[:i] + section + "\n" + doc[i:]
	} else {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// The sections spliced before the targets, and the targets' heading.
const (
	budgetHeading  = "## The runtime budget"
	targetsHeading = "## Targets"
)

// readSection is the section of the Markdown file at path that begins with heading, up to the
// next "## " heading; "" when the file has none.
func readSection(path, heading string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	doc := string(b)
	i, end, ok := sectionBounds(doc, heading)
	if !ok {
		return "", nil
	}
	return strings.TrimRight(doc[i:end], "\n") + "\n", nil
}

// sectionBounds is where the section of doc that begins with heading starts and ends (at the
// next "## " heading, or the end of doc); ok is false where doc has no such heading.
func sectionBounds(doc, heading string) (start, end int, ok bool) {
	start = strings.Index(doc, heading+"\n")
	if start < 0 {
		return 0, 0, false
	}
	end = len(doc)
	if j := strings.Index(doc[start+len(heading):], "\n## "); j >= 0 {
		end = start + len(heading) + j + 1
	}
	return start, end, true
}
