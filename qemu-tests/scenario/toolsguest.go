package scenario

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/elfdeps"
	"github.com/hibernate-linux/hibernate/internal/initramfs/modules"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The tools guest: the test kernel with the agent as PID 1 in an initramfs that also holds the
// host's cryptsetup, lvm, mdadm, dd and e2fsprogs (with their shared libraries and loader) and the
// device-mapper, crypto and md RAID1 modules. The host has no device-mapper, so whatever needs one (the
// encrypted LVM disk: luksFormat, pvcreate, the copy of the root into its LV, and the checks
// of what was made; the md RAID1 pair, which the host must not assemble) runs in this guest. It never boots a disk: the disks it is given are its
// /dev/vda, /dev/vdb, ...

// hostTools are the host's programs the tools guest runs (cryptsetup-bin, lvm2, mdadm,
// coreutils, e2fsprogs: qemu-tests/scripts/deps.sh installs them).
var hostTools = []string{"/usr/sbin/cryptsetup", "/usr/sbin/lvm", "/sbin/mdadm", "/bin/dd", "/usr/bin/sha256sum", "/sbin/e2fsck", "/sbin/e2image", "/sbin/debugfs"}

// toolsModules are what the tools guest loads, their dependencies first (modules.Closure):
// the disk's drivers (Debian's virtio_pci is a module, which virtio_blk does not depend on);
// device-mapper and dm-crypt; aes-xts (aesni-intel: TCG's max CPU has AES-NI)
// for dm-crypt and, through AF_ALG, for cryptsetup's keyslots; md and its RAID1 personality
// (raid1 depends on md_mod). What the Debian kernel has built in (sha256, aes-generic) is left
// out by Closure.
var toolsModules = []string{"virtio_pci", "virtio_blk", "dm_mod", "dm_crypt", "xts", "aesni_intel", "af_alg", "algif_skcipher", "raid1"}

// toolsAgent is the agent in the tools guest: its /init.
const toolsAgent = "/init"

// toolsLibraryPath is where the tools' libraries are, in the guest (where the host has them).
const toolsLibraryPath = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"

// toolsEnv is the environment of every tool run in the tools guest: there is no udev, so
// libdevmapper makes the /dev/mapper nodes itself (DM_DISABLE_UDEV), and lvm is told so too
// (lvmConfig).
var toolsEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH=" + toolsLibraryPath,
	"DM_DISABLE_UDEV=1", "LVM_SUPPRESS_FD_WARNINGS=1"}

// lvmConfig is given to every lvm command (--config): no udev to wait for or to leave the nodes
// to, devices found by scanning /dev, no devices file, no polling or monitoring daemon, no
// metadata backups in the guest's RAM.
const lvmConfig = "activation{udev_sync=0 udev_rules=0 monitoring=0} devices{obtain_device_list_from_udev=0 use_devicesfile=0} " +
	"global{use_lvmpolld=0} backup{backup=0 archive=0}"

// toolsInitramfs is the tools guest's initramfs of one run, built once per test process
// (the agent is this run's; the rest is the host's and the kernel's).
type toolsInitramfs struct {
	Path    string   // the cpio
	Modules []string // the modules' paths in the guest, in load order
	Files   []string // the host files put in (tools, libraries, loader), for the report
	// ToolsHash hashes what of it shapes a disk the tools guest makes: the tools, their
	// libraries and the modules, not the agent, which only runs what the host asks and is
	// this build's (with it in, every commit made the Debian encrypted disk again, a minute
	// under TCG, where its recipe and its tools had not changed).
	ToolsHash string
}

var toolsOnce = struct {
	sync.Mutex
	m map[string]*toolsInitramfs
}{m: map[string]*toolsInitramfs{}}

// buildToolsInitramfs writes (once per process and work folder) the tools guest's initramfs
// under a.WorkDir.
func buildToolsInitramfs(a Artifacts) (*toolsInitramfs, error) {
	toolsOnce.Lock()
	defer toolsOnce.Unlock()
	out := filepath.Join(a.WorkDir, "tools-guest", "tools-"+a.Kernel.Release+".cpio")
	if t := toolsOnce.m[out]; t != nil {
		return t, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	t := &toolsInitramfs{Path: out}
	for _, p := range hostTools {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s %w", p, errNoTool)
		}
	}
	var recs []cpio.Record
	h := sha256.New() // ToolsHash, of what goes in, as it goes in
	add := func(r cpio.Record, content []byte) {
		recs = append(recs, r)
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", r.Name, r.Mode, len(content))
		h.Write(content)
	}
	// The closure as hibernate initramfs build takes it for our /init (elfdeps).
	files, err := elfdeps.Closure("/", hostTools...)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		if f.LinkTo != "" {
			add(cpio.Symlink(name, f.LinkTo), []byte(f.LinkTo))
			t.Files = append(t.Files, f.Path)
			continue
		}
		b, err := os.ReadFile(f.Source)
		if err != nil {
			return nil, err
		}
		add(cpio.StaticRecord(b, cpio.Info{Name: name, Mode: cpio.S_IFREG | 0o755}), b)
		t.Files = append(t.Files, f.Path)
	}
	ix, err := modules.Scan(a.Kernel.ModulesDir)
	if err != nil {
		return nil, err
	}
	mods, _, err := ix.Closure(toolsModules...)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		b, err := modules.Decompress(filepath.Join(a.Kernel.ModulesDir, m.Path))
		if err != nil {
			return nil, err
		}
		// Decompressed: the guest's finit_module is given the ELF file.
		p := filepath.Join("lib/modules", a.Kernel.Release, strings.TrimSuffix(m.Path, filepath.Ext(m.Path)))
		if !strings.HasSuffix(p, ".ko") {
			p = filepath.Join("lib/modules", a.Kernel.Release, m.Path)
		}
		add(cpio.StaticRecord(b, cpio.Info{Name: p, Mode: cpio.S_IFREG | 0o644}), b)
		t.Modules = append(t.Modules, "/"+p)
	}
	t.ToolsHash = hex.EncodeToString(h.Sum(nil))
	if err := harness.AgentInitramfs(a.Agent, out, recs...); err != nil {
		return nil, err
	}
	toolsOnce.m[out] = t
	return t, nil
}

// toolsGuest is a running tools guest.
type toolsGuest struct {
	vm  *harness.VM
	say func(format string, args ...any)
}

// bootToolsGuest powers on the tools guest with disks (/dev/vda, /dev/vdb, ...), waits for the
// agent and loads the modules.
func bootToolsGuest(ctx context.Context, a Artifacts, name string, disks []harness.Disk, say func(string, ...any)) (*toolsGuest, error) {
	ti, err := buildToolsInitramfs(a)
	if err != nil {
		return nil, fmt.Errorf("the tools guest's initramfs: %w", err)
	}
	k, err := BootableKernel(a.Kernel.Image)
	if err != nil {
		return nil, err
	}
	vm, err := harness.Start(ctx, harness.Spec{Name: name, Kernel: k, Initrd: ti.Path, Cmdline: "quiet", Disks: disks,
		LogDir: a.LogDir, Agent: true})
	if err != nil {
		return nil, err
	}
	g := &toolsGuest{vm: vm, say: say}
	if _, err := vm.Ping(ctx); err != nil {
		return g, err
	}
	if _, err := g.run(ctx, append([]string{toolsAgent, "insmod"}, ti.Modules...)...); err != nil {
		return g, err
	}
	return g, nil
}

// run runs argv in the tools guest with toolsEnv; a non-zero exit is an error with the output.
func (g *toolsGuest) run(ctx context.Context, argv ...string) (harness.Result, error) {
	r, err := g.vm.RunEnv(ctx, toolsEnv, argv...)
	if err != nil {
		return r, err
	}
	if r.Exit != 0 {
		return r, g.vm.Fail("%s exited %d:\n%s%s", strings.Join(argv, " "), r.Exit, r.Stdout, r.Stderr)
	}
	return r, nil
}

// lvm runs an lvm command with lvmConfig.
func (g *toolsGuest) lvm(ctx context.Context, args ...string) (harness.Result, error) {
	return g.run(ctx, append([]string{"/usr/sbin/lvm", args[0], "--config", lvmConfig}, args[1:]...)...)
}

// partitionBytes is the size of the guest's block device name (vda1), from sysfs: it must be
// there.
func (g *toolsGuest) partitionBytes(ctx context.Context, name string) (int64, error) {
	b, err := g.vm.ReadFile(ctx, "/sys/class/block/"+name+"/size")
	if err != nil {
		return 0, err
	}
	var sectors int64
	if _, err := fmt.Sscan(string(b), &sectors); err != nil {
		return 0, g.vm.Fail("/sys/class/block/%s/size: %q", name, b)
	}
	return sectors * 512, nil
}

// checkSizes checks the sizes of the guest's block devices (vda1: bytes), from sysfs.
func (g *toolsGuest) checkSizes(ctx context.Context, want map[string]int64) error {
	for name, size := range want {
		if got, err := g.partitionBytes(ctx, name); err != nil || got != size {
			return fmt.Errorf("the tools guest's %s: %d bytes (%v), want %d", name, got, err, size)
		}
	}
	return nil
}

// copyRoot copies the ext4 file system of src into the block device dst with e2image -ra and
// checks the copy (e2fsck -fn), and says how long the copy took. e2image -ra to a block device
// writes every block the file system uses, its whole inode tables and its zeroed blocks too (it
// skips zeros only into a file): what reads as zeros in the image does on dst, and the free
// blocks, left as they are, are never read. A dd of a whole 512 MiB LV took 50 s (10 MB/s
// through dm-crypt under TCG); this writes about a tenth.
func (g *toolsGuest) copyRoot(ctx context.Context, src, dst string) (time.Duration, error) {
	t0 := time.Now()
	if _, err := g.run(ctx, "/sbin/e2image", "-ra", src, dst); err != nil {
		return 0, err
	}
	took := time.Since(t0)
	g.say("root file system copied into %s by e2image -ra (%s)", dst, took.Round(10*time.Millisecond))
	_, err := g.run(ctx, "/sbin/e2fsck", "-fn", dst)
	return took, err
}

// powerOff syncs and powers the tools guest off, and waits until QEMU has exited.
func (g *toolsGuest) powerOff(ctx context.Context) error {
	if err := g.vm.PowerOff(ctx); err != nil {
		return err
	}
	exit, err := g.vm.WaitExit(ctx)
	if err != nil {
		return err
	}
	if !exit.GuestShutdown {
		return g.vm.Fail("the tools guest did not power off (%s)", exit.Reason)
	}
	return nil
}

// errNoTool says that a host tool of the tools guest is missing.
var errNoTool = errors.New("not installed: run qemu-tests/scripts/deps.sh (cryptsetup-bin, lvm2, mdadm, e2fsprogs)")
