package debroot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// The roots of the benchmark's peers (qemu-tests/bench): Debian 12 as a user has it, with one
// initramfs generator each. initramfs-tools and dracut conflict, so each has its own root. Both
// have udev and systemd, as a Debian 12 system does (dracut then builds its systemd initrd), and
// neither has a kernel from the mirror: KernelRoot installs the very .deb the guests boot.

// modulesKeep makes lib/modules, which Ensure lists, before the kernel is installed.
var modulesKeep = File{Path: "lib/modules/.debroot-keep", Data: "the kernel is installed by debroot.EnsureKernelRoot\n"}

// InitramfsToolsPeer is Debian 12's default: initramfs-tools (and zstd, its default compressor).
func InitramfsToolsPeer() Spec {
	return Spec{Name: "peer-initramfs-tools", Suite: "bookworm", Variant: "minbase",
		Include: []string{"initramfs-tools", "kmod", "linux-base", "udev", "systemd", "zstd", "e2fsprogs"},
		Files:   []File{modulesKeep},
		Remove:  []string{"etc/resolv.conf"}}
}

// InitramfsToolsLUKSPeer is initramfs-tools as the Debian installer leaves an encrypted LVM
// machine: cryptsetup-initramfs and lvm2 beside it, the root and swap on LVs of guest-vg in the
// LUKS volume vda1_crypt (scenario.EncryptedLVM's names). What names the disk itself (its LUKS
// UUID in /etc/crypttab) changes with every build of the guest's tree, so the benchmark writes
// crypttab into the root before each mkinitramfs; the rest is here:
//   - fstab: the root and swap LVs, as the installer writes them (the hooks look for / and the
//     resume device there and in conf.d);
//   - conf.d/resume: RESUME= the swap LV;
//   - cryptsetup-initramfs's conf-hook: CRYPTSETUP=y, so that the hook puts cryptsetup in
//     though no volume is open in the chroot.
func InitramfsToolsLUKSPeer() Spec {
	s := InitramfsToolsPeer()
	s.Name = "peer-initramfs-tools-luks"
	s.Include = append(s.Include, "cryptsetup-initramfs", "lvm2")
	s.Files = append(s.Files,
		File{Path: "etc/fstab", Data: "# hibernate's benchmark: the Debian installer's encrypted LVM layout\n" +
			"/dev/mapper/guest--vg-root / ext4 errors=remount-ro 0 1\n/dev/mapper/guest--vg-swap_1 none swap sw 0 0\n"},
		File{Path: "etc/initramfs-tools/conf.d/resume", Data: "RESUME=/dev/mapper/guest--vg-swap_1\n"},
		File{Path: "etc/cryptsetup-initramfs/conf-hook", Data: "# hibernate's benchmark: cryptsetup in the initramfs though no volume is open in the chroot\nCRYPTSETUP=y\n"})
	return s
}

// DracutPeer is Debian 12 with dracut instead, told to build a generic initrd (a chroot's host is
// not the guest) with its resume module.
func DracutPeer() Spec {
	return Spec{Name: "peer-dracut", Suite: "bookworm", Variant: "minbase",
		Include: []string{"dracut", "kmod", "linux-base", "udev", "systemd", "systemd-sysv", "zstd", "e2fsprogs"},
		Files: []File{modulesKeep, {Path: "etc/dracut.conf.d/10-hibernate-bench.conf",
			Data: "# hibernate's benchmark: a generic initrd (built in a chroot), with the resume module\nhostonly=\"no\"\nadd_dracutmodules+=\" resume \"\n"}},
		Remove: []string{"etc/resolv.conf"}}
}

// KernelRoot is a full copy (not hard links: dpkg and the generators change files in it) of the
// root of s with the kernel packages debs installed by dpkg inside it, cached under
// <Cache>-kernel-<hash of the debs>/root.
type KernelRoot struct {
	Root
	Dir   string // the tree with the kernel installed
	Built bool   // made by this call
	Took  time.Duration
}

// EnsureKernelRoot makes (or finds) s's root with debs installed.
func EnsureKernelRoot(ctx context.Context, s Spec, debs []string, log io.Writer) (KernelRoot, error) {
	var k KernelRoot
	if log == nil {
		log = io.Discard
	}
	s.Log = log
	r, err := Ensure(ctx, s)
	if err != nil {
		return k, err
	}
	k.Root = r
	h := sha256.New()
	for _, d := range debs {
		fmt.Fprintf(h, "%s\n", filepath.Base(d))
		st, err := os.Stat(d)
		if err != nil {
			return k, err
		}
		fmt.Fprintf(h, "%d\n", st.Size())
	}
	cache := r.Cache + "-kernel-" + hex.EncodeToString(h.Sum(nil))[:12]
	k.Dir = filepath.Join(cache, "root")
	unlock, err := testutil.LockCache(ctx, cache+".lock", "this root")
	if err != nil {
		return k, err
	}
	defer unlock()
	if done(cache) {
		markUsed(cache)
		return k, nil
	}
	start := time.Now()
	tmp := cache + ".partial"
	if err := RemoveTree(tmp); err != nil {
		return k, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return k, err
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "cp", "-a", r.Dir, root).CombinedOutput(); err != nil {
		return k, fmt.Errorf("cp -a %s %s: %w: %s", r.Dir, root, err, out)
	}
	var inside []string
	for _, d := range debs {
		dst := filepath.Join(root, "tmp", filepath.Base(d))
		if out, err := exec.Command("cp", d, dst).CombinedOutput(); err != nil {
			return k, fmt.Errorf("cp %s %s: %w: %s", d, dst, err, out)
		}
		inside = append(inside, "/tmp/"+filepath.Base(d))
	}
	if err := Chroot(ctx, root, log, append([]string{"dpkg", "-i"}, inside...)...); err != nil {
		return k, err
	}
	for _, d := range inside {
		os.Remove(filepath.Join(root, d))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".done"), nil, 0o644); err != nil {
		return k, err
	}
	if err := RemoveTree(cache); err != nil {
		return k, err
	}
	if err := os.Rename(tmp, cache); err != nil {
		return k, err
	}
	k.Dir = filepath.Join(cache, "root")
	k.Built, k.Took = true, time.Since(start)
	pruneLogged(filepath.Dir(cache), log)
	return k, nil
}

// AsRoot is k as a root a guest boots (scenario.DebianSystemd): its tree with the kernel
// installed, and the kernels in it.
func (k KernelRoot) AsRoot() (Root, error) {
	r := k.Root
	r.Dir = k.Dir
	var err error
	if r.Kernels, err = kernels(k.Dir); err != nil {
		return r, fmt.Errorf("the kernels of %s: %w", k.Dir, err)
	}
	return r, nil
}

// Chroot runs argv chrooted in root, isolated as debootstrap is here: its own mount and PID
// namespaces, a /proc of that PID namespace mounted in the private mount namespace only (gone
// with it), no sysfs and no device nodes but the ones debootstrap made, a clean environment.
// Output goes to log; the error carries its tail.
func Chroot(ctx context.Context, root string, log io.Writer, argv ...string) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if err := checkNoMounts(abs); err != nil {
		return err
	}
	args := append([]string{"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
		"--mount-proc=" + filepath.Join(abs, "proc"), "chroot", abs}, argv...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	var tail tailBuffer
	if log == nil {
		log = io.Discard
	}
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root", "TMPDIR=/tmp"}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chroot %s %s: %w\n%s", abs, strings.Join(argv, " "), err, tail.String())
	}
	return checkNoMounts(abs)
}

// DpkgVersions lists "package version" for the installed packages of root matching one of the
// names' prefixes, from its dpkg status file.
func DpkgVersions(root string, prefixes ...string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, st := range strings.Split(string(data), "\n\n") {
		var pkg, ver, status string
		for _, l := range strings.Split(st, "\n") {
			switch {
			case strings.HasPrefix(l, "Package: "):
				pkg = strings.TrimPrefix(l, "Package: ")
			case strings.HasPrefix(l, "Version: "):
				ver = strings.TrimPrefix(l, "Version: ")
			case strings.HasPrefix(l, "Status: "):
				status = strings.TrimPrefix(l, "Status: ")
			}
		}
		if status != "install ok installed" {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(pkg, p) {
				out[pkg] = ver
			}
		}
	}
	return out, nil
}
