package scenario

import (
	"context"
	"strings"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// KernelInstallEntry has kernel-install write the guest kernel's systemd-boot entry on the ESP
// with the initramfs in /boot as it is, the distribution's (dracut's, on
// debroot.SystemdBootDracutTrixieGuest): what systemd-boot's kernel hook does when a kernel is
// installed, and what an admin runs after changing /etc/kernel/cmdline. dracut's own
// kernel-install plugin builds nothing when it is given an initramfs. CheckSystemdBootEntry
// then compares the ESP's copy with /boot's.
func (m *Machine) KernelInstallEntry(ctx context.Context, vm *harness.VM) error {
	rel := m.Guest.Release
	argv := []string{"kernel-install", "add", rel, "/boot/vmlinuz-" + rel, m.guestInitrdPath()}
	r, err := run(ctx, vm, argv...)
	if err != nil {
		return err
	}
	m.say("%s: %s", strings.Join(argv, " "), strings.TrimSpace(r.Stdout+r.Stderr))
	m.guestInitrdSum, err = m.initrdSum(ctx, vm)
	return err
}
