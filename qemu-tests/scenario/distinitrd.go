package scenario

import (
	"context"
	"regexp"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The steps of a machine hibernate's /init cannot boot (MDRAID1Root): the distribution's
// initramfs must stay as it is, byte for byte, whatever hibernate is asked to do.

// CheckMDRoot checks that / is the ext4 on an md RAID1 of both disks, in sync, and notes the
// sha256 of /boot/initrd.img-R (the distribution's, at the first call) to compare it with later.
func (m *Machine) CheckMDRoot(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "findmnt", "-n", "-o", "SOURCE,UUID", "/")
	if err != nil {
		return err
	}
	f := strings.Fields(r.Stdout)
	if len(f) != 2 || !strings.HasPrefix(f[0], "/dev/md") || f[1] != m.Guest.MD.FSUUID {
		return vm.Fail("/ is %q, want the ext4 %s on an md device", strings.TrimSpace(r.Stdout), m.Guest.MD.FSUUID)
	}
	md := strings.TrimPrefix(f[0], "/dev/")
	st, err := vm.ReadFile(ctx, "/proc/mdstat")
	if err != nil {
		return err
	}
	// md127 : active raid1 vdb1[1] vda1[0]
	//       1580032 blocks super 1.2 [2/2] [UU]
	re := regexp.MustCompile(`(?m)^` + md + ` : active raid1 (.*)\n.*super 1\.2 \[2/2\] \[UU\]`)
	mm := re.FindStringSubmatch(string(st))
	if mm == nil || !strings.Contains(mm[1], "vda1[") || !strings.Contains(mm[1], "vdb1[") {
		return vm.Fail("/proc/mdstat does not show %s as raid1 of vda1 and vdb1, both in sync:\n%s", md, st)
	}
	sum, err := m.initrdSum(ctx, vm)
	if err != nil {
		return err
	}
	switch {
	case m.guestInitrdSum == "":
		m.guestInitrdSum = sum
	case sum != m.guestInitrdSum:
		return vm.Fail("%s has sha256 %s, %s at the first boot", m.guestInitrdPath(), sum, m.guestInitrdSum)
	}
	m.say("/ is %s (raid1 of vda1 and vdb1, [UU]); %s sha256 %.12s; %s after power on", f[0], m.guestInitrdPath(), sum, vmSince(vm))
	return nil
}

func (m *Machine) initrdSum(ctx context.Context, vm *harness.VM) (string, error) {
	r, err := run(ctx, vm, "sha256sum", m.guestInitrdPath())
	if err != nil {
		return "", err
	}
	sum, _, _ := strings.Cut(strings.TrimSpace(r.Stdout), " ")
	return sum, nil
}

// initrdUnchanged checks that /boot/initrd.img-R is what CheckMDRoot saw, with nothing left
// beside it (hibernate initramfs build writes R.hibernate-new and renames it).
func (m *Machine) initrdUnchanged(ctx context.Context, vm *harness.VM, after string) error {
	sum, err := m.initrdSum(ctx, vm)
	if err != nil {
		return err
	}
	if sum != m.guestInitrdSum {
		return vm.Fail("%s: %s has sha256 %s, was %s", after, m.guestInitrdPath(), sum, m.guestInitrdSum)
	}
	r, err := run(ctx, vm, "ls", "-A", "/boot")
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(r.Stdout) {
		if strings.Contains(name, "hibernate") {
			return vm.Fail("%s: /boot has %s", after, name)
		}
	}
	return nil
}

// KernelHookKeepsInitrd runs hibernate's kernel hook as a kernel package's postinst runs it
// (run-parts /etc/kernel/postinst.d with R and /boot/vmlinuz-R): it must succeed (the kernel's
// installation goes on), say that it kept the distribution's initramfs and why (md RAID), and
// leave it byte for byte.
func (m *Machine) KernelHookKeepsInitrd(ctx context.Context, vm *harness.VM) error {
	rel := m.Guest.Release
	r, err := run(ctx, vm, "/etc/kernel/postinst.d/zz-hibernate", rel, "/boot/vmlinuz-"+rel)
	if err != nil {
		return err
	}
	said := r.Stdout + r.Stderr
	m.say("/etc/kernel/postinst.d/zz-hibernate %s (%s after power on):\n%s", rel, vmSince(vm), indent(said))
	for _, want := range []string{"kept the distribution's initramfs " + m.guestInitrdPath(), "exited 3", "md raid1", "does not assemble md RAID"} {
		if !strings.Contains(said, want) {
			return vm.Fail("the kernel hook did not say %q:\n%s", want, said)
		}
	}
	return m.initrdUnchanged(ctx, vm, "after the kernel hook")
}

// InitramfsBuildRefuses runs `hibernate initramfs build` by hand, as the guide says after the
// install: it must exit 3, naming md, and write nothing (CheckSaysDistributionInitrd, next,
// compares the initramfs).
func (m *Machine) InitramfsBuildRefuses(ctx context.Context, vm *harness.VM) error {
	r, err := vm.Run(ctx, m.Command("initramfs", "build")...)
	if err != nil {
		return err
	}
	said := r.Stdout + r.Stderr
	m.say("hibernate initramfs build: exit %d (%s after power on)\n%s", r.Exit, vmSince(vm), indent(said))
	if r.Exit != 3 || !strings.Contains(said, "refusing, nothing written") || !strings.Contains(said, "md raid1") || !strings.Contains(said, "does not assemble md RAID") {
		return vm.Fail("hibernate initramfs build exited %d, want 3 refusing md RAID:\n%s", r.Exit, said)
	}
	return nil // the initramfs compared after the check (CheckSaysDistributionInitrd): 5 s a sha256 under TCG
}

// CheckSaysDistributionInitrd runs `hibernate check`, which must fail (the machine has no swap)
// and say what want holds, of the initramfs among others (what it says today), leaving the
// initramfs as it was.
func (m *Machine) CheckSaysDistributionInitrd(want ...string) Step {
	return func(ctx context.Context, vm *harness.VM) error {
		r, err := vm.Run(ctx, m.Command("check")...)
		if err != nil {
			return err
		}
		said := r.Stdout + r.Stderr
		m.say("hibernate check: exit %d (%s after power on)\n%s", r.Exit, vmSince(vm), indent(said))
		if r.Exit == 0 {
			return vm.Fail("hibernate check passed on a machine whose initramfs does not resume:\n%s", said)
		}
		for _, w := range want {
			if !strings.Contains(said, w) {
				return vm.Fail("hibernate check did not say %q:\n%s", w, said)
			}
		}
		return m.initrdUnchanged(ctx, vm, "after hibernate initramfs build and hibernate check")
	}
}

// NotOurInit checks that the boot's console has no line of hibernate's /init: the initramfs that
// booted is the distribution's.
func (m *Machine) NotOurInit(_ context.Context, vm *harness.VM) error {
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, config.InitMarker) {
			return vm.Fail("hibernate's /init ran: %q", l)
		}
	}
	m.say("no %q on the console: the distribution's initramfs booted", config.InitMarker)
	return nil
}
