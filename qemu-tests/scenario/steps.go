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

// A Step is one thing done to a running guest, or to its disk once it is off. The steps of a
// scenario are methods of its Machine; what they do for a variant comes from its Config.
type Step func(ctx context.Context, vm *harness.VM) error

// Do runs steps in order on vm and stops at the first that fails.
func Do(ctx context.Context, vm *harness.VM, steps ...Step) error {
	for _, s := range steps {
		if err := s(ctx, vm); err != nil {
			return err
		}
	}
	return nil
}

// SetupResult is what `hibernate setup --json` prints.
type SetupResult struct {
	Resume       string `json:"resume"`
	ResumeOffset uint64 `json:"resume_offset"`
	KernelParams string `json:"kernel_params"`
	UUID         string `json:"uuid"`
}

// SetupSwap runs `hibernate setup --json` for the swap of the variant (Config.Swap) and keeps
// what it printed in Setup. Setup.KernelParams is what reaches the next boots: on a guest that
// boots through its own boot loader with Swap.NoBootConfig, nothing (setup prints them all the
// same), so that the firmware steps look for none on GRUB's command line.
func (m *Machine) SetupSwap(ctx context.Context, vm *harness.VM) error {
	args := []string{"setup", "--device", m.swapDevice(), "--json"}
	bootLoader := m.Config.UEFI || m.Config.BIOS
	if bootLoader && !m.Config.Swap.NoBootConfig {
		// resume= into /etc/default/grub, for update-grub (InstallGrub).
		args = append(args, "--write-boot-config")
	}
	if f := m.Config.Swap.File; f != "" {
		// A swap file's image is found only where the next boot is told resume_offset=: setup
		// writes it into the boot configuration (/etc/kernel/cmdline of the guest, which the
		// harness, as its boot loader, then passes: Setup.KernelParams).
		args = []string{"setup", "--file", f, "--size", m.Config.Swap.FileSize, "--write-boot-config", "--json"}
		if bootLoader && m.Config.Swap.NoBootConfig {
			// Nothing names it for the next boot (systemd's HibernateLocation does); the file
			// is activated at boot by /etc/fstab, as systemd finds no swap file by itself.
			args = []string{"setup", "--file", f, "--size", m.Config.Swap.FileSize, "--fstab", "--json"}
		}
		if m.Config.Swap.HibernateOnly {
			args = append(args, "--hibernate-only")
		}
	}
	r, err := run(ctx, vm, m.Command(args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(r.Stdout), &m.Setup); err != nil || m.Setup.KernelParams == "" {
		return vm.Fail("hibernate setup --json: %v: %q", err, r.Stdout)
	}
	if bootLoader && m.Config.Swap.NoBootConfig {
		if m.Setup.UUID == "" {
			return vm.Fail("hibernate setup --json: no swap area UUID: %q", r.Stdout)
		}
		m.say("hibernate setup (no --write-boot-config): swap area UUID %s; not written anywhere: %s", m.Setup.UUID, m.Setup.KernelParams)
		m.Setup.KernelParams = ""
		return nil
	}
	m.Summary.SetupResumeArgs = m.Setup.KernelParams
	m.say("hibernate setup: swap area UUID %s; kernel parameters: %s", m.Setup.UUID, m.Setup.KernelParams)
	return nil
}

// swapDevice is what SetupSwap's --device names: the swap partition by PARTUUID, or an
// encrypted disk's swap LV or volume.
func (m *Machine) swapDevice() string {
	if l := m.Guest.LUKS; l != nil {
		return l.SwapDevice()
	}
	return "PARTUUID=" + m.SwapPartUUID()
}

// SwapPartUUID is the PARTUUID of the swap partition: of the guest disk, or of the second disk.
func (m *Machine) SwapPartUUID() string {
	if m.Config.Swap.SecondDisk {
		return m.Guest.SwapDiskLayout.SwapPartUUID
	}
	return m.Guest.Layout.SwapPartUUID
}

// StartJob starts the demo job with Config.StateMiB of state (where the guest's init starts it,
// as systemd does, it is running already) and waits for its line count=Config.Ticks.
func (m *Machine) StartJob(ctx context.Context, vm *harness.VM) error {
	if !m.Config.root.jobByInit {
		argv := []string{GuestDemoJob, "--state-mib", fmt.Sprint(m.Config.StateMiB), "--log", demojob.LogPath}
		if m.Config.FileMiB > 0 {
			argv = append(argv, "--file-mib", fmt.Sprint(m.Config.FileMiB))
		}
		if m.Config.Pausable {
			argv = append(argv, "--pause-file", JobPauseFile)
		}
		if _, err := vm.Spawn(ctx, JobOut, argv...); err != nil {
			return err
		}
	}
	_, err := waitJobLine(ctx, vm, -1, func(l demojob.Line) bool { return l.Count >= m.Config.Ticks })
	return err
}

// HibernateCheck runs `hibernate check`, which must pass.
func (m *Machine) HibernateCheck(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, m.Command("check")...)
	if err != nil {
		return err
	}
	m.say("hibernate check:\n%s", indent(r.Stdout))
	return nil
}

// HibernateNow runs `hibernate now --mode shutdown` (with Config.NowFlags) in the background
// and waits for the guest to power off, noting the time it took and the job's last line before;
// with CutPower it pulls the plug at that console line instead.
func (m *Machine) HibernateNow(ctx context.Context, vm *harness.VM) error {
	start := time.Now()
	argv := m.Command(append([]string{"now", "--mode", "shutdown"}, m.Config.NowFlags...)...)
	if _, err := vm.Spawn(ctx, NowOut, argv...); err != nil {
		return err
	}
	if line := m.Config.CutPower; line != "" {
		if _, err := vm.WaitConsole(ctx, line); err != nil {
			return err
		}
		vm.Kill()
		m.say("power cut at %q", line)
		return nil
	}
	return m.waitHibernated(ctx, vm, start, "hibernate now")
}

// waitHibernated waits for the guest to power off after what asked it to hibernate (at start),
// and notes in the summary the time it took and the job's last line before.
func (m *Machine) waitHibernated(ctx context.Context, vm *harness.VM, start time.Time, what string) error {
	s := &m.Summary
	reason, err := waitPoweredOff(ctx, vm, start, &s.HibernateTime, &s.Before)
	if err != nil {
		return err
	}
	m.say("before-hibernate count=%d sum=%s", s.Before.Count, s.Before.Sum)
	m.say("power is off (QEMU exited %s after %s, %s); the state is in swap", s.HibernateTime.Round(100*time.Millisecond), what, reason)
	return nil
}

// CheckImage reads the swap area from the host once the guest is off: it must hold a valid
// image, whose sizes and compressor go into the summary.
func (m *Machine) CheckImage(context.Context, *harness.VM) error {
	s := &m.Summary
	area, err := m.SwapArea()
	if err != nil {
		return err
	}
	if m.Config.Swap.File != "" {
		m.say("the swap is %s on the root file system, resume_offset %d", m.Config.Swap.File, m.Setup.ResumeOffset)
	}
	if !area.HasImage() || !area.Valid() {
		return fmt.Errorf("after hibernation the swap partition holds %s (problems: %v), not a valid image", area.Kind(), area.Problems)
	}
	if area.Info != nil {
		s.ImageBytes = area.Info.Size
	}
	s.ImageDiskBytes = (area.DataPages + uint64(area.MapPages)) * swsusp.PageSize
	s.Compressor = area.Header.Compressor()
	m.say("swap holds a hibernation image: %.1f MiB of memory in %.1f MiB on disk (%s)", mib(s.ImageBytes), mib(s.ImageDiskBytes), s.Compressor)
	return nil
}

// Resume powers on the same disk with extra added to the base command line, waits for the
// job's first line (ResumeTime: QEMU started to that line) and checks that the job went on
// (CheckJobWentOn).
func (m *Machine) Resume(ctx context.Context, extra string) (*harness.VM, error) {
	vm, err := m.powerOn(ctx, extra)
	if err != nil {
		return nil, err
	}
	wctx, cancel := m.within(ctx)
	defer cancel()
	after, err := waitJobLine(wctx, vm, -1, func(demojob.Line) bool { return true })
	if err != nil {
		return vm, err
	}
	m.Summary.ResumeTime = time.Since(vm.Started())
	m.Summary.After = after
	m.say("after-resume count=%d sum=%s, %s after power on", after.Count, after.Sum, m.Summary.ResumeTime.Round(100*time.Millisecond))
	return vm, m.CheckJobWentOn(ctx, vm)
}

// CheckJobWentOn checks, after a resume, that the same job goes on with the same memory in the
// same boot: its count past the one before hibernating, the same sum, the same boot ID, and its
// log one run up to the console's count.
func (m *Machine) CheckJobWentOn(ctx context.Context, vm *harness.VM) error {
	s := &m.Summary
	info, err := m.ping(ctx, vm)
	if err != nil {
		return err
	}
	s.BootIDKept = info.BootID == m.BootID
	log, err := vm.ReadFile(ctx, demojob.LogPath)
	if err != nil {
		return err
	}
	last, err := demojob.Verify(bytes.NewReader(log))
	if err != nil {
		return vm.Fail("the job's log: %v", err)
	}
	switch after := s.After; {
	case after.Count <= s.Before.Count:
		return vm.Fail("count=%d after resume is not past count=%d before: the job did not go on", after.Count, s.Before.Count)
	case after.Sum != s.Before.Sum:
		return vm.Fail("sum %s after resume differs from %s before: memory was not restored", after.Sum, s.Before.Sum)
	case !s.BootIDKept:
		return vm.Fail("boot_id changed from %s to %s: the guest booted afresh", m.BootID, info.BootID)
	case last.Count < after.Count:
		return vm.Fail("the job's log ends at count=%d, before the console's count=%d", last.Count, after.Count)
	}
	if out, err := vm.ReadFile(ctx, NowOut); err == nil {
		m.say("hibernate now said:\n%s", indent(string(out)))
	}
	return nil
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
	*last = lastJobLine(vm.ConsoleLines())
	return exit.Reason, nil
}

// lastJobLine is the job's last whole line among console lines.
func lastJobLine(lines []string) demojob.Line {
	var last demojob.Line
	for _, l := range lines {
		if jl, ok := demojob.ParseLine(l); ok && strings.Contains(l, demojob.ConsolePrefix) {
			last = jl
		}
	}
	return last
}

// WaitJobLine waits for the job's first whole console line after line mark (-1: from the
// start) that ok accepts.
func WaitJobLine(ctx context.Context, vm *harness.VM, mark int, ok func(demojob.Line) bool) (demojob.Line, error) {
	return waitJobLine(ctx, vm, mark, ok)
}

// waitJobLine waits for the job's first whole `count=N sum=S` console line after line mark that
// ok accepts. The harness also matches the line being received, so a match may be cut short:
// look again at the same place until the line is whole.
func waitJobLine(ctx context.Context, vm *harness.VM, mark int, ok func(demojob.Line) bool) (demojob.Line, error) {
	for {
		line, idx, err := vm.WaitConsoleAfter(ctx, mark, demojob.ConsolePrefix+"count=")
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

// SwapArea reads the guest's swap area from the host: the swap partition (of the guest disk or
// the second disk), or the swap file at its resume_offset in the root partition.
func (m *Machine) SwapArea() (*swsusp.Area, error) {
	if l := m.Guest.LUKS; l != nil {
		return nil, fmt.Errorf("the swap %s is in the LUKS volume %s: the host cannot read it", l.SwapDevice(), l.Name)
	}
	disk, l := m.Guest.Disk, m.Guest.Layout
	start, size, offset := l.SwapStart, l.SwapSize, uint64(0)
	switch {
	case m.Config.Swap.File != "":
		start, size, offset = l.RootStart, l.RootSize, m.Setup.ResumeOffset
	case m.Config.Swap.SecondDisk:
		disk, start, size = m.Guest.SwapDisk, m.Guest.SwapDiskLayout.SwapStart, m.Guest.SwapDiskLayout.SwapSize
	}
	f, err := os.Open(disk)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := swsusp.ReadArea(io.NewSectionReader(f, start, size), size, offset)
	if err != nil {
		return nil, fmt.Errorf("read the swap partition of %s: %w", disk, err)
	}
	return a, nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// waitEvent waits for QMP event name after the first mark events, and returns its index.
func waitEvent(ctx context.Context, vm *harness.VM, mark int, name string) (int, error) {
	for {
		evs := vm.Events()
		for i := mark; i < len(evs); i++ {
			if evs[i].Name == name {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, vm.Fail("no QMP event %s: %v", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
