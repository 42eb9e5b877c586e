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

// RoundTrip is the demo: boot a guest, set up swap with hibernate setup, start the job, let it
// tick, hibernate with hibernate now, check the image from the host, boot the same disk again
// and see the same job go on with the same memory.
func RoundTrip(ctx context.Context, a Artifacts, o RoundTripOptions) (Summary, error) {
	o.defaults()
	s := Summary{Kernel: a.Kernel.Release}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, "demo: "+format+"\n", args...) }

	g, err := BuildGuest(a, GuestOptions{Name: o.Name})
	if err != nil {
		return s, err
	}
	say("guest disk %s: root PARTUUID %s, swap PARTUUID %s", g.Disk, g.Layout.RootPartUUID, g.Layout.SwapPartUUID)
	baseCmdline := fmt.Sprintf("root=PARTUUID=%s rw", g.Layout.RootPartUUID)
	spec := func(cmdline string) harness.Spec {
		return harness.Spec{Name: o.Name, Kernel: g.Kernel, Initrd: g.Initrd, Cmdline: cmdline, MemoryMiB: o.MemoryMiB,
			Disks: []harness.Disk{{Path: g.Disk}}, LogDir: a.LogDir, Agent: true}
	}

	// First boot: a fresh machine.
	vm, err := harness.Start(ctx, spec(baseCmdline))
	if err != nil {
		return s, err
	}
	defer vm.Kill()
	s.Logs = append(s.Logs, vm.ConsoleLogPath())
	say("first boot: %s", vm.ConsoleLogPath())
	before, err := vm.Ping(ctx)
	if err != nil {
		return s, err
	}
	r, err := vm.Run(ctx, "/usr/sbin/hibernate", "setup", "--device", "PARTUUID="+g.Layout.SwapPartUUID, "--json")
	if err != nil {
		return s, err
	}
	if r.Exit != 0 {
		return s, vm.Fail("hibernate setup exited %d: %s%s", r.Exit, r.Stdout, r.Stderr)
	}
	var setup setupJSON
	if err := json.Unmarshal([]byte(r.Stdout), &setup); err != nil {
		return s, vm.Fail("hibernate setup --json: %v: %q", err, r.Stdout)
	}
	s.SetupResumeArgs = setup.KernelParams
	say("hibernate setup: swap area UUID %s; kernel parameters: %s", setup.UUID, setup.KernelParams)

	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/job.out", "/usr/bin/hibernate-demo-job",
		"--state-mib", fmt.Sprint(o.StateMiB), "--log", "/var/lib/hibernate-demo/job.log"); err != nil {
		return s, err
	}
	if _, err := waitJobLine(ctx, vm, func(l demojob.Line) bool { return l.Count >= o.Ticks }); err != nil {
		return s, err
	}
	r, err = vm.Run(ctx, "/usr/sbin/hibernate", "check")
	if err != nil {
		return s, err
	}
	say("hibernate check:\n%s", indent(r.Stdout))
	if r.Exit != 0 {
		return s, vm.Fail("hibernate check says not ready (exit %d): %s%s", r.Exit, r.Stdout, r.Stderr)
	}
	start := time.Now()
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/hibernate-now.out", "/usr/sbin/hibernate", "now", "--mode", o.Mode); err != nil {
		return s, err
	}
	exit, err := vm.WaitExit(ctx)
	if err != nil {
		return s, err
	}
	s.HibernateTime = time.Since(start)
	if !exit.GuestShutdown {
		return s, vm.Fail("QEMU exited without the guest powering off (%s)", exit.Reason)
	}
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, "demo-job: ") {
			if jl, ok := demojob.ParseLine(l); ok {
				s.Before = jl
			}
		}
	}
	say("before-hibernate count=%d sum=%s", s.Before.Count, s.Before.Sum)
	say("power is off (QEMU exited after %s, %s); the state is in swap", s.HibernateTime.Round(100*time.Millisecond), exit.Reason)

	// The image, read from the host.
	area, err := readSwapArea(g)
	if err != nil {
		return s, err
	}
	if !area.HasImage() || !area.Valid() {
		return s, fmt.Errorf("after hibernation the swap partition holds %s (problems: %v), not a valid image", area.Kind(), area.Problems)
	}
	if area.Info != nil {
		s.ImageBytes = area.Info.Size
	}
	s.ImageDiskBytes = (area.DataPages + uint64(area.MapPages)) * swsusp.PageSize
	s.Compressor = area.Header.Compressor()
	say("swap holds a hibernation image: %.1f MiB of memory in %.1f MiB on disk (%s)", mib(s.ImageBytes), mib(s.ImageDiskBytes), s.Compressor)

	// Second boot: power on, same disk, same kernel and initramfs, resume= as setup said.
	vm2, err := harness.Start(ctx, spec(baseCmdline+" "+setup.KernelParams))
	if err != nil {
		return s, err
	}
	defer vm2.Kill()
	s.Logs = append(s.Logs, vm2.ConsoleLogPath())
	say("power on: %s", vm2.ConsoleLogPath())
	after, err := waitJobLine(ctx, vm2, func(demojob.Line) bool { return true })
	if err != nil {
		return s, err
	}
	s.ResumeTime = time.Since(vm2.Started())
	s.After = after
	say("after-resume count=%d sum=%s", after.Count, after.Sum)
	info, err := vm2.Ping(ctx)
	if err != nil {
		return s, err
	}
	s.BootIDKept = info.BootID == before.BootID
	log, err := vm2.ReadFile(ctx, "/var/lib/hibernate-demo/job.log")
	if err != nil {
		return s, err
	}
	last, err := demojob.Verify(bytes.NewReader(log))
	if err != nil {
		return s, vm2.Fail("the job's log: %v", err)
	}
	switch {
	case after.Count <= s.Before.Count:
		return s, vm2.Fail("count=%d after resume is not past count=%d before: the job did not go on", after.Count, s.Before.Count)
	case after.Sum != s.Before.Sum:
		return s, vm2.Fail("sum %s after resume differs from %s before: memory was not restored", after.Sum, s.Before.Sum)
	case !s.BootIDKept:
		return s, vm2.Fail("boot_id changed from %s to %s: the guest booted afresh", before.BootID, info.BootID)
	case last.Count < after.Count:
		return s, vm2.Fail("the job's log ends at count=%d, before the console's count=%d", last.Count, after.Count)
	}
	if out, err := vm2.ReadFile(ctx, "/var/lib/hibernate-demo/hibernate-now.out"); err == nil {
		say("hibernate now said:\n%s", indent(string(out)))
	}
	return s, nil
}

// waitJobLine waits for the job's first whole `count=N sum=S` console line that ok accepts. The
// harness also matches the line being received, so a match may be cut short: look again at the
// same place until the line is whole.
func waitJobLine(ctx context.Context, vm *harness.VM, ok func(demojob.Line) bool) (demojob.Line, error) {
	mark := -1
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

func readSwapArea(g Guest) (*swsusp.Area, error) {
	f, err := os.Open(g.Disk)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := io.NewSectionReader(f, g.Layout.SwapStart, g.Layout.SwapSize)
	a, err := swsusp.ReadArea(sec, g.Layout.SwapSize, 0)
	if err != nil {
		return nil, fmt.Errorf("read the swap partition of %s: %w", g.Disk, err)
	}
	return a, nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
