package scenario

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Debian cmdline: systemd as init (Debian's /sbin/init is the same, named for the reader),
// status lines only for failures.
const debianCmdline = "init=/lib/systemd/systemd systemd.show_status=error"

// DebianRoot makes the root of DebianSystemd guests by debootstrap from spec (the Debian 12 one
// with systemd and the Debian kernel package is debroot.SystemdGuest), cached after the first
// run: a cold debootstrap takes minutes.
func DebianRoot(ctx context.Context, spec debroot.Spec, out io.Writer) (debroot.Root, error) {
	say := func(format string, args ...any) { fmt.Fprintf(out, "debian: "+format+"\n", args...) }
	say("root %s-%s: debootstrap %s --variant=%s with %s (cached after the first run)", spec.Name, spec.Key(), spec.Suite, spec.Variant, strings.Join(spec.Include, " "))
	start := time.Now()
	root, err := debroot.Ensure(ctx, spec)
	if err != nil {
		return root, err
	}
	if root.BaseNew {
		say("debootstrap made %s in %s", root.BaseDir, root.Took.Round(time.Second))
	}
	say("root %s (%s)", root.Dir, time.Since(start).Round(10*time.Millisecond))
	if len(root.Kernels) == 0 {
		return root, fmt.Errorf("no kernel under %s/lib/modules", root.Dir)
	}
	return root, nil
}

// DebianSystemd is the variant of the real thing: the guest's root is a copy of root (from
// DebianRoot) with systemd as PID 1 and the Debian kernel, hibernate installed into it by
// `make install DESTDIR=`; the agent and the demo job are systemd units. The first boot uses an
// initramfs built on the host; BuildInitramfsInGuest and UseGuestInitramfs make the guest's own.
func DebianSystemd(root debroot.Root) Option {
	return func(c *Config) {
		c.root = rootKind{name: "debian", hibernate: DebianHibernate, jobByInit: true, cmdline: debianCmdline,
			agentWithin: 90 * time.Second, build: func(ctx context.Context, m *Machine) (Guest, error) { return m.buildDebian(ctx, root) }}
	}
}

// MDRAID1Root puts the DebianSystemd guest's root (its ext4) on an md RAID1 of two disks
// (mddisk.go), and boots it with the distribution's initramfs, the root's /boot/initrd.img-R
// (initramfs-tools with mdadm, debroot.SystemdMDGuest), as the Debian installer leaves such a
// machine: hibernate's /init does not assemble md arrays. No swap partition. Give it after
// DebianSystemd.
func MDRAID1Root() Option { return func(c *Config) { c.MDRoot = true } }

// buildDebian makes this run's tree from the cached root (hard links: nothing in the run
// changes a cached file), installs hibernate the way a user does, adds the agent and the demo
// job the units start, builds the first boot's initramfs on the host, and writes the disk.
func (m *Machine) buildDebian(ctx context.Context, root debroot.Root) (Guest, error) {
	a := m.Artifacts
	var g Guest
	rel := root.Kernels[len(root.Kernels)-1]
	dir, err := freshDir(a, m.Config.Name)
	if err != nil {
		return g, err
	}
	tree := filepath.Join(dir, "root")
	if err := debianTree(ctx, a, root, tree, m.Config); err != nil {
		return g, err
	}
	if err := writeFiles(tree, m.Config.Files); err != nil {
		return g, err
	}
	if k := m.Config.SecondKernel; k != nil {
		if err := secondKernelFiles(ctx, k, tree); err != nil {
			return g, err
		}
	}
	// The kernel QEMU boots is the guest's own /boot/vmlinuz-R, extracted once beside the cache.
	vmlinuz := filepath.Join(root.Cache, "vmlinuz-"+rel)
	if _, err := os.Stat(vmlinuz); err != nil {
		if err := copyFile(filepath.Join(root.Dir, "boot", "vmlinuz-"+rel), vmlinuz, 0o644); err != nil {
			return g, err
		}
	}
	if g.Kernel, err = m.bootKernel(vmlinuz); err != nil {
		return g, err
	}
	g.Release = rel
	if m.Config.MDRoot {
		return g, m.mdDebianDisks(ctx, &g, dir, tree)
	}
	if m.Config.EncryptedRoot {
		return g, m.encryptedDebianDisks(ctx, &g, dir, tree)
	}
	g.Initrd = filepath.Join(dir, "initrd.img-"+rel+".host-built")
	if _, err := buildInitramfs(ctx, a, rel, filepath.Join(tree, "lib/modules", rel), g.Initrd, m.Config.InitrdFlags...); err != nil {
		return g, err
	}
	return g, m.writeDisks(&g, dir, tree, 2048, debroot.RootLabel)
}

// mdDebianDisks boots g with the distribution's initramfs, the tree's own (copied out: the
// tree's is a hard link into the cached root), and writes the md RAID1 disks holding tree.
func (m *Machine) mdDebianDisks(ctx context.Context, g *Guest, dir, tree string) error {
	g.Initrd = filepath.Join(dir, "initrd.img-"+g.Release+".distribution")
	if err := copyFile(filepath.Join(tree, "boot", "initrd.img-"+g.Release), g.Initrd, 0o644); err != nil {
		return err
	}
	md, err := mdDisksFor(ctx, m.Artifacts, tree, filepath.Join(dir, "disk1.img"), filepath.Join(dir, "disk2.img"), m.say)
	if err != nil {
		return err
	}
	g.Disk, g.Layout, g.MD = filepath.Join(dir, "disk1.img"), md.Layouts[0], md
	return nil
}

// debianTree makes tree from the cached root and installs our programs into it: the .deb of
// c.Package (but for an EncryptedRoot, whose package disk holds it), or make install.
func debianTree(ctx context.Context, a Artifacts, root debroot.Root, tree string, c Config) error {
	if err := command(ctx, "", "cp", "-al", root.Dir, tree); err != nil {
		return err
	}
	switch deb := c.Package; {
	case deb != "" && c.EncryptedRoot:
		// On the package disk (encryptedDebianDisks): the encrypted disk made of tree is cached.
	case deb != "":
		// The package, installed in the guest by InstallPackage, as a user does.
		if err := copyFile(deb, filepath.Join(tree, guestPackageDir, filepath.Base(deb)), 0o644); err != nil {
			return err
		}
	default:
		// make install as a user runs it (PREFIX/sbin/hibernate, PREFIX/lib/hibernate/...), with
		// -o build: the artifacts Discover found are installed, not rebuilt under other tests' feet.
		if err := command(ctx, a.Root, "make", "--no-print-directory", "-o", "build", "install", "DESTDIR="+tree, "PREFIX="+debianPrefix); err != nil {
			return err
		}
	}
	for _, c := range []struct{ src, dst string }{{a.Agent, debroot.AgentPath}, {a.DemoJob, debroot.DemoJobPath}} {
		dst := filepath.Join(tree, c.dst)
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := copyFile(c.src, dst, 0o755); err != nil {
			return err
		}
	}
	// e2fsprogs' e2scrub_reap.service runs at SCHED_IDLE: with the one emulated CPU busy (the
	// demo job, a loaded host) it may not run for minutes, and the boot does not end (seen in a
	// clean-clone make test: is-system-running --wait timed out after 3 min with it "running").
	// It reaps e2scrub's LVM snapshots, which this guest has none of: masked, in this run's tree.
	mask := filepath.Join(tree, "etc/systemd/system/e2scrub_reap.service")
	if err := os.Remove(mask); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Symlink("/dev/null", mask)
}

// Systemd is what the systemd steps saw.
type Systemd struct {
	BootToRunning time.Duration // QEMU started to `systemctl is-system-running --wait` answering
	BootState     string        // its answer: running or degraded
	Failed        string        // systemctl --failed, when degraded
	State         string        // systemctl is-system-running just before hibernate now
	DemoPID       int           // the demo service's MainPID
}

// WaitSystemd waits for the boot to end (is-system-running --wait, which must say running or
// degraded), and notes the failed units and the demo service's main PID.
func (m *Machine) WaitSystemd(ctx context.Context, vm *harness.VM) error {
	sd := &m.Systemd
	var err error
	if sd.BootState, err = systemState(ctx, vm, true); err != nil {
		return err
	}
	sd.BootToRunning = time.Since(vm.Started())
	m.say("systemctl is-system-running --wait: %s, %s after power on", sd.BootState, sd.BootToRunning.Round(100*time.Millisecond))
	if sd.BootState == "degraded" {
		if r, err := vm.Run(ctx, "systemctl", "--failed", "--no-legend", "--plain"); err == nil {
			sd.Failed = strings.TrimSpace(r.Stdout)
			m.say("failed units:\n%s", indent(sd.Failed))
		}
	}
	if r, err := vm.Run(ctx, "systemd-analyze"); err == nil && r.Exit == 0 {
		m.say("systemd-analyze: %s", strings.TrimSpace(strings.SplitN(r.Stdout, "\n", 2)[0]))
	}
	if sd.DemoPID, err = mainPID(ctx, vm); err != nil {
		return err
	}
	m.say("%s: MainPID %d", debroot.DemoJobUnit, sd.DemoPID)
	return nil
}

// BuildInitramfsInGuest runs `hibernate initramfs build` in the guest with no flags: the
// running kernel, /lib/modules/R and /boot/initrd.img-R, and the base found beside the
// installed binary. It notes the initramfs's sha256 and syncs it to the disk.
func (m *Machine) BuildInitramfsInGuest(ctx context.Context, vm *harness.VM) error {
	t0 := time.Now()
	r, err := run(ctx, vm, m.Command("initramfs", "build")...)
	if err != nil {
		return err
	}
	m.Summary.InitrdTime = time.Since(t0)
	m.say("hibernate initramfs build in the guest (%s): %s", m.Summary.InitrdTime.Round(10*time.Millisecond), strings.TrimSpace(r.Stdout))
	if r, err = run(ctx, vm, "sha256sum", m.guestInitrdPath()); err != nil {
		return err
	}
	m.guestInitrdSum, _, _ = strings.Cut(strings.TrimSpace(r.Stdout), " ")
	_, err = run(ctx, vm, "sync")
	return err
}

func (m *Machine) guestInitrdPath() string { return "/boot/initrd.img-" + m.Guest.Release }

// NoteSystemState notes what systemctl is-system-running says just before hibernating: the
// state to find again after the resume. (At boot systemd-gpt-auto-generator's unit for the swap
// partition fails, the partition being zeroed until hibernate setup, whose swapon makes that
// unit active.)
func (m *Machine) NoteSystemState(ctx context.Context, vm *harness.VM) error {
	var err error
	if m.Systemd.State, err = systemState(ctx, vm, false); err != nil {
		return err
	}
	m.say("systemctl is-system-running before hibernate now: %s", m.Systemd.State)
	if mi, err := vm.ReadFile(ctx, "/proc/meminfo"); err == nil {
		m.say("before hibernate now: %s", meminfo(string(mi), memFields...))
	}
	return nil
}

// UseGuestInitramfs copies the initramfs the guest built out of its disk, once it is off (what
// a boot loader would read from its /boot), checks it is what the guest made, and boots it from
// now on.
func (m *Machine) UseGuestInitramfs(ctx context.Context, _ *harness.VM) error {
	in := m.guestInitrdPath()
	out := filepath.Join(filepath.Dir(m.Guest.Disk), filepath.Base(in)+".guest-built")
	disk, start, path := m.Guest.Disk, m.Guest.Layout.RootStart, in
	if m.Guest.BootDisk != "" {
		disk, start, path = m.Guest.BootDisk, m.Guest.BootLayout.RootStart, strings.TrimPrefix(in, "/boot")
	}
	if err := dumpFromExt4(ctx, disk, start, path, out); err != nil {
		return err
	}
	if got, err := sha256File(out); err != nil || got != m.guestInitrdSum {
		return fmt.Errorf("%s copied out of the disk has sha256 %s (%v), the guest said %s", in, got, err, m.guestInitrdSum)
	}
	m.say("guest-built %s copied out of the disk (sha256 %.12s, as in the guest)", in, m.guestInitrdSum)
	m.Guest.Initrd = out
	return nil
}

// CheckSystemdKept checks after the resume that the demo service has the same main PID and
// systemctl is-system-running says what it said before hibernating.
func (m *Machine) CheckSystemdKept(ctx context.Context, vm *harness.VM) error {
	state, err := systemState(ctx, vm, false)
	if err != nil {
		return err
	}
	pid, err := mainPID(ctx, vm)
	if err != nil {
		return err
	}
	if mi, err := vm.ReadFile(ctx, "/proc/meminfo"); err == nil {
		m.say("after resume: %s", meminfo(string(mi), memFields...))
	}
	m.say("after resume: MainPID %d, is-system-running %s", pid, state)
	switch {
	case pid != m.Systemd.DemoPID:
		return vm.Fail("%s has MainPID %d after resume, %d before", debroot.DemoJobUnit, pid, m.Systemd.DemoPID)
	case state != m.Systemd.State:
		return vm.Fail("systemctl is-system-running says %q after resume, %q before", state, m.Systemd.State)
	}
	return nil
}

// SaveJournal keeps the journal's warnings of the whole boot, before and after the resume, in
// the boot's log folder, for the reader.
func (m *Machine) SaveJournal(ctx context.Context, vm *harness.VM) error {
	if r, err := vm.Run(ctx, "journalctl", "-b", "-p", "warning", "--no-pager", "-o", "short-monotonic"); err == nil {
		p := filepath.Join(vm.Dir(), "journal-warnings.txt")
		if os.WriteFile(p, []byte(r.Stdout), 0o644) == nil {
			m.Summary.Logs = append(m.Summary.Logs, p)
		}
	}
	return nil
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
