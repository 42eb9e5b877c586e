package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// Power on to the job through UEFI and GRUB (issue 14): the Debian 12 UEFI machine of
// TestDebianUEFIGrub (OVMF, Debian's signed shim and GRUB installed by the guest, update-grub's
// grub.cfg with setup's resume=), hibernated once, and every copy of that disk and of its UEFI
// variables resumed through the firmware by ours or by the distribution's initramfs
// (initramfs-tools, MODULES=most, as the kernel package made it), alternating. Both are in the
// guest's /boot from before the hibernation; each copy's GRUB reads grub.cfg or its twin
// grub-dist.cfg, chosen from the host on the copy's EFI system partition (scenario.UseDistGrubConfig).
// Same firmware, boot loader, kernel, disk and image: only the initramfs differs.

// OnlyFirmware is Options.Only for the firmware section.
const OnlyFirmware = "firmware"

const firmwareHeading = "## Power on to the job through UEFI and GRUB"

// The two sides of the section.
const (
	firmwareOurs = "ours"
	firmwareDist = "initramfs-tools (the distribution's, MODULES=most)"
)

// FirmwareTrial is one resume of a copy of the hibernated disk through the firmware.
type FirmwareTrial struct {
	Initrd string
	Seq    int
	Grub   time.Duration // QEMU's start to GRUB's first line
	Kernel time.Duration // to the kernel's command-line line
	Job    time.Duration // to the job's first line after the resume
	Share  time.Duration // the kernel's "Run /init" to its "resume from hibernation" (kernel clock)
	Log    string
	Err    error
}

// FirmwareResult is the section's run.
type FirmwareResult struct {
	Start     time.Time
	Took      time.Duration
	Pairs     int
	Release   string
	Cmdline   string // GRUB's, from the hibernated boot's /proc/cmdline
	ImageMem  uint64
	ImageDisk uint64
	Versions  [][2]string
	Trials    []FirmwareTrial
	Err       error
}

// runFirmware makes and hibernates the UEFI guest, then resumes copies of it pairs times each way.
func runFirmware(ctx context.Context, a scenario.Artifacts, pairs int, log io.Writer, say func(string, ...any)) *FirmwareResult {
	r := &FirmwareResult{Start: time.Now(), Pairs: pairs}
	defer func() { r.Took = time.Since(r.Start) }()
	say("firmware: the Debian 12 UEFI root (debootstrap once, then cached)")
	root, err := scenario.DebianRoot(ctx, debroot.SystemdEFIGuest(), log)
	if err != nil {
		r.Err = err
		return r
	}
	r.Versions = firmwareVersions(root.Dir)
	say("firmware: installing GRUB and both initramfs, then hibernating under the firmware (progress in %s)", logName(log))
	h, err := hibernateUEFI(ctx, a, root, log)
	if err != nil {
		r.Err = fmt.Errorf("the UEFI guest: %w", err)
		return r
	}
	r.Release, r.Cmdline = h.Release, h.Setup.KernelParams
	r.ImageMem, r.ImageDisk = h.Summary.ImageBytes, h.Summary.ImageDiskBytes
	seq := 0
	for p := 0; p < pairs; p++ {
		for _, side := range []string{firmwareOurs, firmwareDist} {
			seq++
			t := firmwareTrial(ctx, h, side, seq)
			r.Trials = append(r.Trials, t)
			if t.Err != nil {
				say("firmware trial %d %s: FAIL %v (log %s)", seq, side, t.Err, t.Log)
				continue
			}
			say("firmware trial %d %s: GRUB %s, kernel %s, the job %s after power on (/init's share %s)", seq, side,
				secs2(t.Grub), secs2(t.Kernel), secs2(t.Job), ms(t.Share))
		}
	}
	return r
}

// hibernateUEFI boots the UEFI guest once the PVH way to install GRUB and both initramfs (the
// distribution's kept as initrd.img-R.dist, ours built by hibernate), then through the firmware:
// the job started, the ESP unmounted, hibernate now, the image checked on the disk.
func hibernateUEFI(ctx context.Context, a scenario.Artifacts, root debroot.Root, log io.Writer) (*scenario.Machine, error) {
	h, err := scenario.New(ctx, a, "bench-firmware", scenario.DebianSystemd(root), scenario.UEFIGrub(), scenario.Output(log))
	if err != nil {
		return nil, err
	}
	steps := [][]scenario.Step{
		{h.WaitSystemd, h.SetupSwap, h.KeepDistributionInitrd, h.BuildInitramfsInGuest, h.InstallGrub, h.WriteDistGrubConfig, h.PowerOffForFirmware},
		{h.CheckFirmwareBoot, h.WaitSystemd, h.StartJob, h.UnmountESP, h.NoteSystemState, h.HibernateNow, h.CheckImage},
	}
	for i, s := range steps {
		vm, _, err := h.Boot(ctx, "")
		if err == nil {
			err = scenario.Do(ctx, vm, s...)
		}
		if vm != nil {
			vm.Kill()
		}
		if err != nil {
			return nil, fmt.Errorf("boot %d: %w (logs %v)", i+1, err, h.Summary.Logs)
		}
	}
	return h, nil
}

// firmwareTrial resumes a copy of h's disk and UEFI variables through the firmware with side's
// initramfs, and checks that it was that initramfs which ran and that the system came back as it
// was (the job's memory and boot, the service's PID, systemd's state).
func firmwareTrial(ctx context.Context, h *scenario.Machine, side string, seq int) FirmwareTrial {
	t := FirmwareTrial{Initrd: side, Seq: seq}
	c, err := h.Clone(fmt.Sprintf("bench-firmware-trial-%02d", seq))
	if err != nil {
		t.Err = err
		return t
	}
	defer os.RemoveAll(filepath.Dir(c.Guest.Disk))
	c.Config.Out = io.Discard
	if side == firmwareDist {
		if err := c.UseDistGrubConfig(); err != nil {
			t.Err = err
			return t
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	vm, err := c.Resume(tctx, "")
	if vm != nil {
		t.Log = vm.ConsoleLogPath()
		defer func() { vm.Kill(); vm.WaitExit(tctx) }()
	}
	if err == nil {
		err = c.CheckSystemdKept(tctx, vm)
	}
	if err == nil {
		err = ranInitrd(vm, side)
	}
	if err != nil {
		t.Err = err
		return t
	}
	t.Job = c.Summary.ResumeTime
	t.Grub, t.Kernel = scenario.FirmwareBootTimes(vm.ConsoleTimedLines(), h.Release, h.Setup.KernelParams)
	t.Share, _, _, err = shares(vm.ConsoleLines())
	switch {
	case t.Kernel == 0:
		t.Err = fmt.Errorf("the console shows no GRUB, or no kernel booted by it with %s", h.Setup.KernelParams)
	case err != nil:
		t.Err = err
	}
	return t
}

// ranInitrd checks from the console that side's initramfs is the one that ran: our /init's
// marker line for ours, none of it and initramfs-tools' "Begin: Running /scripts/…" for theirs.
func ranInitrd(vm *harness.VM, side string) error {
	var ours, tools bool
	for _, l := range vm.ConsoleLines() {
		ours = ours || strings.Contains(l, config.InitMarker)
		tools = tools || strings.Contains(l, "Begin: Running /scripts/")
	}
	switch {
	case side == firmwareOurs && !ours:
		return fmt.Errorf("GRUB was to boot ours, and the console has no %q", config.InitMarker)
	case side == firmwareDist && (ours || !tools):
		return fmt.Errorf("GRUB was to boot initramfs-tools': our /init ran %v, initramfs-tools' scripts ran %v", ours, tools)
	}
	return nil
}

// firmwareVersions are the boot chain's packages in the root, and the host's OVMF.
func firmwareVersions(root string) [][2]string {
	var out [][2]string
	v, _ := debroot.DpkgVersions(root, "shim-signed", "grub-efi-amd64-signed", "grub-efi-amd64", "initramfs-tools")
	for _, p := range []string{"shim-signed", "grub-efi-amd64-signed", "initramfs-tools"} {
		out = append(out, [2]string{p, v[p]})
	}
	return append(out, [2]string{"ovmf (the host's)", cmdLine("dpkg-query", "-W", "-f", "${Version}", "ovmf")})
}

// FirmwareMarkdown is the firmware section of the report.
func FirmwareMarkdown(r *FirmwareResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", firmwareHeading)
	b.WriteString("The Debian 12 UEFI machine of TestDebianUEFIGrub: OVMF (its own copy of the variable store), Debian's signed shim and\n")
	b.WriteString("GRUB installed by the guest on its EFI system partition, update-grub's grub.cfg with setup's `resume=`. It hibernates\n")
	b.WriteString("once under the firmware; every trial boots a copy of that disk and of its UEFI variables through the firmware and GRUB\n")
	b.WriteString("with ours or the distribution's initramfs (initramfs-tools, MODULES=most, as the kernel package made it), both in its\n")
	b.WriteString("/boot from before the hibernation: GRUB reads grub.cfg or its twin that names the other initrd, chosen on the copy's\n")
	b.WriteString("ESP from the host (the ESP is unmounted before the hibernation). Same firmware, boot loader, kernel, disk and image.\n")
	b.WriteString("Times from QEMU's start (wall clock): GRUB's first line, the kernel's command line, the job's first line after the\n")
	b.WriteString("resume; the initramfs's share is the kernel's `Run /init` to its `resume from hibernation` (kernel clock). Each trial\n")
	b.WriteString("checks the initramfs that ran and that the job's memory and boot, the service's PID and systemd's state came back.\n")
	b.WriteString("`go run ./qemu-tests/bench/cmd/bench -only firmware` (`make bench BENCH_ONLY=firmware`; part of `make bench`).\n\n")
	if r.Err != nil {
		fmt.Fprintf(&b, "Not measured: %v\n", r.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "Kernel %s, image %.1f MiB of memory in %.1f MiB on disk; GRUB's command line has `%s`. %d pair(s), alternating; the run took %s.\n\n",
		r.Release, mib(r.ImageMem), mib(r.ImageDisk), r.Cmdline, r.Pairs, r.Took.Round(time.Second))
	b.WriteString("| initramfs | trials | GRUB | kernel | the job (median, min–max) | the initramfs's share (median, min–max) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	med := map[string][2]time.Duration{}
	for _, side := range []string{firmwareOurs, firmwareDist} {
		var grub, kernel, job, share []time.Duration
		for _, t := range r.Trials {
			if t.Initrd == side && t.Err == nil {
				grub, kernel, job, share = append(grub, t.Grub), append(kernel, t.Kernel), append(job, t.Job), append(share, t.Share)
			}
		}
		if len(job) == 0 {
			fmt.Fprintf(&b, "| %s | 0 | — | — | — | — |\n", side)
			continue
		}
		js, ss := statsOf(job), statsOf(share)
		med[side] = [2]time.Duration{js.Median, ss.Median}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s (%s–%s) | %s (%s–%s) |\n", side, len(job), secs2(statsOf(grub).Median), secs2(statsOf(kernel).Median),
			secs2(js.Median), secs2(js.Min), secs2(js.Max), ms(ss.Median), ms(ss.Min), ms(ss.Max))
	}
	if o, d := med[firmwareOurs], med[firmwareDist]; o[0] > 0 && d[0] > 0 {
		fmt.Fprintf(&b, "\nOurs against initramfs-tools, medians of this run: power on to the job %.2f× (%s sooner), the initramfs's share %.2f×.\n",
			o[0].Seconds()/d[0].Seconds(), secs2(d[0]-o[0]), o[1].Seconds()/d[1].Seconds())
	}
	var lo leftOut
	for _, t := range r.Trials {
		lo.add(t.Seq, t.Initrd, t.Err)
	}
	b.WriteString(lo.String())
	b.WriteString("\nBoot chain versions: ")
	for i, v := range r.Versions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", v[0], v[1])
	}
	b.WriteString(".\n")
	return b.String()
}

// logName is the file's name behind w, for the progress lines.
func logName(w io.Writer) string {
	if f, ok := w.(*os.File); ok {
		return f.Name()
	}
	return "the bench's log"
}
