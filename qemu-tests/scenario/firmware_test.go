package scenario

import (
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianUEFIGrubRoundTrip is a Debian 12 UEFI machine: OVMF, GRUB installed by the guest
// on its EFI system partition (grub-install --removable), the kernel and initramfs from its
// /boot as grub.cfg says. hibernate setup --write-boot-config puts resume= into
// /etc/default/grub and update-grub into grub.cfg; the boot through the firmware that hibernates
// and the one that resumes get their command line from GRUB alone (the harness passes nothing),
// and the initramfs is the one the guest built. After the resume the demo service has the same
// PID, the boot ID is the same, and systemctl is-system-running says what it said before.
func TestDebianUEFIGrubRoundTrip(t *testing.T) {
	root := debianRoot(t, debroot.SystemdEFIGuest())
	ctx := timeout(t, 25*time.Minute)
	m := newMachine(t, ctx, DebianSystemd(root), UEFIGrub())
	// The first boot installs GRUB, as an installer's last step does (PVH: no boot loader yet).
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, m.BuildInitramfsInGuest, m.InstallGrub, m.PowerOffForFirmware)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.CheckFirmwareBoot, m.WaitSystemd, m.StartJob, m.HibernateCheck, m.NoteSystemState, m.HibernateNow, m.CheckImage)
	vm3 := resumeBoot(t, ctx, m, "")
	do(t, ctx, vm3, m.CheckFirmwareBoot, m.CheckSystemdKept, m.SaveJournal)
	s, sd := m.Summary, m.Systemd
	t.Logf("kernel %s; boot through UEFI and GRUB to %s %s; hibernate %s; resume %s (power on to the job's next line, through the firmware)",
		s.Kernel, sd.BootState, sd.BootToRunning.Round(100*time.Millisecond), s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}
