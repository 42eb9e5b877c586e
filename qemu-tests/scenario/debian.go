package scenario

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// DebianOptions shape the Debian systemd scenario.
type DebianOptions struct {
	Name        string
	MemoryMiB   int           // default 512
	Ticks       int           // job lines to see before hibernating, default 3
	Timeout     time.Duration // the scenario once the root is cached, default 6 min
	RootTimeout time.Duration // building the root (a cold debootstrap), default 30 min
	Out         io.Writer     // progress lines
}

func (o *DebianOptions) defaults() {
	if o.Name == "" {
		o.Name = "debian-systemd"
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 512
	}
	if o.Ticks == 0 {
		o.Ticks = 3
	}
	if o.Timeout == 0 {
		o.Timeout = 6 * time.Minute // about 100 s alone on two host cores, far more beside other guests
	}
	if o.RootTimeout == 0 {
		o.RootTimeout = 30 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// DebianSummary is what the scenario measured and saw.
type DebianSummary struct {
	Kernel          string
	Root            string        // the cached root tree
	RootBuilt       bool          // made by this run
	DebootstrapTime time.Duration // 0 when the debootstrap output was cached
	PrepareTime     time.Duration // run tree, make install, host initramfs, disk
	BootToRunning   time.Duration // QEMU started to `systemctl is-system-running --wait` answering
	BootState       string        // its answer: running or degraded
	Failed          string        // systemctl --failed, when degraded
	SystemState     string        // systemctl is-system-running just before hibernate now, and after the resume
	BootID          string
	DemoPID         int
	GuestInitrd     string // built in the guest, copied out of its disk
	InitrdTime      time.Duration
	Before, After   demojob.Line
	HibernateTime   time.Duration // hibernate now spawned to QEMU gone
	ResumeTime      time.Duration // QEMU started to the guest agent answering again
	SetupResumeArgs string
	Logs            []string
}

// debianGuest is the disk and boot files of one run.
type debianGuest struct {
	Guest
	dir, tree, hostInitrd string
}

// Debian cmdline: systemd as init (Debian's /sbin/init is the same, named for the reader),
// status lines only for failures.
const debianCmdline = "init=/lib/systemd/systemd systemd.show_status=error"

// DebianSystemd is the real thing: a Debian 12 root made by debootstrap (cached) with systemd as
// PID 1 and the Debian kernel package, hibernate installed into it by `make install DESTDIR=`.
// Inside the guest: hibernate setup makes the swap, hibernate initramfs build makes the
// initramfs for the guest's own kernel, hibernate now hibernates. The resume boot uses that
// guest-built initramfs. After it the demo service has the same PID, the boot ID is unchanged,
// and systemctl is-system-running says what it said before.
func DebianSystemd(ctx context.Context, a Artifacts, o DebianOptions) (DebianSummary, error) {
	o.defaults()
	var s DebianSummary
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, "debian: "+format+"\n", args...) }

	rctx, rcancel := context.WithTimeout(ctx, o.RootTimeout)
	spec := debroot.SystemdGuest()
	say("root %s-%s: debootstrap %s --variant=%s with %s (cached after the first run)", spec.Name, spec.Key(), spec.Suite, spec.Variant, strings.Join(spec.Include, " "))
	start := time.Now()
	root, err := debroot.Ensure(rctx, spec)
	rcancel()
	if err != nil {
		return s, err
	}
	s.Root, s.RootBuilt, s.DebootstrapTime = root.Dir, root.Built, root.Took
	if root.BaseNew {
		say("debootstrap made %s in %s", root.BaseDir, root.Took.Round(time.Second))
	}
	say("root %s (%s)", root.Dir, time.Since(start).Round(10*time.Millisecond))
	if len(root.Kernels) == 0 {
		return s, fmt.Errorf("no kernel under %s/lib/modules", root.Dir)
	}
	rel := root.Kernels[len(root.Kernels)-1]
	s.Kernel = rel

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start = time.Now()
	g, err := prepareDebian(ctx, a, o, root, rel)
	if err != nil {
		return s, err
	}
	s.PrepareTime = time.Since(start)
	say("guest disk %s (%s to make): root PARTUUID %s, swap PARTUUID %s", g.Disk, s.PrepareTime.Round(10*time.Millisecond), g.Layout.RootPartUUID, g.Layout.SwapPartUUID)

	base := fmt.Sprintf("root=PARTUUID=%s rw %s", g.Layout.RootPartUUID, debianCmdline)
	spec1 := harness.Spec{Name: o.Name, Kernel: g.Kernel, Initrd: g.hostInitrd, Cmdline: base, MemoryMiB: o.MemoryMiB,
		Disks: []harness.Disk{{Path: g.Disk}}, LogDir: a.LogDir, Agent: true}
	vm, err := harness.Start(ctx, spec1)
	if err != nil {
		return s, err
	}
	defer vm.Kill()
	s.Logs = append(s.Logs, vm.ConsoleLogPath())
	say("first boot (initramfs built on the host): %s", vm.ConsoleLogPath())
	info, err := pingWithin(ctx, vm, 90*time.Second)
	if err != nil {
		return s, err
	}
	s.BootID = info.BootID
	say("agent up %s after power on (agent PID %d)", time.Since(vm.Started()).Round(100*time.Millisecond), info.PID)
	if s.BootState, err = systemState(ctx, vm, true); err != nil {
		return s, err
	}
	s.BootToRunning = time.Since(vm.Started())
	say("systemctl is-system-running --wait: %s, %s after power on", s.BootState, s.BootToRunning.Round(100*time.Millisecond))
	if s.BootState == "degraded" {
		if r, err := vm.Run(ctx, "systemctl", "--failed", "--no-legend", "--plain"); err == nil {
			s.Failed = strings.TrimSpace(r.Stdout)
			say("failed units:\n%s", indent(s.Failed))
		}
	}
	if r, err := vm.Run(ctx, "systemd-analyze"); err == nil && r.Exit == 0 {
		say("systemd-analyze: %s", strings.TrimSpace(strings.SplitN(r.Stdout, "\n", 2)[0]))
	}
	if s.DemoPID, err = mainPID(ctx, vm); err != nil {
		return s, err
	}
	say("%s: MainPID %d", debroot.DemoJobUnit, s.DemoPID)

	const hib = "/usr/local/sbin/hibernate"
	r, err := run(ctx, vm, hib, "setup", "--device", "PARTUUID="+g.Layout.SwapPartUUID, "--json")
	if err != nil {
		return s, err
	}
	var setup setupJSON
	if err := json.Unmarshal([]byte(r.Stdout), &setup); err != nil {
		return s, vm.Fail("hibernate setup --json: %v: %q", err, r.Stdout)
	}
	s.SetupResumeArgs = setup.KernelParams
	say("hibernate setup: swap area UUID %s; kernel parameters: %s", setup.UUID, setup.KernelParams)

	// The guest's own initramfs: no flags, so the running kernel, /lib/modules/R and
	// /boot/initrd.img-R, and the base found beside the installed binary.
	t0 := time.Now()
	if r, err = run(ctx, vm, hib, "initramfs", "build"); err != nil {
		return s, err
	}
	s.InitrdTime = time.Since(t0)
	say("hibernate initramfs build in the guest (%s): %s", s.InitrdTime.Round(10*time.Millisecond), strings.TrimSpace(r.Stdout))
	guestInitrd := "/boot/initrd.img-" + rel
	r, err = run(ctx, vm, "sha256sum", guestInitrd)
	if err != nil {
		return s, err
	}
	wantSum, _, _ := strings.Cut(strings.TrimSpace(r.Stdout), " ")
	if _, err := run(ctx, vm, "sync"); err != nil {
		return s, err
	}

	if _, err := waitJobLine(ctx, vm, -1, func(l demojob.Line) bool { return l.Count >= o.Ticks }); err != nil {
		return s, err
	}
	if r, err = run(ctx, vm, hib, "check"); err != nil {
		return s, err
	}
	say("hibernate check:\n%s", indent(r.Stdout))
	// The state to find again after the resume is the one of the moment of hibernation: at
	// boot systemd-gpt-auto-generator's unit for the swap partition fails (the partition is
	// zeroed until hibernate setup), and the swapon of setup makes that unit active.
	if s.SystemState, err = systemState(ctx, vm, false); err != nil {
		return s, err
	}
	say("systemctl is-system-running before hibernate now: %s", s.SystemState)
	if mi, err := vm.ReadFile(ctx, "/proc/meminfo"); err == nil {
		say("before hibernate now: %s", meminfo(string(mi), memFields...))
	}
	t0 = time.Now()
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/hibernate-now.out", hib, "now", "--mode", "shutdown"); err != nil {
		return s, err
	}
	if _, err := waitPoweredOff(ctx, vm, t0, &s.HibernateTime, &s.Before); err != nil {
		return s, err
	}
	say("before-hibernate count=%d sum=%s; power off %s after hibernate now", s.Before.Count, s.Before.Sum, s.HibernateTime.Round(100*time.Millisecond))
	h := &Hibernated{Guest: g.Guest}
	area, err := h.SwapArea()
	if err != nil {
		return s, err
	}
	if !area.HasImage() || !area.Valid() {
		return s, fmt.Errorf("after hibernation the swap partition holds %s (problems: %v), not a valid image", area.Kind(), area.Problems)
	}

	// What a boot loader would read from the guest's /boot.
	s.GuestInitrd = filepath.Join(g.dir, "initrd.img-"+rel+".guest-built")
	if err := dumpFromExt4(ctx, g.Disk, g.Layout.RootStart, guestInitrd, s.GuestInitrd); err != nil {
		return s, err
	}
	if got, err := sha256File(s.GuestInitrd); err != nil || got != wantSum {
		return s, fmt.Errorf("%s copied out of the disk has sha256 %s (%v), the guest said %s", guestInitrd, got, err, wantSum)
	}
	say("guest-built %s copied out of the disk (sha256 %.12s, as in the guest)", guestInitrd, wantSum)

	spec2 := spec1
	spec2.Initrd = s.GuestInitrd
	spec2.Cmdline = base + " " + setup.KernelParams
	vm2, err := harness.Start(ctx, spec2)
	if err != nil {
		return s, err
	}
	defer vm2.Kill()
	s.Logs = append(s.Logs, vm2.ConsoleLogPath())
	say("power on (the guest-built initramfs, %s): %s", setup.KernelParams, vm2.ConsoleLogPath())
	info2, err := pingWithin(ctx, vm2, 90*time.Second)
	if err != nil {
		return s, err
	}
	s.ResumeTime = time.Since(vm2.Started())
	after, err := waitJobLine(ctx, vm2, -1, func(demojob.Line) bool { return true })
	if err != nil {
		return s, err
	}
	s.After = after
	say("agent answers %s after power on; after-resume count=%d sum=%s", s.ResumeTime.Round(100*time.Millisecond), after.Count, after.Sum)
	state2, err := systemState(ctx, vm2, false)
	if err != nil {
		return s, err
	}
	pid2, err := mainPID(ctx, vm2)
	if err != nil {
		return s, err
	}
	log, err := vm2.ReadFile(ctx, debroot.DemoJobLog)
	if err != nil {
		return s, err
	}
	last, err := demojob.Verify(bytes.NewReader(log))
	if err != nil {
		return s, vm2.Fail("the job's log: %v", err)
	}
	if mi, err := vm2.ReadFile(ctx, "/proc/meminfo"); err == nil {
		say("after resume: %s", meminfo(string(mi), memFields...))
	}
	say("after resume: MainPID %d, boot ID %s, is-system-running %s, the job's log at count=%d", pid2, info2.BootID, state2, last.Count)
	switch {
	case info2.BootID != s.BootID:
		return s, vm2.Fail("boot_id changed from %s to %s: the guest booted afresh", s.BootID, info2.BootID)
	case pid2 != s.DemoPID:
		return s, vm2.Fail("%s has MainPID %d after resume, %d before", debroot.DemoJobUnit, pid2, s.DemoPID)
	case state2 != s.SystemState:
		return s, vm2.Fail("systemctl is-system-running says %q after resume, %q before", state2, s.SystemState)
	case after.Count <= s.Before.Count:
		return s, vm2.Fail("count=%d after resume is not past count=%d before: the job did not go on", after.Count, s.Before.Count)
	case after.Sum != s.Before.Sum:
		return s, vm2.Fail("sum %s after resume differs from %s before: memory was not restored", after.Sum, s.Before.Sum)
	case last.Count < after.Count:
		return s, vm2.Fail("the job's log ends at count=%d, before the console's count=%d", last.Count, after.Count)
	}
	// The journal's warnings of the whole boot, before and after the resume, for the reader.
	if r, err := vm2.Run(ctx, "journalctl", "-b", "-p", "warning", "--no-pager", "-o", "short-monotonic"); err == nil {
		p := filepath.Join(vm2.Dir(), "journal-warnings.txt")
		if os.WriteFile(p, []byte(r.Stdout), 0o644) == nil {
			s.Logs = append(s.Logs, p)
		}
	}
	if out, err := vm2.ReadFile(ctx, "/var/lib/hibernate-demo/hibernate-now.out"); err == nil {
		say("hibernate now said:\n%s", indent(string(out)))
	}
	return s, nil
}

// prepareDebian makes this run's tree from the cached root (hard links: nothing in the run
// changes a cached file), installs hibernate the way a user does, adds the agent and the demo
// job the units start, builds the first boot's initramfs on the host, and writes the disk.
func prepareDebian(ctx context.Context, a Artifacts, o DebianOptions, root debroot.Root, rel string) (debianGuest, error) {
	var g debianGuest
	g.dir = filepath.Join(a.WorkDir, o.Name)
	if err := os.RemoveAll(g.dir); err != nil {
		return g, err
	}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return g, err
	}
	g.tree = filepath.Join(g.dir, "root")
	if err := command(ctx, "", "cp", "-al", root.Dir, g.tree); err != nil {
		return g, err
	}
	// make install as a user runs it (PREFIX/sbin/hibernate, PREFIX/lib/hibernate/...), with
	// -o build: the artifacts Discover found are installed, not rebuilt under other tests' feet.
	if err := command(ctx, a.Root, "make", "--no-print-directory", "-o", "build", "install", "DESTDIR="+g.tree, "PREFIX=/usr/local"); err != nil {
		return g, err
	}
	for _, c := range []struct{ src, dst string }{{a.Agent, debroot.AgentPath}, {a.DemoJob, debroot.DemoJobPath}} {
		dst := filepath.Join(g.tree, c.dst)
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			return g, err
		}
		if err := copyFile(c.src, dst, 0o755); err != nil {
			return g, err
		}
	}
	// e2fsprogs' e2scrub_reap.service runs at SCHED_IDLE: with the one emulated CPU busy (the
	// demo job, a loaded host) it may not run for minutes, and the boot does not end (seen in a
	// clean-clone make test: is-system-running --wait timed out after 3 min with it "running").
	// It reaps e2scrub's LVM snapshots, which this guest has none of: masked, in this run's tree.
	mask := filepath.Join(g.tree, "etc/systemd/system/e2scrub_reap.service")
	if err := os.Remove(mask); err != nil && !os.IsNotExist(err) {
		return g, err
	}
	if err := os.Symlink("/dev/null", mask); err != nil {
		return g, err
	}
	// The kernel QEMU boots is the guest's own /boot/vmlinuz-R, extracted once beside the cache.
	vmlinuz := filepath.Join(root.Cache, "vmlinuz-"+rel)
	if _, err := os.Stat(vmlinuz); err != nil {
		if err := copyFile(filepath.Join(root.Dir, "boot", "vmlinuz-"+rel), vmlinuz, 0o644); err != nil {
			return g, err
		}
	}
	k, err := BootableKernel(vmlinuz)
	if err != nil {
		return g, err
	}
	g.Kernel, g.Release = k, rel
	g.hostInitrd = filepath.Join(g.dir, "initrd.img-"+rel+".host-built")
	if err := command(ctx, "", a.Hibernate, "initramfs", "build", "--kernel-release", rel,
		"--modules", filepath.Join(g.tree, "lib/modules", rel), "--base", a.Base, "--out", g.hostInitrd); err != nil {
		return g, err
	}
	g.Initrd = g.hostInitrd
	g.Disk = filepath.Join(g.dir, "disk.img")
	g.Layout, err = guestdisk.Build(guestdisk.Spec{Path: g.Disk, SizeMiB: 2048, RootTree: g.tree, RootLabel: debroot.RootLabel, SwapSizeMiB: 512})
	if err != nil {
		return g, fmt.Errorf("build guest disk %s: %w", g.Disk, err)
	}
	return g, nil
}

// pingWithin waits for the agent, at most d.
func pingWithin(ctx context.Context, vm *harness.VM, d time.Duration) (harness.AgentInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return vm.Ping(ctx)
}

// systemState asks systemctl is-system-running (with --wait: until the boot is over, at most
// 3 min) and wants running or degraded; it exits non-zero for degraded, so the answer is what
// counts.
func systemState(ctx context.Context, vm *harness.VM, wait bool) (string, error) {
	argv := []string{"systemctl", "is-system-running"}
	if wait {
		argv = append(argv, "--wait")
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	r, err := vm.Run(wctx, argv...)
	if err != nil {
		// What the boot still waits for, when the guest can still say.
		jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
		defer jcancel()
		if j, jerr := vm.Run(jctx, "systemctl", "list-jobs", "--no-pager"); jerr == nil {
			return "", fmt.Errorf("%w\nsystemctl list-jobs:\n%s", err, j.Stdout)
		}
		return "", err
	}
	state := strings.TrimSpace(r.Stdout)
	if state != "running" && state != "degraded" {
		return state, vm.Fail("%s: %q (exit %d) %s", strings.Join(argv, " "), state, r.Exit, r.Stderr)
	}
	return state, nil
}

// mainPID is the demo service's main process, which must be running.
func mainPID(ctx context.Context, vm *harness.VM) (int, error) {
	r, err := run(ctx, vm, "systemctl", "show", "-p", "MainPID", "--value", debroot.DemoJobUnit)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil || pid <= 0 {
		st, _ := vm.Run(ctx, "systemctl", "status", "--no-pager", debroot.DemoJobUnit)
		return 0, vm.Fail("%s: MainPID %q: not running\n%s", debroot.DemoJobUnit, r.Stdout, st.Stdout)
	}
	return pid, nil
}

// dumpFromExt4 copies path out of the ext4 file system at byte offset off of disk, read-only
// (debugfs without -w, through the offset option of e2fsprogs' unix I/O): the hibernated
// kernel still has it mounted, so nothing may write to it.
func dumpFromExt4(ctx context.Context, disk string, off int64, path, out string) error {
	os.Remove(out)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, debugfsTool(), "-R", fmt.Sprintf("dump -p %s %s", path, out), fmt.Sprintf("%s?offset=%d", disk, off))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		return fmt.Errorf("%s made no %s (%v): %s", strings.Join(cmd.Args, " "), out, err, stderr.String())
	}
	return nil
}

func debugfsTool() string {
	if p, err := exec.LookPath("debugfs"); err == nil {
		return p
	}
	return "/sbin/debugfs"
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// command runs a host command in dir, its output in the error.
func command(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

var memFields = []string{"MemTotal", "MemFree", "Cached", "AnonPages", "SwapTotal", "SwapFree"}

// meminfo picks fields of /proc/meminfo, as "Name N MiB" pairs.
func meminfo(data string, names ...string) string {
	var out []string
	for _, l := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !slices.Contains(names, k) {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s %d MiB", k, kb>>10))
	}
	return strings.Join(out, ", ")
}
