package scenario

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Steps of systemd's own hibernation (systemctl hibernate, as the desktop's menu, the lid and
// a low battery ask logind for it) going through hibernate prepare: the drop-ins of
// make install and of the package (dist/systemd/sleep-dropin.conf.in).

// sleepService is the unit logind's hibernation runs, whose ExecStartPre is hibernate prepare.
const sleepService = "systemd-hibernate.service"

// CheckCanHibernate asks logind, as a desktop does before it shows Hibernate: CanHibernate
// must answer "yes" (systemd's own rules: swap space, the resume device, EFI or not).
func (m *Machine) CheckCanHibernate(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "busctl", "call", "org.freedesktop.login1", "/org/freedesktop/login1",
		"org.freedesktop.login1.Manager", "CanHibernate")
	if err != nil {
		return err
	}
	got := strings.TrimSpace(r.Stdout)
	m.say("logind CanHibernate: %s", got)
	if got != `s "yes"` {
		return vm.Fail("logind's CanHibernate answers %s, want \"yes\" on a machine hibernate setup prepared", got)
	}
	return nil
}

// CheckResumeLeftByInit checks, on a boot with no image, that our /init left the swap's device
// in /sys/power/resume for the next hibernation, as initramfs-tools does (logind without EFI
// answers CanHibernate "yes" only then), and said so on the console.
func (m *Machine) CheckResumeLeftByInit(ctx context.Context, vm *harness.VM) error {
	want, err := guestDevT(ctx, vm, m.swapDevice())
	if err != nil {
		return err
	}
	got, err := vm.ReadFile(ctx, "/sys/power/resume")
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(got)) != want {
		return vm.Fail("/sys/power/resume is %q after a boot with no image, want the swap's %s", strings.TrimSpace(string(got)), want)
	}
	line, err := vm.WaitConsole(ctx, resume.NextHibernation)
	if err != nil {
		return err
	}
	m.say("/sys/power/resume is %s: %s", want, strings.TrimSpace(line))
	return nil
}

// guestDevPath is the node of a block device in the guest, named by its path (through links)
// or by a PARTUUID=, UUID= or LABEL= spec (findfs).
func guestDevPath(ctx context.Context, vm *harness.VM, dev string) (string, error) {
	argv := []string{"readlink", "-f", dev}
	if strings.Contains(dev, "=") {
		argv = []string{"findfs", dev}
	}
	r, err := run(ctx, vm, argv...)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(r.Stdout), nil
}

// guestDevT is the MAJ:MIN of a block device in the guest (guestDevPath's names).
func guestDevT(ctx context.Context, vm *harness.VM, dev string) (string, error) {
	p, err := guestDevPath(ctx, vm, dev)
	if err != nil {
		return "", err
	}
	b, err := vm.ReadFile(ctx, "/sys/class/block/"+path.Base(p)+"/dev")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// guestState is what a refused hibernation must leave as it was: the first MiB of the swap
// device (its header and our record) by sha256, and the /sys/power settings.
func (m *Machine) guestState(ctx context.Context, vm *harness.VM) (string, error) {
	dev, err := guestDevPath(ctx, vm, m.swapDevice())
	if err != nil {
		return "", err
	}
	r, err := run(ctx, vm, "sh", "-c", "head -c 1048576 "+dev+" | sha256sum; cat /sys/power/disk /sys/power/resume /sys/power/resume_offset /sys/power/image_size")
	if err != nil {
		return "", err
	}
	return r.Stdout, nil
}

// SystemctlHibernateRefused takes away what the next boot needs (the initramfs of the running
// kernel: a machine that would not come back) and asks for the hibernation as the desktop
// does: hibernate prepare must fail systemd-hibernate.service with the reason in its journal,
// before systemd-sleep runs; the guest stays up, the job goes on, and the swap's first MiB and
// /sys/power are byte for byte as before. Then the initramfs is put back.
func (m *Machine) SystemctlHibernateRefused(ctx context.Context, vm *harness.VM) error {
	before, err := m.guestState(ctx, vm)
	if err != nil {
		return err
	}
	initrd := m.guestInitrdPath()
	if _, err := run(ctx, vm, "mv", initrd, initrd+".away"); err != nil {
		return err
	}
	mark := len(vm.ConsoleLines())
	if _, err := run(ctx, vm, "systemctl", "hibernate"); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := vm.Run(ctx, "systemctl", "show", "-P", "Result", sleepService)
		if err != nil {
			return err
		}
		if res := strings.TrimSpace(r.Stdout); res != "success" && res != "" {
			m.say("%s: Result=%s", sleepService, res)
			break
		}
		if time.Now().After(deadline) {
			return vm.Fail("%s never failed after systemctl hibernate with no initramfs for the next boot", sleepService)
		}
		time.Sleep(time.Second)
	}
	j, err := m.unitJournal(ctx, vm, sleepService, 6, "refusing systemd-sleep hibernate", "initramfs: no initramfs for the running kernel")
	if err != nil {
		return err
	}
	if strings.Contains(j, "Performing sleep operation") || strings.Contains(j, "Entering sleep state") {
		return vm.Fail("systemd-sleep ran after the refusal:\n%s", j)
	}
	after, err := m.guestState(ctx, vm)
	if err != nil {
		return err
	}
	if after != before {
		return vm.Fail("the refused hibernation changed the swap or /sys/power:\nbefore %q\nafter  %q", before, after)
	}
	if _, err := waitJobLine(ctx, vm, mark, func(demojob.Line) bool { return true }); err != nil {
		return err
	}
	m.say("refused: the guest is up, the job goes on, the swap's first MiB and /sys/power unchanged")
	if _, err := run(ctx, vm, "mv", initrd+".away", initrd); err != nil {
		return err
	}
	_, err = run(ctx, vm, "systemctl", "reset-failed", sleepService)
	return err
}

// SystemctlHibernate hibernates as the desktop's menu does, through logind (systemctl
// hibernate), and waits for the guest to power off.
func (m *Machine) SystemctlHibernate(ctx context.Context, vm *harness.VM) error {
	start := time.Now()
	if _, err := vm.Spawn(ctx, NowOut, "systemctl", "hibernate"); err != nil {
		return err
	}
	return m.waitHibernated(ctx, vm, start, "systemctl hibernate")
}

// logindPowerKey is the drop-in that makes logind hibernate on the power key, as a laptop's
// user sets it (or HandleLidSwitch=hibernate for the lid).
const (
	logindPowerKey     = "/etc/systemd/logind.conf.d/50-power-key-hibernates.conf"
	logindWatchesPower = "(Power Button)" // logind's "Watching system buttons on /dev/input/eventN (Power Button)"
	logindPowerPressed = "Power key pressed"
)

// PowerKeyHibernate hibernates as a laptop's power key does: logind told HandlePowerKey=hibernate
// (a drop-in, then logind restarted), and, once logind watches the ACPI power button again, the
// button pressed through QMP (system_powerdown); then it waits for the guest to power off.
// logind runs systemd-hibernate.service for it, as for systemctl hibernate, and the lid's
// HandleLidSwitch takes the same way; QEMU has no ACPI lid (PNP0C0D) to close, so the power key
// is the button the tests can press.
func (m *Machine) PowerKeyHibernate(ctx context.Context, vm *harness.VM) error {
	watching := func() (int, error) {
		r, err := run(ctx, vm, "journalctl", "-b", "-u", "systemd-logind", "-o", "cat", "--no-pager")
		return strings.Count(r.Stdout, logindWatchesPower), err
	}
	before, err := watching()
	if err != nil {
		return err
	}
	if _, err := run(ctx, vm, "mkdir", "-p", path.Dir(logindPowerKey)); err != nil {
		return err
	}
	if err := vm.WriteFile(ctx, logindPowerKey, []byte("[Login]\nHandlePowerKey=hibernate\n"), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, vm, "systemctl", "restart", "systemd-logind"); err != nil {
		return err
	}
	for n := before; n <= before; {
		select {
		case <-ctx.Done():
			return vm.Fail("logind, restarted, does not watch the power button (%q in its journal): %v", logindWatchesPower, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		if n, err = watching(); err != nil {
			return err
		}
	}
	m.say("logind watches the power button, HandlePowerKey=hibernate (%s): pressing it (QMP system_powerdown)", logindPowerKey)
	start := time.Now()
	if _, err := vm.QMP(ctx, "system_powerdown", nil); err != nil {
		return err
	}
	return m.waitHibernated(ctx, vm, start, "the power key")
}

// CheckPowerKeyInJournal reads, after the resume, that logind saw the power key and hibernated
// for it.
func (m *Machine) CheckPowerKeyInJournal(ctx context.Context, vm *harness.VM) error {
	_, err := m.unitJournal(ctx, vm, "systemd-logind", 4, logindPowerPressed)
	return err
}

// CheckRecordOfThisBoot reads the image's record from the host: it names the boot that
// hibernated (not setup's, of an earlier boot) and its kernel. (Our /init stamps each boot's at
// boot; hibernate prepare restamps where that boot's initramfs did not, as a distribution's.)
func (m *Machine) CheckRecordOfThisBoot(context.Context, *harness.VM) error {
	area, err := m.SwapArea()
	if err != nil {
		return err
	}
	rec := area.Record
	switch {
	case rec == nil:
		return fmt.Errorf("the image has no record of ours (problems: %v)", area.Problems)
	case rec.BootID != m.BootID || rec.KernelRelease != m.Guest.Release:
		return fmt.Errorf("the image's record names boot %s of %s, want %s of %s", rec.BootID, rec.KernelRelease, m.BootID, m.Guest.Release)
	}
	m.say("the image's record names this boot (%s) of %s, stamped %s", rec.BootID, rec.KernelRelease, rec.Stamped.Format(time.RFC3339))
	return nil
}

// CheckPrepareInJournal reads, after the resume, what hibernate prepare said in the journal of
// systemd-hibernate.service before systemd-sleep wrote the image.
func (m *Machine) CheckPrepareInJournal(ctx context.Context, vm *harness.VM) error {
	_, err := m.unitJournal(ctx, vm, sleepService, 8, "hibernate prepare (for systemd-sleep hibernate): checking", "ready: systemd-sleep hibernate writes the image now")
	return err
}

// unitJournal reads this boot's journal of unit (systemd-hibernate.service, systemd-logind),
// which must hold each of wants, and shows its last n lines.
func (m *Machine) unitJournal(ctx context.Context, vm *harness.VM, unit string, n int, wants ...string) (string, error) {
	j, err := run(ctx, vm, "journalctl", "-b", "-u", unit, "-o", "cat", "--no-pager")
	if err != nil {
		return "", err
	}
	for _, want := range wants {
		if !strings.Contains(j.Stdout, want) {
			return "", vm.Fail("journalctl -u %s does not say %q:\n%s", unit, want, j.Stdout)
		}
	}
	m.say("journalctl -u %s:\n%s", unit, indent(lastLines(j.Stdout, n)))
	return j.Stdout, nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
