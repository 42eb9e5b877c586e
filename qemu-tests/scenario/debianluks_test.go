package scenario

import (
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianEncryptedLVM is the laptop as the Debian installer leaves it ("guided, encrypted
// LVM"): the Debian 12 systemd guest with / in an LV of LVM on LUKS2, /boot plain, and the
// installer's crypttab and fstab. It installs hibernate with apt from the .deb, makes its swap
// in the swap LV (setup --device /dev/mapper/guest--vg-swap_1), builds its initramfs in the
// guest with no flags (the stack read from sysfs and crypttab), hibernates, and resumes from
// that initramfs, its passphrase typed once at /init's prompt: the demo service has the same
// PID, the boot ID is the same and systemctl is-system-running says what it said before. At
// both boots systemd has the LUKS volume and the LVs /init opened as its own devices.
func TestDebianEncryptedLVM(t *testing.T) {
	deb, root := debianPackageRoot(t, debroot.SystemdGuest())
	ctx := timeout(t, 20*time.Minute) // about 3 min alone on two host cores, the encrypted disk cached
	m := newMachine(t, ctx, DebianSystemd(root), FromPackage(deb), EncryptedLVMRoot())
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.CheckSystemdSeesStack, m.AptInstall, m.SetupSwap, m.BuildInitramfsInGuest,
		m.StartJob, m.HibernateCheck, m.NoteSystemState, m.HibernateNow, m.UseGuestInitramfs, m.CheckInitramfsBringsUp)
	vm2 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	do(t, ctx, vm2, m.CheckSystemdKept, m.CheckSystemdSeesStack, m.SaveJournal)
	s, sd := m.Summary, m.Systemd
	t.Logf("kernel %s; prepare %s (encrypted disk cached: %v); boot to %s %s (%s when hibernating and after the resume); initramfs in the guest %s; hibernate %s; resume %s (passphrase typed %s after power on)",
		s.Kernel, s.BuildTime.Round(10*time.Millisecond), m.Guest.LUKS.Cached, sd.BootState, sd.BootToRunning.Round(100*time.Millisecond),
		sd.State, s.InitrdTime.Round(10*time.Millisecond), s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond),
		s.PassphraseAt.Round(100*time.Millisecond))
}
