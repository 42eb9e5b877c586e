package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The Debian guest on the Debian installer's "Guided - use entire disk and set up encrypted
// LVM" layout, as a laptop has it: / in the LV root of the VG guest-vg, in the LUKS2 volume
// vda1_crypt of the first disk (newDebianLUKS, laid out by the tools guest); /boot a plain ext4
// partition, here on a second disk (the installer puts it on the first, beside the ESP: the host
// reads the initramfs the guest builds out of it, as a boot loader would, which it cannot do
// through the encryption); the swap LV swap_1 blank, for hibernate setup. /etc/crypttab and
// /etc/fstab are the installer's. The .deb the guest installs is on a third disk, read-only, so
// that the encrypted disk holds nothing of this build: made once, it serves every commit.

// EncryptedLVMRoot puts the DebianSystemd guest on that layout. Its first boot has hibernate's
// initramfs built on the host (a cross build with --luks, --lvm and --tools-root: the guest
// root's own cryptsetup and lvm), and every boot answers /init's passphrase prompt. Give it with
// DebianSystemd and FromPackage.
func EncryptedLVMRoot() Option { return func(c *Config) { c.EncryptedRoot = true } }

// The labels of the Debian guest's plain disks, by which its fstab mounts them, and where the
// package disk is mounted.
const (
	debianBootLabel     = "boot"
	debianPackagesLabel = "packages"
	debianPackagesDir   = "/srv/packages"
)

// debianLUKSFiles are the installer's /etc/crypttab and /etc/fstab for l (no swap line: the swap
// LV is blank until hibernate setup, which adds its own), and the package disk's mount.
func debianLUKSFiles(l *LUKS) []GuestFile {
	crypttab := fmt.Sprintf("%s UUID=%s none luks,discard\n", l.Name, l.UUID)
	fstab := strings.Join([]string{
		"# <file system> <mount point> <type> <options> <dump> <pass>",
		l.RootDevice() + " / ext4 errors=remount-ro 0 1",
		"LABEL=" + debianBootLabel + " /boot ext4 defaults 0 2",
		"LABEL=" + debianPackagesLabel + " " + debianPackagesDir + " ext4 ro,nofail 0 0",
		""}, "\n")
	return []GuestFile{{Path: "/etc/crypttab", Data: []byte(crypttab), Mode: 0o644}, {Path: "/etc/fstab", Data: []byte(fstab), Mode: 0o644}}
}

// encryptedDebianDisks makes the disks of an EncryptedLVMRoot guest from tree (the Debian tree,
// our programs in it), and the first boot's initramfs.
func (m *Machine) encryptedDebianDisks(ctx context.Context, g *Guest, dir, tree string) error {
	a := m.Artifacts
	boot := filepath.Join(dir, "boot-tree")
	if err := os.Rename(filepath.Join(tree, "boot"), boot); err != nil {
		return err
	}
	for _, d := range []string{"boot", debianPackagesDir} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	// The LUKS UUID is fixed by the tree (crypttab, written next, names it).
	th, err := treeHash(tree)
	if err != nil {
		return err
	}
	l := newDebianLUKS(luksUUIDFor(hashStrings(luksDebianRecipe, th)))
	if err := writeFiles(tree, debianLUKSFiles(l)); err != nil {
		return err
	}
	g.Initrd = filepath.Join(dir, "initrd.img-"+g.Release+".host-built")
	flags := append(append([]string{"--tools-root", tree}, l.InitramfsFlags()...), m.Config.InitrdFlags...)
	if _, err := buildInitramfs(ctx, a, g.Release, filepath.Join(tree, "lib/modules", g.Release), g.Initrd, flags...); err != nil {
		return err
	}
	d, err := luksDiskFor(ctx, a, l, tree, filepath.Join(dir, "disk.img"), m.say)
	if err != nil {
		return fmt.Errorf("the Debian guest's encrypted disk: %w", err)
	}
	g.Disk, g.Layout, g.LUKS = d.Disk, d.Layout, &d.LUKS
	g.BootDisk = filepath.Join(dir, "bootdisk.img")
	if g.BootLayout, err = guestdisk.Build(guestdisk.Spec{Path: g.BootDisk, SizeMiB: 256, RootTree: boot, RootLabel: debianBootLabel}); err != nil {
		return fmt.Errorf("build the /boot disk %s: %w", g.BootDisk, err)
	}
	if m.Config.Package == "" {
		return nil
	}
	pkgs := filepath.Join(dir, "packages-tree")
	if err := copyFile(m.Config.Package, filepath.Join(pkgs, filepath.Base(m.Config.Package)), 0o644); err != nil {
		return err
	}
	st, err := os.Stat(m.Config.Package)
	if err != nil {
		return err
	}
	disk := filepath.Join(dir, "packages.img")
	if _, err := guestdisk.Build(guestdisk.Spec{Path: disk, SizeMiB: int(st.Size()>>20)*2 + 16, RootTree: pkgs, RootLabel: debianPackagesLabel}); err != nil {
		return fmt.Errorf("build the package disk %s: %w", disk, err)
	}
	g.ExtraDisks = append(g.ExtraDisks, disk)
	return nil
}

// packageDir is where the Debian guest finds the .deb of FromPackage: in its root, or on the
// package disk of an EncryptedLVMRoot guest.
func (m *Machine) packageDir() string {
	if m.Config.EncryptedRoot {
		return debianPackagesDir
	}
	return guestPackageDir
}

// CheckInitramfsBringsUp checks, in the initramfs the guest built (UseGuestInitramfs), that
// what the build read from the guest's sysfs and crypttab is the disk's stack: the volume by
// crypttab's name and UUID with its discard, the root and swap LVs, cryptsetup and lvm.
func (m *Machine) CheckInitramfsBringsUp(_ context.Context, _ *harness.VM) error {
	l := m.Guest.LUKS
	ic, err := m.inspectInitrd()
	if err != nil {
		return err
	}
	cfg, ok := ic.Config()
	if !ok {
		return fmt.Errorf("%s holds no hibernate config", m.Guest.Initrd)
	}
	want := config.Volume{Name: l.Name, Source: "UUID=" + l.UUID, Discard: true}
	lvs := []string{l.VG + "/" + l.RootLV, l.VG + "/" + l.SwapLV}
	_, crypt := cfg.Tools["cryptsetup"]
	_, lvm := cfg.Tools["lvm"]
	if len(cfg.Volumes) != 1 || cfg.Volumes[0] != want || !slices.Equal(slices.Sorted(slices.Values(cfg.LVs)), lvs) || !crypt || !lvm {
		return fmt.Errorf("the guest's initramfs unlocks %+v and activates %q with %v; want %+v, %q, cryptsetup and lvm", cfg.Volumes, cfg.LVs, cfg.Tools, want, lvs)
	}
	what, _ := ic.ResumeSupport(m.Guest.Release)
	m.say("the initramfs the guest built: %s", what)
	return nil
}

// CheckSystemdSeesStack checks that the root's systemd took the devices /init brought up for its
// own: the device units of the LUKS volume and the LVs plugged (udev ran its rules for them:
// the records /init wrote), and each /dev/mapper name the link udev makes, not a node.
func (m *Machine) CheckSystemdSeesStack(ctx context.Context, vm *harness.VM) error {
	l := m.Guest.LUKS
	var seen []string
	for _, dev := range []string{"/dev/mapper/" + l.Name, l.RootDevice(), l.SwapDevice()} {
		r, err := run(ctx, vm, "systemd-escape", "--path", "--suffix=device", dev)
		if err != nil {
			return err
		}
		unit := strings.TrimSpace(r.Stdout)
		if r, err = vm.Run(ctx, "systemctl", "show", "-p", "SubState", "--value", unit); err != nil {
			return err
		}
		if state := strings.TrimSpace(r.Stdout); state != "plugged" {
			return vm.Fail("%s (%s) is %q to systemd, not plugged", unit, dev, state)
		}
		if r, err = run(ctx, vm, "readlink", dev); err != nil {
			return err
		}
		link := strings.TrimSpace(r.Stdout)
		if !strings.HasPrefix(link, "../dm-") {
			return vm.Fail("%s links to %q, not the ../dm-N udev makes", dev, link)
		}
		seen = append(seen, dev+" → "+link)
	}
	m.say("systemd has the devices /init made plugged: %s", strings.Join(seen, ", "))
	return nil
}
