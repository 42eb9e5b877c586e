package scenario

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Machine is one scenario's guest: its disk and boot files (Guest), the variant it was built
// as (Config), and what the steps found on it. New builds it; Boot, the steps (steps.go) and
// Resume act on it.
type Machine struct {
	Artifacts Artifacts
	Config    Config
	Guest     Guest
	Setup     SetupResult // what `hibernate setup --json` printed
	BootID    string      // of the machine's first boot: the one that hibernates
	Release   string      // uname -r in the guest, read at the first boot
	Summary   Summary
	Systemd   Systemd // what the systemd steps saw (DebianSystemd guests)

	// Passphrases are typed at the next boot's passphrase prompts, one a prompt (wrong ones
	// first, to see /init ask again); empty: the LUKS volume's passphrase, once.
	Passphrases []string
	// PassphrasePrompt is the prompt those boots answer; empty: /init's (LUKS.Prompt). Another
	// initramfs asks its own way (a benchmark's peer: cryptsetup's "Please unlock disk …").
	PassphrasePrompt string

	// viaFirmware makes the boots go through the firmware and the guest's boot loader (UEFIGrub,
	// once InstallGrub installed it) instead of PVH.
	viaFirmware bool

	guestInitrdSum     string          // the sha256 of the initramfs the guest built (BuildInitramfsInGuest)
	filesBeforePackage map[string]bool // the guest's files before InstallPackage
}

// Config is a guest variant: what the options of New set, read by the steps after. Fields a
// test changes between two boots (DiskBPS) are read at every boot.
type Config struct {
	Name        string
	Out         io.Writer // progress lines
	MemoryMiB   int       // default 512
	Cmdline     string    // more kernel parameters for every boot
	DiskBPS     int64     // throttle of the guest disk (bytes/s), 0 for none
	RootFS      string    // the root file system: ext4 (default) or btrfs
	InitrdFlags []string  // more flags for `hibernate initramfs build`
	Files       []GuestFile
	Swap        Swap
	StateMiB    int      // the job's state, default 64
	Ticks       int      // job lines to see before StartJob returns, default 3
	FileMiB     int      // the job's file, read whole in every pass (page cache), default none
	Pausable    bool     // the job pauses its passes while JobPauseFile holds "pause"
	NowFlags    []string // more flags for `hibernate now --mode shutdown`
	CutPower    string   // HibernateNow pulls the plug when this console line appears
	S3          bool     // the machine offers suspend to RAM (ACPI S3, SuspendToRAM)
	// Icount, when above 0, runs the guest under QEMU's -icount shift=Icount: its clock advances
	// 2^Icount ns an instruction, whatever the host's load (benchmarks by the guest's clock).
	Icount  int
	Network bool   // a virtio network card on QEMU's user networking (UserNetwork)
	Package string // the .deb the Debian guest installs hibernate from (instead of make install)
	MDRoot  bool   // the Debian guest's root on an md RAID1, booting the distribution's initramfs (MDRAID1Root)
	// EncryptedRoot puts the Debian guest on the installer's encrypted LVM layout (EncryptedLVMRoot).
	EncryptedRoot bool
	UEFI          bool    // the Debian guest is a UEFI machine booting GRUB (UEFIGrub)
	SystemdBoot   bool    // booting systemd-boot, not GRUB (UEFISystemdBoot)
	SecureBoot    bool    // with Secure Boot on (UEFISecureBoot)
	BIOS          bool    // the Debian guest is a BIOS machine booting GRUB (BIOSGrub)
	SecondKernel  *Kernel // a second kernel in the UEFIGrub guest (SecondKernel)
	root          rootKind
}

// Swap is where `hibernate setup` makes the swap area.
type Swap struct {
	PartitionMiB int    // the swap partition of the guest disk: default 512, -1 for none
	File         string // a swap file of the root file system instead (setup --file)
	FileSize     string // its setup --size, default 320M
	SecondDisk   bool   // the swap partition of a second disk instead (Guest.SwapDisk)
	KeyFileLUKS  bool   // that partition a LUKS2 volume opened with a key file (EncryptedSwapWithKeyFile)
	// NoBootConfig keeps setup's parameters out of a boot loader guest's configuration
	// (NoResumeInBootConfig): its next boots are told nothing of the swap.
	NoBootConfig bool
	// HibernateOnly makes File a hibernation file (setup --hibernate-only): never daily swap.
	HibernateOnly bool
}

// An Option is a guest variant, given to New.
type Option func(*Config)

// FromPackage has the Debian guest get hibernate from the .deb at path (InstallPackage), as a
// user does, instead of make install into its tree.
func FromPackage(path string) Option { return func(c *Config) { c.Package = path } }

// Output sends the progress lines to w.
func Output(w io.Writer) Option { return func(c *Config) { c.Out = w } }

// Memory gives the guest mib MiB.
func Memory(mib int) Option { return func(c *Config) { c.MemoryMiB = mib } }

// Cmdline adds kernel parameters to every boot (e.g. hibernate=nocompress).
func Cmdline(params string) Option {
	return func(c *Config) { c.Cmdline = strings.TrimSpace(c.Cmdline + " " + params) }
}

// ThrottleDisk limits the guest disk to bps bytes a second, to widen the window of the image write.
func ThrottleDisk(bps int64) Option { return func(c *Config) { c.DiskBPS = bps } }

// RootFS makes the root file system fstype; btrfs puts its module into the initramfs.
func RootFS(fstype string) Option {
	return func(c *Config) {
		c.RootFS = fstype
		if fstype == "btrfs" {
			c.InitrdFlags = append(c.InitrdFlags, "--add-module", "btrfs")
		}
	}
}

// Files adds files to the guest's root file system.
func Files(f ...GuestFile) Option { return func(c *Config) { c.Files = append(c.Files, f...) } }

// SwapPartition makes the guest disk's swap partition mib MiB (-1: none).
func SwapPartition(mib int) Option { return func(c *Config) { c.Swap.PartitionMiB = mib } }

// SwapFile puts the swap in a file of the root file system (setup --file path --size size;
// size "" for 320M), and no swap partition on the disk.
func SwapFile(path, size string) Option {
	return func(c *Config) { c.Swap = Swap{PartitionMiB: -1, File: path, FileSize: size} }
}

// UserNetwork gives the guest a virtio network card on QEMU's user networking, the host at
// 10.0.2.2 (its 127.0.0.1), and virtio_net in its initramfs, which /init loads; the agent's net-up
// gives it an address (GuestAddr).
func UserNetwork() Option {
	return func(c *Config) {
		c.Network = true
		c.InitrdFlags = append(slices.Clip(c.InitrdFlags), "--add-module", "virtio_net")
	}
}

// GuestAddr and HostAddr are a UserNetwork guest's address and the host's, as the guest sees it.
const (
	GuestAddr = "10.0.2.15/24"
	HostAddr  = "10.0.2.2"
)

// SuspendToRAM gives the guest ACPI S3, which q35 machines of QEMU do not offer by default:
// suspend to RAM, woken by the RTC's alarm or by QMP's system_wakeup.
func SuspendToRAM() Option { return func(c *Config) { c.S3 = true } }

// Icount runs the guest's clock by instructions executed (Config.Icount).
func Icount(shift int) Option { return func(c *Config) { c.Icount = shift } }

// HibernationFile makes path on the root file system a hibernation file (setup --file PATH
// --hibernate-only), and gives the guest no swap partition: hibernate now activates the file
// for the image only.
func HibernationFile(path string) Option {
	return func(c *Config) { c.Swap = Swap{PartitionMiB: -1, File: path, HibernateOnly: true} }
}

// SwapOnSecondDisk puts the swap on a second disk (Guest.SwapDisk), and none on the first.
func SwapOnSecondDisk() Option {
	return func(c *Config) { c.Swap = Swap{PartitionMiB: -1, SecondDisk: true} }
}

// NoResumeInBootConfig has SetupSwap run hibernate setup without --write-boot-config on a guest
// that boots through its own boot loader (UEFIGrub, BIOSGrub): no resume= in /etc/default/grub,
// grub.cfg or the initramfs's config, and none expected on GRUB's command line.
func NoResumeInBootConfig() Option { return func(c *Config) { c.Swap.NoBootConfig = true } }

// JobState gives the demo job mib MiB of state.
func JobState(mib int) Option { return func(c *Config) { c.StateMiB = mib } }

// JobFile gives the job a file of mib MiB that it reads whole in every pass: page cache a job
// needs back after the resume.
func JobFile(mib int) Option { return func(c *Config) { c.FileMiB = mib } }

// JobPauseFile is the file that pauses a Pausable job's passes (demojob.Options.PauseFile).
const JobPauseFile = demojob.Dir + "/pause"

// JobPausable lets the benchmark pause the job's passes (JobPauseFile).
func JobPausable() Option { return func(c *Config) { c.Pausable = true } }

// JobTicks makes StartJob wait for the job's line count=n.
func JobTicks(n int) Option { return func(c *Config) { c.Ticks = n } }

// NowFlags adds flags to HibernateNow's `hibernate now --mode shutdown`.
func NowFlags(flags ...string) Option {
	return func(c *Config) { c.NowFlags = append(c.NowFlags, flags...) }
}

// CutPower makes HibernateNow pull the plug (kill QEMU) when line appears on the console.
func CutPower(line string) Option { return func(c *Config) { c.CutPower = line } }

func (c *Config) defaults() {
	c.MemoryMiB = or(c.MemoryMiB, 512)
	c.StateMiB = or(c.StateMiB, 64)
	c.Ticks = or(c.Ticks, 3)
	c.Swap.FileSize = or(c.Swap.FileSize, "320M")
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.root.build == nil {
		c.root = minimalRoot
	}
	if c.Package != "" {
		c.root.hibernate = PackageHibernate
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// New is the first step, build guest: it makes the guest disk named name (under
// Artifacts.WorkDir) of the variant the options say, with the kernel and initramfs to boot it.
func New(ctx context.Context, a Artifacts, name string, opts ...Option) (*Machine, error) {
	m := &Machine{Artifacts: a, Config: Config{Name: name}}
	for _, o := range opts {
		o(&m.Config)
	}
	m.Config.defaults()
	start := time.Now()
	g, err := m.Config.root.build(ctx, m)
	if err != nil {
		return m, err
	}
	m.Guest = g
	m.Summary.Kernel, m.Summary.BuildTime = g.Release, time.Since(start)
	switch l := g.LUKS; {
	case l != nil && l.RootDevice() == "":
		m.say("guest disk %s (%s to make): root PARTUUID %s; swap disk %s: LUKS UUID %s (PARTUUID %s) as %s, key file %s", g.Disk,
			m.Summary.BuildTime.Round(10*time.Millisecond), g.Layout.RootPartUUID, g.SwapDisk, l.UUID, l.PartUUID, l.SwapDevice(), l.KeyFile)
		return m, nil
	case l != nil:
		m.say("guest disk %s (%s to make): LUKS UUID %s (PARTUUID %s) as %s, root %s, swap %s", g.Disk, m.Summary.BuildTime.Round(10*time.Millisecond),
			l.UUID, l.PartUUID, l.Name, l.RootDevice(), l.SwapDevice())
		return m, nil
	}
	if md := m.Guest.MD; md != nil {
		m.say("guest disks %s and %s (%s to make): md %s (UUID %s) of %s, ext4 UUID %s on it", g.Disk, md.Second, m.Summary.BuildTime.Round(10*time.Millisecond),
			md.Level, md.UUID, strings.Join(md.Members, " "), md.FSUUID)
		return m, nil
	}
	m.say("guest disk %s (%s to make): root PARTUUID %s, swap PARTUUID %s", g.Disk, m.Summary.BuildTime.Round(10*time.Millisecond),
		g.Layout.RootPartUUID, g.Layout.SwapPartUUID)
	return m, nil
}

func (m *Machine) say(format string, args ...any) {
	fmt.Fprintf(m.Config.Out, m.Config.root.name+": "+format+"\n", args...)
}

// BaseCmdline is what every boot of the guest gets: its root file system, read-write, what the
// root needs and the Cmdline option.
func (m *Machine) BaseCmdline() string {
	root := "PARTUUID=" + m.Guest.Layout.RootPartUUID
	if l := m.Guest.LUKS; l != nil && l.RootDevice() != "" {
		root = l.RootDevice()
	}
	if md := m.Guest.MD; md != nil {
		root = "UUID=" + md.FSUUID
	}
	return strings.Join(strings.Fields(fmt.Sprintf("root=%s rw %s %s", root, m.Config.root.cmdline, m.Config.Cmdline)), " ")
}

// Spec is the guest's description for one boot with the given kernel command line.
func (m *Machine) Spec(cmdline string) harness.Spec {
	disks := []harness.Disk{{Path: m.Guest.Disk, BPS: m.Config.DiskBPS}}
	if m.Guest.BootDisk != "" {
		disks = append(disks, harness.Disk{Path: m.Guest.BootDisk})
	}
	if m.Guest.MD != nil {
		disks = append(disks, harness.Disk{Path: m.Guest.MD.Second, BPS: m.Config.DiskBPS})
	}
	if m.Guest.SwapDisk != "" {
		disks = append(disks, harness.Disk{Path: m.Guest.SwapDisk})
	}
	for _, d := range m.Guest.ExtraDisks {
		disks = append(disks, harness.Disk{Path: d, ReadOnly: true})
	}
	s := harness.Spec{Name: m.Config.Name, Kernel: m.Guest.Kernel, Initrd: m.Guest.Initrd, Cmdline: cmdline,
		MemoryMiB: m.Config.MemoryMiB, Disks: disks, LogDir: m.Artifacts.LogDir, Agent: true}
	if m.Config.S3 {
		s.ExtraArgs = append(s.ExtraArgs, "-global", "ICH9-LPC.disable_s3=0")
	}
	if m.Config.Icount > 0 {
		// align=off, sleep=off: the guest's time is its instructions' alone, never the host's.
		s.ExtraArgs = append(s.ExtraArgs, "-icount", fmt.Sprintf("shift=%d,align=off,sleep=off", m.Config.Icount))
	}
	if m.Config.Network {
		// romfile=: no iPXE option ROM (nothing boots from the network).
		s.ExtraArgs = append(s.ExtraArgs, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=")
	}
	if m.viaFirmware {
		// Firmware nil on a BIOSGrub guest: QEMU's own BIOS boots the first disk.
		s.Kernel, s.Initrd, s.Cmdline, s.Firmware = "", "", "", m.Guest.Firmware
	}
	return s
}

// Boot powers the guest on with the base command line plus extra and waits until the agent
// answers (for a systemd guest, at most 90 s). It does not expect a resume. The first boot's
// ID and kernel release are kept in BootID and Release.
func (m *Machine) Boot(ctx context.Context, extra string) (*harness.VM, harness.AgentInfo, error) {
	vm, err := m.powerOn(ctx, extra)
	if err != nil {
		return nil, harness.AgentInfo{}, err
	}
	info, err := m.ping(ctx, vm)
	if err != nil {
		return vm, info, err
	}
	m.say("agent up %s after power on (agent PID %d)", time.Since(vm.Started()).Round(100*time.Millisecond), info.PID)
	if m.BootID == "" {
		m.BootID = info.BootID
		if r, err := vm.ReadFile(ctx, "/proc/sys/kernel/osrelease"); err == nil {
			m.Release = strings.TrimSpace(string(r))
		}
	}
	return vm, info, nil
}

// powerOn starts QEMU on the guest's disk, its console log in the summary; for a volume keyed
// by a passphrase, it answers /init's passphrase prompt.
func (m *Machine) powerOn(ctx context.Context, extra string) (*harness.VM, error) {
	if extra = strings.TrimSpace(extra); extra != "" && m.viaFirmware {
		return nil, fmt.Errorf("power on with %q: a boot through the firmware has the boot loader's command line", extra)
	}
	vm, err := harness.Start(ctx, m.Spec(strings.TrimSpace(m.BaseCmdline()+" "+extra)))
	if err != nil {
		return nil, err
	}
	m.Summary.Logs = append(m.Summary.Logs, vm.ConsoleLogPath())
	what := "power on"
	if extra != "" {
		what += " with " + extra
	}
	m.say("%s (%s): %s", what, m.bootChain(), vm.ConsoleLogPath())
	if l := m.Guest.LUKS; l != nil && l.Passphrase != "" {
		return vm, m.answerPassphrase(ctx, vm)
	}
	return vm, nil
}

// vmSince is the time since vm's power on, for the progress lines.
func vmSince(vm *harness.VM) time.Duration {
	return time.Since(vm.Started()).Round(100 * time.Millisecond)
}

// ping waits for the agent, at most the root's agentWithin when it has one.
func (m *Machine) ping(ctx context.Context, vm *harness.VM) (harness.AgentInfo, error) {
	ctx, cancel := m.within(ctx)
	defer cancel()
	return vm.Ping(ctx)
}

// within bounds ctx by the root's agentWithin, if any: how long a boot may take to answer.
func (m *Machine) within(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.viaFirmware {
		return context.WithTimeout(ctx, firmwareAgentWithin)
	}
	if d := m.Config.root.agentWithin; d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// Command is the argv of the guest's hibernate with args (the binary is where the root has it).
func (m *Machine) Command(args ...string) []string {
	return append([]string{m.Config.root.hibernate}, args...)
}
