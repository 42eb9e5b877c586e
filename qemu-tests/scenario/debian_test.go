package scenario

import (
	"os"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianSystemd is the real thing: a Debian 12 guest with systemd as PID 1 (a root
// debootstrapped once and cached under $HIBERNATE_CACHE/debroot), hibernate installed with make
// install, the swap and the initramfs made inside the guest. It resumes from the initramfs the
// guest built; after the resume the demo service has the same PID, the boot ID is the same and
// systemctl is-system-running says what it said before.
func TestDebianSystemd(t *testing.T) {
	artifacts(t)
	if os.Getuid() != 0 {
		t.Skip("debootstrap and the guest's root-owned tree need root")
	}
	root, err := DebianRoot(timeout(t, 30*time.Minute), debroot.SystemdGuest(), testWriter{t}) // a cold debootstrap takes minutes
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 6*time.Minute) // about 100 s alone on two host cores, far more beside other guests
	m := newMachine(t, ctx, DebianSystemd(root))
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.SetupSwap, m.BuildInitramfsInGuest, m.StartJob, m.HibernateCheck,
		m.NoteSystemState, m.HibernateNow, m.CheckImage, m.UseGuestInitramfs)
	vm2 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	do(t, ctx, vm2, m.CheckSystemdKept, m.SaveJournal)
	s, sd := m.Summary, m.Systemd
	t.Logf("kernel %s; debootstrap %s (0: cached); prepare %s; boot to %s %s (%s when hibernating and after the resume); initramfs in the guest %s; hibernate %s; resume %s",
		s.Kernel, root.Took.Round(time.Second), s.BuildTime.Round(10*time.Millisecond), sd.BootState,
		sd.BootToRunning.Round(100*time.Millisecond), sd.State, s.InitrdTime.Round(10*time.Millisecond),
		s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}
