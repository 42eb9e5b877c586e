package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The firmware guests boot as a UEFI machine does: OVMF (Debian's ovmf package, its code read
// only, a copy of its variable store per guest), the EFI system partition of the guest's disk,
// GRUB installed there by the guest itself (grub-install --removable: EFI/BOOT/BOOTX64.EFI,
// the path the firmware boots without a boot entry), reading the guest's /boot/grub/grub.cfg
// that update-grub wrote, and the kernel and initramfs of the guest's /boot. Nothing of the boot
// is the harness's: the command line is GRUB's.
//
// The first boot, which installs GRUB, goes the PVH way of the other guests (there is no boot
// loader yet, as an installer's boot has none); the image is made and taken under the firmware
// (a PVH boot's memory map is another, and the kernel refuses an image made under another).

// The firmware's files, from Debian's ovmf package (deps.sh installs it): 4 MiB flash, without
// Secure Boot; and with it, its variables with Microsoft's keys enrolled (which sign Debian's
// shim) and Secure Boot on, as a laptop ships.
const (
	ovmfCode       = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars       = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	ovmfSecureCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
	ovmfSecureVars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
)

// espMiB is the size of the firmware guests' EFI system partition: GRUB's files are 4 MB.
const espMiB = 64

// firmwareAgentWithin is how long a boot through the firmware may take for the agent to answer:
// OVMF and GRUB under TCG, then the kernel's decompressor (xz: 8 s), on top of a Debian boot.
const firmwareAgentWithin = 4 * time.Minute

// UEFIGrub makes the DebianSystemd guest a UEFI machine booting GRUB (give it with
// DebianSystemd(root) of debroot.SystemdEFIGuest()): its disk gets an EFI system partition,
// InstallGrub installs GRUB, and every boot after goes through the firmware.
func UEFIGrub() Option { return func(c *Config) { c.UEFI = true } }

// BIOSGrub makes the DebianSystemd guest a BIOS machine booting GRUB (give it with
// DebianSystemd(root) of debroot.SystemdBIOSGuest()): its GPT disk gets a BIOS boot partition,
// InstallGrub installs GRUB into it, and every boot after starts in QEMU's BIOS (SeaBIOS).
func BIOSGrub() Option { return func(c *Config) { c.BIOS = true } }

// biosBootMiB is the BIOS boot partition: GRUB's core image is some 100 KiB.
const biosBootMiB = 1

// UEFISecureBoot is UEFIGrub with Secure Boot on: OVMF built with it and Microsoft's keys
// enrolled. The guest boots Debian's signed shim, GRUB and kernel, which then locks itself down.
func UEFISecureBoot() Option { return func(c *Config) { c.UEFI, c.SecureBoot = true, true } }

// firmwareFiles gives g the firmware and its own variable store, a copy in dir.
func firmwareFiles(g *Guest, dir string, secureBoot bool) error {
	code, store := ovmfCode, ovmfVars
	if secureBoot {
		code, store = ovmfSecureCode, ovmfSecureVars
	}
	vars := filepath.Join(dir, "OVMF_VARS.fd")
	if err := copyFile(store, vars, 0o644); err != nil {
		return fmt.Errorf("the guest's UEFI variable store: %w (deps.sh installs ovmf)", err)
	}
	g.Firmware = &harness.Firmware{Code: code, Vars: vars, SMM: secureBoot}
	return nil
}

// bootChain names how the next boot goes, for the progress lines.
func (m *Machine) bootChain() string {
	if m.viaFirmware && m.Config.BIOS {
		return "BIOS: SeaBIOS, GRUB from the disk (its MBR, its core image in the BIOS boot partition), /boot/grub/grub.cfg, the kernel and initramfs of its entry in /boot"
	}
	if m.viaFirmware && m.Config.SystemdBoot {
		return "UEFI: OVMF, systemd-boot from the ESP (EFI/BOOT/BOOTX64.EFI), its entry by kernel-install (loader/entries), the kernel and initramfs kernel-install copied to the ESP"
	}
	if m.viaFirmware {
		sb := ""
		if m.Config.SecureBoot {
			sb = " with Secure Boot (Microsoft's keys)"
		}
		return fmt.Sprintf("UEFI: OVMF%s, shim and GRUB from the ESP (EFI/BOOT/BOOTX64.EFI), /boot/grub/grub.cfg, the kernel and initramfs of its entry in /boot", sb)
	}
	if !strings.HasSuffix(m.Guest.Kernel, ".pvh-vmlinux") {
		return "SeaBIOS: QEMU's -kernel loader, the bzImage " + filepath.Base(m.Guest.Kernel) + ", " + filepath.Base(m.Guest.Initrd)
	}
	return "PVH: the kernel's ELF entry, " + filepath.Base(m.Guest.Initrd)
}

// InstallGrub installs GRUB as an admin does on a UEFI machine: grub-install --removable on the
// ESP (mounted at /boot/efi by the guest's fstab; no boot entry is written, the firmware boots
// the fallback path), then update-grub. --uefi-secure-boot installs Debian's signed shim as the
// loader and its signed GRUB, as the installer does (grub-install would choose them only when
// running under Secure Boot, and this boot has no firmware). It checks that grub.cfg boots the
// guest's kernel with what setup put into /etc/default/grub (run SetupSwap with
// --write-boot-config before), and makes the next boots go through the firmware.
//
// On a BIOSGrub guest: grub-install --target=i386-pc /dev/vda (its boot code in the MBR, its
// core image in the BIOS boot partition), then update-grub.
func (m *Machine) InstallGrub(ctx context.Context, vm *harness.VM) error {
	argv := []string{"grub-install", "--target=x86_64-efi", "--removable", "--no-nvram", "--uefi-secure-boot", "--efi-directory=/boot/efi"}
	if m.Config.BIOS {
		argv = []string{"grub-install", "--target=i386-pc", "/dev/vda"}
	}
	r, err := run(ctx, vm, argv...)
	if err != nil {
		return err
	}
	m.say("%s: %s", strings.Join(argv, " "), strings.TrimSpace(r.Stdout+r.Stderr))
	if r, err = run(ctx, vm, "update-grub"); err != nil {
		return err
	}
	m.say("update-grub:\n%s", indent(strings.TrimSpace(r.Stdout+r.Stderr)))
	return m.checkGrubConfig(ctx, vm)
}

// checkGrubConfig wants the guest's kernel in grub.cfg with setup's kernel parameters, and the
// fallback loader on the ESP; from now on the guest boots through the firmware.
func (m *Machine) checkGrubConfig(ctx context.Context, vm *harness.VM) error {
	cfg, err := vm.ReadFile(ctx, "/boot/grub/grub.cfg")
	if err != nil {
		return err
	}
	linux := ""
	for _, l := range strings.Split(string(cfg), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "linux" && strings.HasSuffix(f[1], "/vmlinuz-"+m.Guest.Release) {
			linux = strings.TrimSpace(l)
			break
		}
	}
	switch {
	case linux == "":
		return vm.Fail("/boot/grub/grub.cfg has no linux line for vmlinuz-%s", m.Guest.Release)
	case m.Setup.KernelParams != "" && !strings.Contains(linux, m.Setup.KernelParams):
		return vm.Fail("/boot/grub/grub.cfg boots %q, without setup's %s", linux, m.Setup.KernelParams)
	}
	for _, f := range []string{"BOOTX64.EFI", "grubx64.efi"} {
		if m.Config.BIOS {
			break
		}
		if _, err := run(ctx, vm, "test", "-s", "/boot/efi/EFI/BOOT/"+f); err != nil {
			return err
		}
	}
	m.say("grub.cfg: %s", linux)
	m.viaFirmware = true
	return nil
}

// CheckFirmwareBoot checks that this boot came through the firmware and GRUB: GRUB's welcome or
// its "Booting `…'" and then the booting kernel's command line, grub.cfg's (GRUB's BOOT_IMAGE=, setup's kernel
// parameters), on its console; and that the running kernel (after a resume, the one that
// hibernated) has EFI (/sys/firmware/efi) and that command line too. It notes when GRUB and the
// kernel started. The kernel GRUB booted is the root's own (CheckFirmwareBootOf for another); the
// running one is the machine's first boot's (Release: after a resume, the one that hibernated).
func (m *Machine) CheckFirmwareBoot(ctx context.Context, vm *harness.VM) error {
	return m.CheckFirmwareBootOf(m.Guest.Release)(ctx, vm)
}

// CheckFirmwareBootOf is CheckFirmwareBoot where GRUB booted kernel release (after a kexec and a
// resume, the running one is another: Release).
func (m *Machine) CheckFirmwareBootOf(release string) Step {
	return func(ctx context.Context, vm *harness.VM) error { return m.checkFirmwareBoot(ctx, vm, release) }
}

func (m *Machine) checkFirmwareBoot(ctx context.Context, vm *harness.VM, release string) error {
	grubAt, kernelAt := FirmwareBootTimes(vm.ConsoleTimedLines(), release, m.Setup.KernelParams)
	if kernelAt == 0 {
		return vm.Fail("the console shows no %q or %q, then GRUB's command line for vmlinuz-%s with %s", grubWelcome, grubBooting, release, m.Setup.KernelParams)
	}
	m.say("through the firmware: GRUB %s after power on, then vmlinuz-%s %s", grubAt.Round(100*time.Millisecond), release, kernelAt.Round(100*time.Millisecond))
	efi := "/sys/firmware/efi"
	switch r, err := vm.Run(ctx, "test", "-d", efi); {
	case err != nil:
		return err
	case m.Config.BIOS && r.Exit == 0:
		return vm.Fail("a BIOS boot has %s", efi)
	case !m.Config.BIOS && r.Exit != 0:
		return vm.Fail("not booted through UEFI: no %s", efi)
	}
	b, err := vm.ReadFile(ctx, "/proc/cmdline")
	if err != nil {
		return err
	}
	cmdline := strings.TrimSpace(string(b))
	if !strings.Contains(cmdline, "BOOT_IMAGE=/boot/vmlinuz-"+m.Release) || !strings.Contains(cmdline, m.Setup.KernelParams) {
		return vm.Fail("/proc/cmdline %q is not GRUB's with %s", cmdline, m.Setup.KernelParams)
	}
	m.say("the running kernel has GRUB's command line (and EFI: %v): %s", !m.Config.BIOS, cmdline)
	return nil
}

// SecondKernel installs kernel k in the UEFIGrub guest beside the root's own, as a dist-upgrade's
// new kernel package leaves it: /boot/vmlinuz-R, config-R, System.map-R and the modules in
// /lib/modules/R, put in the tree; InstallSecondKernel runs what the package's postinst would.
// GRUB's default is then the newer of the two.
func SecondKernel(k Kernel) Option { return func(c *Config) { c.SecondKernel = &k } }

// secondKernelFiles puts c.SecondKernel's files into tree (hard links: nothing in the run
// changes them), and the index of its modules that the package's postinst makes (depmod), made
// here by the host's depmod into the tree: in the guest, depmod of 4,421 .ko.xz under emulation
// took most of 6.5 minutes (a loaded host), here seconds. depmod -b writes new files beside the
// links, never into them.
func secondKernelFiles(ctx context.Context, k *Kernel, tree string) error {
	mods := filepath.Join(tree, "lib/modules", k.Release)
	if err := os.MkdirAll(filepath.Dir(mods), 0o755); err != nil {
		return err
	}
	if err := command(ctx, "", "cp", "-al", k.ModulesDir, mods); err != nil {
		return err
	}
	depmod := "depmod"
	for _, p := range []string{"/usr/sbin/depmod", "/sbin/depmod"} {
		if _, err := os.Stat(p); err == nil {
			depmod = p
			break
		}
	}
	if err := command(ctx, "", depmod, "-b", tree, k.Release); err != nil {
		return fmt.Errorf("the module index of %s (deps.sh installs kmod): %w", k.Release, err)
	}
	if _, err := os.Stat(filepath.Join(mods, "modules.dep")); err != nil {
		return fmt.Errorf("depmod -b %s %s made no modules.dep: %w", tree, k.Release, err)
	}
	for _, f := range []string{"vmlinuz-", "config-", "System.map-"} {
		src := filepath.Join(filepath.Dir(k.Image), f+k.Release)
		if err := copyFile(src, filepath.Join(tree, "boot", f+k.Release), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// InstallSecondKernel does in the guest what the second kernel's package does after unpacking
// (its postinst), its depmod aside (made on the host, secondKernelFiles): the kernel hooks of
// /etc/kernel/postinst.d, of which hibernate's (zz-hibernate, from make install) builds
// hibernate's initramfs for it. initramfs-tools' own hook is left out (minutes under
// emulation, and ours replaces what it makes); update-grub runs in InstallGrub. It checks that
// the hook left an initramfs for the kernel.
func (m *Machine) InstallSecondKernel(ctx context.Context, vm *harness.VM) error {
	k := m.Config.SecondKernel
	t0 := time.Now()
	r, err := run(ctx, vm, "/etc/kernel/postinst.d/zz-hibernate", k.Release, "/boot/vmlinuz-"+k.Release)
	if err != nil {
		return err
	}
	if _, err := run(ctx, vm, "test", "-s", "/boot/initrd.img-"+k.Release); err != nil {
		return err
	}
	m.say("kernel %s installed in %s (zz-hibernate: %s)", k.Release, time.Since(t0).Round(100*time.Millisecond), strings.TrimSpace(r.Stdout+r.Stderr))
	return nil
}

// BootOnce has GRUB boot kernel release at the next boot only (grub-reboot; the default entry
// after it).
func (m *Machine) BootOnce(release string) Step {
	return func(ctx context.Context, vm *harness.VM) error {
		entry := "Debian GNU/Linux, with Linux " + release
		if _, err := run(ctx, vm, "grub-reboot", entry); err != nil {
			return err
		}
		m.say("grub-reboot %q: the next boot only", entry)
		return nil
	}
}

// What GRUB says on the serial console: its welcome (under UEFI; from a BIOS it goes to the
// screen only), then the entry it boots.
const (
	grubWelcome = "Welcome to GRUB!"
	grubBooting = "Booting `"
)

// FirmwareBootTimes reads a boot through the firmware and GRUB on its console: when GRUB said its
// welcome (or "Booting `…'"), then when the kernel printed GRUB's command line for
// vmlinuz-release with params, both since QEMU started; 0 where the console shows no such line.
func FirmwareBootTimes(lines []harness.TimedLine, release, params string) (grubAt, kernelAt time.Duration) {
	for _, l := range lines {
		switch {
		case grubAt == 0 && (strings.Contains(l.Text, grubWelcome) || strings.Contains(l.Text, grubBooting)):
			grubAt = l.At
		case grubAt != 0 && strings.Contains(l.Text, "Command line: BOOT_IMAGE=/boot/vmlinuz-"+release) && strings.Contains(l.Text, params):
			return grubAt, l.At
		}
	}
	return grubAt, 0
}

// PowerOffForFirmware powers the guest off through its agent, for the next boot to go through
// the firmware: that one is the machine's first, the one that will hibernate (its boot ID the
// one to find after the resume).
func (m *Machine) PowerOffForFirmware(ctx context.Context, vm *harness.VM) error {
	if err := vm.PowerOff(ctx); err != nil {
		return err
	}
	if _, err := vm.WaitExit(ctx); err != nil {
		return err
	}
	m.BootID, m.Release = "", ""
	return nil
}
