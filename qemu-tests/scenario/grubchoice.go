package scenario

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// One UEFIGrub disk, hibernated once, resumed by either of two initramfs through the same
// firmware, GRUB and kernel (the firmware bench): the distribution's initramfs is kept beside
// ours in /boot, GRUB's configuration has a twin that boots it, and each copy of the hibernated
// disk is told which to read by the GRUB stub on its EFI system partition, changed from the host.
// The ESP is unmounted before the hibernation, so that no resumed system holds a cached copy of
// the FAT the host changed.

// DistInitrdSuffix names the distribution's initramfs kept beside ours: /boot/initrd.img-R.dist.
const DistInitrdSuffix = ".dist"

// espGrubStub is the GRUB configuration on the ESP that the signed GRUB of a removable install
// reads first ($cmdpath/grub.cfg: its built-in prefix, /EFI/debian, is absent there); grub-install
// writes it to find the root and read /boot/grub/grub.cfg.
const espGrubStub = "/EFI/BOOT/grub.cfg"

// grubStubConfigfile is the stub's line that reads update-grub's configuration, and distGrubCfg
// the twin of that configuration that boots the distribution's initramfs.
const (
	grubStubConfigfile = "configfile $prefix/grub.cfg"
	distGrubCfg        = "grub-dist.cfg"
)

// KeepDistributionInitrd copies the distribution's /boot/initrd.img-R (on the Debian guests,
// initramfs-tools', MODULES=most, made by the kernel package) to initrd.img-R.dist before
// hibernate initramfs build replaces it; run it before BuildInitramfsInGuest. It checks that what
// it keeps is not ours (our /init's marker is not in it).
func (m *Machine) KeepDistributionInitrd(ctx context.Context, vm *harness.VM) error {
	in := m.guestInitrdPath()
	if _, err := run(ctx, vm, "cp", "-p", in, in+DistInitrdSuffix); err != nil {
		return err
	}
	// initramfs-tools' own scripts, which ours has not.
	r, err := run(ctx, vm, "sh", "-c", "lsinitramfs "+in+DistInitrdSuffix+" | grep -c '^scripts/local-premount'")
	if err != nil {
		return err
	}
	sum, err := run(ctx, vm, "sha256sum", in+DistInitrdSuffix)
	if err != nil {
		return err
	}
	m.say("kept the distribution's initramfs as %s%s (sha256 %.12s; lsinitramfs lists %s of initramfs-tools' scripts/local-premount)",
		in, DistInitrdSuffix, sum.Stdout, strings.TrimSpace(r.Stdout))
	return nil
}

// WriteDistGrubConfig writes /boot/grub/grub-dist.cfg: update-grub's grub.cfg with each entry's
// initrd line for the guest's kernel naming initrd.img-R.dist, and nothing else changed. Run it
// after InstallGrub; it checks that the ESP's stub reads grub.cfg with the line UseDistGrubConfig
// changes.
func (m *Machine) WriteDistGrubConfig(ctx context.Context, vm *harness.VM) error {
	cfg, err := vm.ReadFile(ctx, "/boot/grub/grub.cfg")
	if err != nil {
		return err
	}
	dist, n := distGrubConfig(cfg, m.Guest.Release)
	if n == 0 {
		return vm.Fail("/boot/grub/grub.cfg has no initrd line for initrd.img-%s", m.Guest.Release)
	}
	if err := vm.WriteFile(ctx, "/boot/grub/"+distGrubCfg, dist, 0o644); err != nil {
		return err
	}
	stub, err := vm.ReadFile(ctx, "/boot/efi"+espGrubStub)
	if err != nil {
		return err
	}
	if !bytes.Contains(stub, []byte(grubStubConfigfile+"\n")) {
		return vm.Fail("the ESP's %s has no %q:\n%s", espGrubStub, grubStubConfigfile, stub)
	}
	m.say("/boot/grub/%s: grub.cfg with %d initrd line(s) naming initrd.img-%s%s; the ESP's stub %s:\n%s", distGrubCfg, n,
		m.Guest.Release, DistInitrdSuffix, espGrubStub, indent(strings.TrimSpace(string(stub))))
	_, err = run(ctx, vm, "sync")
	return err
}

// distGrubConfig is cfg with each initrd line's /boot/initrd.img-release naming the kept copy,
// and how many lines it changed.
func distGrubConfig(cfg []byte, release string) ([]byte, int) {
	lines := strings.Split(string(cfg), "\n")
	n := 0
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "initrd" {
			for j, p := range f[1:] {
				if p == "/boot/initrd.img-"+release {
					f[1+j] = p + DistInitrdSuffix
					lines[i] = strings.Replace(l, p, f[1+j], 1)
					n++
				}
			}
		}
	}
	return []byte(strings.Join(lines, "\n")), n
}

// UnmountESP unmounts /boot/efi, for the host to change the ESP of the hibernated disk's copies
// (UseDistGrubConfig): a system resumed with the FAT mounted would write its cached copy back.
func (m *Machine) UnmountESP(ctx context.Context, vm *harness.VM) error {
	if _, err := run(ctx, vm, "umount", "/boot/efi"); err != nil {
		return err
	}
	if r, err := vm.Run(ctx, "findmnt", "/boot/efi"); err != nil || r.Exit == 0 {
		return vm.Fail("/boot/efi is still mounted after umount (%v)", err)
	}
	m.say("/boot/efi unmounted: the ESP is not part of the hibernated system")
	return nil
}

// UseDistGrubConfig makes the next boot of m's disk (off: a copy of a hibernated one) read
// grub-dist.cfg, which boots the distribution's initramfs: the ESP's stub, changed from the host
// and read back.
func (m *Machine) UseDistGrubConfig() error {
	stub, err := guestdisk.ReadESPFile(m.Guest.Disk, espGrubStub)
	if err != nil {
		return err
	}
	if bytes.Count(stub, []byte(grubStubConfigfile+"\n")) != 1 {
		return fmt.Errorf("the ESP's %s of %s has no single %q:\n%s", espGrubStub, m.Guest.Disk, grubStubConfigfile, stub)
	}
	dist := bytes.Replace(stub, []byte(grubStubConfigfile), []byte("configfile $prefix/"+distGrubCfg), 1)
	return guestdisk.WriteESPFile(m.Guest.Disk, espGrubStub, dist)
}
