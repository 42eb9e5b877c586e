package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// RoundTripOptions shape the demo's scenario.
type RoundTripOptions struct {
	Name      string
	MemoryMiB int           // default 512
	StateMiB  int           // the job's state, default 64
	Ticks     int           // job lines to see before hibernating, default 3
	Mode      string        // hibernate now --mode, default shutdown
	Cmdline   string        // more kernel parameters for every boot (e.g. hibernate=nocompress)
	DiskBPS   int64         // throttle the guest disk (bytes/s), to widen the window of the image write
	CutPower  string        // pull the plug (kill QEMU) when this console line appears after hibernate now
	SwapFile  string        // swap in this file of the root file system (setup --file) instead of a partition
	SwapSize  string        // setup --size for the swap file (default 320M)
	RootFS    string        // root file system type: ext4 (default) or btrfs
	Timeout   time.Duration // for the whole scenario, default 4 min
	Out       io.Writer     // progress lines
}

// Summary is what the demo prints at the end.
type Summary struct {
	Kernel          string
	Before, After   demojob.Line
	HibernateTime   time.Duration // `hibernate now` started to QEMU gone
	ResumeTime      time.Duration // QEMU started to the job's first line after resume
	ImageBytes      uint64        // the image in memory terms (swsusp_info size)
	ImageDiskBytes  uint64        // swap pages the image takes on disk
	Compressor      string
	BootIDKept      bool
	Logs            []string
	SetupResumeArgs string
}

type setupJSON struct {
	Resume       string `json:"resume"`
	ResumeOffset uint64 `json:"resume_offset"`
	KernelParams string `json:"kernel_params"`
	UUID         string `json:"uuid"`
}

func (o *RoundTripOptions) defaults() {
	if o.Name == "" {
		o.Name = "roundtrip"
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 512
	}
	if o.StateMiB == 0 {
		o.StateMiB = 64
	}
	if o.Ticks == 0 {
		o.Ticks = 3
	}
	if o.Mode == "" {
		o.Mode = "shutdown"
	}
	if o.Timeout == 0 {
		o.Timeout = 4 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// Hibernated is a guest whose disk holds an image: what the first half of the round trip left.
type Hibernated struct {
	Artifacts Artifacts
	Options   RoundTripOptions
	Guest     Guest
	Setup     setupJSON
	BootID    string // of the boot that hibernated
	Release   string // uname -r in the guest
	Summary   Summary
}

func (h *Hibernated) say(format string, args ...any) {
	fmt.Fprintf(h.Options.Out, "demo: "+format+"\n", args...)
}

// BaseCmdline is what every boot of the guest gets: its root file system, read-write.
func (h *Hibernated) BaseCmdline() string {
	c := fmt.Sprintf("root=PARTUUID=%s rw", h.Guest.Layout.RootPartUUID)
	if h.Options.Cmdline != "" {
		c += " " + h.Options.Cmdline
	}
	return c
}

// Spec is the guest's description for one boot with the given kernel command line.
func (h *Hibernated) Spec(cmdline string) harness.Spec {
	return harness.Spec{Name: h.Options.Name, Kernel: h.Guest.Kernel, Initrd: h.Guest.Initrd, Cmdline: cmdline,
		MemoryMiB: h.Options.MemoryMiB, Disks: []harness.Disk{{Path: h.Guest.Disk, BPS: h.Options.DiskBPS}}, LogDir: h.Artifacts.LogDir, Agent: true}
}

// run is vm.Run that fails on a non-zero exit, with the output in the error.
func run(ctx context.Context, vm *harness.VM, argv ...string) (harness.Result, error) {
	r, err := vm.Run(ctx, argv...)
	if err != nil {
		return r, err
	}
	if r.Exit != 0 {
		return r, vm.Fail("%s exited %d:\n%s%s", strings.Join(argv, " "), r.Exit, r.Stdout, r.Stderr)
	}
	return r, nil
}

// Hibernate is the first half: boot a fresh guest, `hibernate setup` its swap partition, start
// the job, let it tick, `hibernate now`, and wait for the guest to power off.
func Hibernate(ctx context.Context, a Artifacts, o RoundTripOptions) (*Hibernated, error) {
	o.defaults()
	h := &Hibernated{Artifacts: a, Options: o, Summary: Summary{Kernel: a.Kernel.Release}}
	s := &h.Summary
	gopts := GuestOptions{Name: o.Name, RootFSType: o.RootFS}
	if o.RootFS == "btrfs" {
		gopts.InitrdFlags = []string{"--add-module", "btrfs"}
	}
	if o.SwapFile != "" {
		gopts.SwapMiB = -1
	}
	g, err := BuildGuest(a, gopts)
	if err != nil {
		return h, err
	}
	h.Guest = g
	h.say("guest disk %s: root PARTUUID %s, swap PARTUUID %s", g.Disk, g.Layout.RootPartUUID, g.Layout.SwapPartUUID)

	vm, err := harness.Start(ctx, h.Spec(h.BaseCmdline()))
	if err != nil {
		return h, err
	}
	defer vm.Kill()
	s.Logs = append(s.Logs, vm.ConsoleLogPath())
	h.say("first boot: %s", vm.ConsoleLogPath())
	info, err := vm.Ping(ctx)
	if err != nil {
		return h, err
	}
	h.BootID = info.BootID
	setupArgs := []string{"/usr/sbin/hibernate", "setup", "--device", "PARTUUID=" + g.Layout.SwapPartUUID, "--json"}
	if o.SwapFile != "" {
		size := o.SwapSize
		if size == "" {
			size = "320M"
		}
		setupArgs = []string{"/usr/sbin/hibernate", "setup", "--file", o.SwapFile, "--size", size, "--json"}
	}
	r, err := run(ctx, vm, setupArgs...)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(r.Stdout), &h.Setup); err != nil || h.Setup.KernelParams == "" {
		return h, vm.Fail("hibernate setup --json: %v: %q", err, r.Stdout)
	}
	s.SetupResumeArgs = h.Setup.KernelParams
	h.say("hibernate setup: swap area UUID %s; kernel parameters: %s", h.Setup.UUID, h.Setup.KernelParams)
	if r, err := vm.ReadFile(ctx, "/proc/sys/kernel/osrelease"); err == nil {
		h.Release = strings.TrimSpace(string(r))
	}

	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/job.out", "/usr/bin/hibernate-demo-job",
		"--state-mib", fmt.Sprint(o.StateMiB), "--log", "/var/lib/hibernate-demo/job.log"); err != nil {
		return h, err
	}
	if _, err := waitJobLine(ctx, vm, -1, func(l demojob.Line) bool { return l.Count >= o.Ticks }); err != nil {
		return h, err
	}
	r, err = run(ctx, vm, "/usr/sbin/hibernate", "check")
	if err != nil {
		return h, err
	}
	h.say("hibernate check:\n%s", indent(r.Stdout))
	start := time.Now()
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/hibernate-now.out", "/usr/sbin/hibernate", "now", "--mode", o.Mode); err != nil {
		return h, err
	}
	if o.CutPower != "" {
		if _, err := vm.WaitConsole(ctx, o.CutPower); err != nil {
			return h, err
		}
		vm.Kill()
		h.say("power cut at %q", o.CutPower)
		return h, nil
	}
	reason, err := waitPoweredOff(ctx, vm, start, &s.HibernateTime, &s.Before)
	if err != nil {
		return h, err
	}
	h.say("before-hibernate count=%d sum=%s", s.Before.Count, s.Before.Sum)
	h.say("power is off (QEMU exited %s after hibernate now, %s); the state is in swap", s.HibernateTime.Round(100*time.Millisecond), reason)

	area, err := h.SwapArea()
	if err != nil {
		return h, err
	}
	if o.SwapFile != "" {
		h.say("the swap is %s on the root file system, resume_offset %d", o.SwapFile, h.Setup.ResumeOffset)
	}
	if !area.HasImage() || !area.Valid() {
		return h, fmt.Errorf("after hibernation the swap partition holds %s (problems: %v), not a valid image", area.Kind(), area.Problems)
	}
	if area.Info != nil {
		s.ImageBytes = area.Info.Size
	}
	s.ImageDiskBytes = (area.DataPages + uint64(area.MapPages)) * swsusp.PageSize
	s.Compressor = area.Header.Compressor()
	h.say("swap holds a hibernation image: %.1f MiB of memory in %.1f MiB on disk (%s)", mib(s.ImageBytes), mib(s.ImageDiskBytes), s.Compressor)
	return h, nil
}

// Resume is the second half: power on the same disk with the kernel command line extra added to
// the base, and check that the same job goes on with the same memory and the same boot.
func (h *Hibernated) Resume(ctx context.Context, extra string) (*harness.VM, error) {
	s := &h.Summary
	vm, err := harness.Start(ctx, h.Spec(strings.TrimSpace(h.BaseCmdline()+" "+extra)))
	if err != nil {
		return nil, err
	}
	s.Logs = append(s.Logs, vm.ConsoleLogPath())
	h.say("power on: %s", vm.ConsoleLogPath())
	after, err := waitJobLine(ctx, vm, -1, func(demojob.Line) bool { return true })
	if err != nil {
		return vm, err
	}
	s.ResumeTime = time.Since(vm.Started())
	s.After = after
	h.say("after-resume count=%d sum=%s", after.Count, after.Sum)
	info, err := vm.Ping(ctx)
	if err != nil {
		return vm, err
	}
	s.BootIDKept = info.BootID == h.BootID
	log, err := vm.ReadFile(ctx, "/var/lib/hibernate-demo/job.log")
	if err != nil {
		return vm, err
	}
	last, err := demojob.Verify(bytes.NewReader(log))
	if err != nil {
		return vm, vm.Fail("the job's log: %v", err)
	}
	switch {
	case after.Count <= s.Before.Count:
		return vm, vm.Fail("count=%d after resume is not past count=%d before: the job did not go on", after.Count, s.Before.Count)
	case after.Sum != s.Before.Sum:
		return vm, vm.Fail("sum %s after resume differs from %s before: memory was not restored", after.Sum, s.Before.Sum)
	case !s.BootIDKept:
		return vm, vm.Fail("boot_id changed from %s to %s: the guest booted afresh", h.BootID, info.BootID)
	case last.Count < after.Count:
		return vm, vm.Fail("the job's log ends at count=%d, before the console's count=%d", last.Count, after.Count)
	}
	if out, err := vm.ReadFile(ctx, "/var/lib/hibernate-demo/hibernate-now.out"); err == nil {
		h.say("hibernate now said:\n%s", indent(string(out)))
	}
	return vm, nil
}

// RoundTrip is the demo: Hibernate, then Resume with the resume= that hibernate setup printed.
func RoundTrip(ctx context.Context, a Artifacts, o RoundTripOptions) (Summary, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	h, err := Hibernate(ctx, a, o)
	if err != nil {
		return h.Summary, err
	}
	vm, err := h.Resume(ctx, h.Setup.KernelParams)
	if vm != nil {
		vm.Kill()
	}
	return h.Summary, err
}

// waitPoweredOff waits for the guest to power itself off after `hibernate now` (started at
// start), and notes the time it took and the job's last line on the console before.
func waitPoweredOff(ctx context.Context, vm *harness.VM, start time.Time, took *time.Duration, last *demojob.Line) (string, error) {
	exit, err := vm.WaitExit(ctx)
	if err != nil {
		return "", err
	}
	*took = time.Since(start)
	if !exit.GuestShutdown {
		return exit.Reason, vm.Fail("QEMU exited without the guest powering off (%s)", exit.Reason)
	}
	for _, l := range vm.ConsoleLines() {
		if jl, ok := demojob.ParseLine(l); ok && strings.Contains(l, "demo-job: ") {
			*last = jl
		}
	}
	return exit.Reason, nil
}

// waitJobLine waits for the job's first whole `count=N sum=S` console line after line mark that
// ok accepts. The harness also matches the line being received, so a match may be cut short:
// look again at the same place until the line is whole.
func waitJobLine(ctx context.Context, vm *harness.VM, mark int, ok func(demojob.Line) bool) (demojob.Line, error) {
	for {
		line, idx, err := vm.WaitConsoleAfter(ctx, mark, "demo-job: count=")
		if err != nil {
			return demojob.Line{}, err
		}
		l, whole := demojob.ParseLine(line)
		switch {
		case !whole:
			select {
			case <-ctx.Done():
				return demojob.Line{}, vm.Fail("the job's line %q never ended: %v", line, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		case ok(l):
			return l, nil
		default:
			mark = idx
		}
	}
}

// SwapArea reads the guest's swap area from the host: the swap partition, or the swap file at
// its resume_offset in the root partition.
func (h *Hibernated) SwapArea() (*swsusp.Area, error) {
	f, err := os.Open(h.Guest.Disk)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	start, size, offset := h.Guest.Layout.SwapStart, h.Guest.Layout.SwapSize, uint64(0)
	if h.Options.SwapFile != "" {
		start, size, offset = h.Guest.Layout.RootStart, h.Guest.Layout.RootSize, h.Setup.ResumeOffset
	}
	sec := io.NewSectionReader(f, start, size)
	a, err := swsusp.ReadArea(sec, size, offset)
	if err != nil {
		return nil, fmt.Errorf("read the swap partition of %s: %w", h.Guest.Disk, err)
	}
	return a, nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
