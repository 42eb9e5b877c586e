package scenario

import (
	"context"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The systemd-boot guest (Debian 13): OVMF boots systemd-boot from the ESP's fallback path
// (bootctl install, no boot entry written), which boots the entry kernel-install wrote: the kernel
// and initramfs it copied to the ESP, with /etc/kernel/cmdline's options. Nothing of the boot is
// the harness's. hibernate setup --write-boot-config makes /etc/kernel/cmdline; hibernate
// initramfs build runs the boot loaders' hooks, systemd-boot's among them, which has
// kernel-install copy the new initramfs to the ESP.

// UEFISystemdBoot makes the DebianSystemd guest (give it DebianSystemd(root) of
// debroot.SystemdBootTrixieGuest()) a UEFI machine booting systemd-boot: an EFI system partition,
// InstallSystemdBoot, and every boot after CheckSystemdBootEntry through the firmware.
func UEFISystemdBoot() Option { return func(c *Config) { c.UEFI, c.SystemdBoot = true, true } }

// The ESP, as the guest mounts it, and systemd-boot's variables (its Boot Loader Interface).
const (
	guestESP               = "/boot/efi"
	loaderEntrySelectedVar = "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
	loaderInfoVar          = "LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
)

// InstallSystemdBoot installs systemd-boot as an admin does on a UEFI machine: bootctl install
// on the ESP, without EFI variables (this first boot has no firmware: the PVH way, as an
// installer's), so the firmware boots its fallback path EFI/BOOT/BOOTX64.EFI. Run it before
// SetupSwap, which then makes /etc/kernel/cmdline for kernel-install.
func (m *Machine) InstallSystemdBoot(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "bootctl", "install", "--no-variables", "--esp-path="+guestESP)
	if err != nil {
		return err
	}
	m.say("bootctl install --no-variables --esp-path=%s:\n%s", guestESP, indent(strings.TrimSpace(r.Stdout+r.Stderr)))
	for _, f := range []string{"/EFI/systemd/systemd-bootx64.efi", "/EFI/BOOT/BOOTX64.EFI"} {
		if _, err := run(ctx, vm, "test", "-s", guestESP+f); err != nil {
			return err
		}
	}
	// As grubDefaults for the GRUB guests: a headless machine's loader.conf. Once in a run of
	// two, systemd-boot 257 booted its "Reboot Into Firmware Interface" entry instead of the
	// kernel's (OVMF's setup then, no kernel; cause not found): with no menu and no such entry,
	// the default entry is the kernel's, and a failure to find it is said on the console.
	if err := vm.WriteFile(ctx, guestESP+"/loader/loader.conf", []byte(systemdBootLoaderConf), 0o644); err != nil {
		return err
	}
	return nil
}

// systemdBootLoaderConf is the systemd-boot guests' loader.conf (loader.conf(5)).
const systemdBootLoaderConf = `# hibernate's tests: a headless machine, the kernel's entry booted at once
timeout menu-disabled
auto-firmware no
`

// CheckSystemdBootEntry reads the entries kernel-install wrote on the ESP (run it after
// BuildInitramfsInGuest): the guest kernel's must have setup's kernel parameters and the root in
// its options, and name an initramfs on the ESP byte-identical to /boot/initrd.img-R (ours, or
// the distribution's: KernelInstallEntry). From then on the guest boots through the firmware.
func (m *Machine) CheckSystemdBootEntry(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "sh", "-c", "grep -l '^linux .*/"+m.Guest.Release+"/' "+guestESP+"/loader/entries/*.conf")
	if err != nil {
		return err
	}
	entries := strings.Fields(r.Stdout)
	if len(entries) != 1 {
		return vm.Fail("%d entries for %s on the ESP: %v", len(entries), m.Guest.Release, entries)
	}
	b, err := vm.ReadFile(ctx, entries[0])
	if err != nil {
		return err
	}
	var options, initrd string
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		switch k {
		case "options":
			options = strings.TrimSpace(v)
		case "initrd":
			initrd = strings.TrimSpace(v)
		}
	}
	switch {
	case !strings.Contains(options, m.Setup.KernelParams) || !strings.Contains(options, "root="):
		return vm.Fail("%s: options %q, want the root and setup's %s\n%s", entries[0], options, m.Setup.KernelParams, b)
	case initrd == "":
		return vm.Fail("%s names no initrd:\n%s", entries[0], b)
	}
	sum, err := run(ctx, vm, "sha256sum", guestESP+initrd)
	if err != nil {
		return err
	}
	if got, _, _ := strings.Cut(strings.TrimSpace(sum.Stdout), " "); got != m.guestInitrdSum {
		return vm.Fail("the ESP's %s has sha256 %s, /boot/initrd.img-%s %s: the boot loader would not run it", initrd, got, m.Guest.Release, m.guestInitrdSum)
	}
	m.say("systemd-boot's entry %s: options %s; initrd %s, /boot/initrd.img-%s (sha256 %.12s)", entries[0], options, initrd, m.Guest.Release, m.guestInitrdSum)
	m.viaFirmware = true
	return nil
}

// CheckSystemdBootBoot checks that this boot came through the firmware and systemd-boot: EFI, the
// Boot Loader Interface's variables that systemd-boot sets (LoaderInfo, LoaderEntrySelected: the
// guest kernel's entry), and the entry's options on the running kernel's command line.
func (m *Machine) CheckSystemdBootBoot(ctx context.Context, vm *harness.VM) error {
	info, err := readEFIString(ctx, vm, loaderInfoVar)
	if err != nil {
		return err
	}
	entry, err := readEFIString(ctx, vm, loaderEntrySelectedVar)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(info, "systemd-boot ") || !strings.Contains(entry, m.Guest.Release) {
		return vm.Fail("LoaderInfo %q, LoaderEntrySelected %q: not systemd-boot booting the entry of %s", info, entry, m.Guest.Release)
	}
	b, err := vm.ReadFile(ctx, "/proc/cmdline")
	if err != nil {
		return err
	}
	if cmdline := strings.TrimSpace(string(b)); !strings.Contains(cmdline, m.Setup.KernelParams) {
		return vm.Fail("/proc/cmdline %q has no %s", cmdline, m.Setup.KernelParams)
	}
	m.say("through the firmware: %s booted the entry %s (%s after power on)", info, entry, vmSince(vm))
	return nil
}

// readEFIString reads an EFI variable holding a UTF-16 string from the guest's efivarfs.
func readEFIString(ctx context.Context, vm *harness.VM, name string) (string, error) {
	b, err := vm.ReadFile(ctx, efivars.Path("/", name))
	if err != nil {
		return "", err
	}
	if len(b) < 4 {
		return "", vm.Fail("EFI variable %s: %d bytes", name, len(b))
	}
	return efivars.DecodeString(b[4:]), nil
}
