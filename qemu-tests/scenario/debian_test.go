package scenario

import (
	"os"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianFromPackage is the real thing, as a Debian user has it: a Debian 12 guest with
// systemd as PID 1 (a root debootstrapped once and cached under $HIBERNATE_CACHE/debroot)
// installs hibernate with apt from the .deb of make deb, makes its swap and its initramfs, and
// hibernates as the desktop's menu does (systemctl hibernate: logind, systemd-sleep, through
// the package's drop-in running hibernate prepare first; logind's CanHibernate says yes
// before), and resumes from that initramfs: after the resume the demo service has the same PID, the boot ID
// is the same and systemctl is-system-running says what it said before. Then apt remove puts
// the distribution's initramfs back, and the guest boots it; apt purge leaves the guest's files
// as they were before the install.
func TestDebianFromPackage(t *testing.T) {
	deb, root := debianPackageRoot(t, debroot.SystemdGuest())
	ctx := timeout(t, 35*time.Minute) // about 4 min alone on two host cores, 12 beside the other e2e group, 18 on a slower machine (2026-12-02); update-initramfs in the guest is most of it
	// The guest's initramfs-tools builds with MODULES=dep, as an admin may set it: with the
	// default (most) update-initramfs took over 9 minutes under emulation, with dep about 100 s.
	dep := GuestFile{Path: "/etc/initramfs-tools/conf.d/modules-dep.conf", Data: []byte("MODULES=dep\n"), Mode: 0o644}
	m := newMachine(t, ctx, DebianSystemd(root), FromPackage(deb), Files(dep))
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.WaitSystemd, m.InstallPackage, m.SetupSwap, m.BuildInitramfsInGuest, m.StartJob, m.HibernateCheck,
		m.CheckCanHibernate, m.NoteSystemState, m.SystemctlHibernate, m.CheckImage, m.CheckRecordOfThisBoot, m.UseGuestInitramfs)
	vm2 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	do(t, ctx, vm2, m.CheckSystemdKept, m.CheckPrepareInJournal, m.SaveJournal, m.RemovePackage)
	powerOff(t, ctx, vm2)
	do(t, ctx, nil, m.UseGuestInitramfs, m.NotOurInitramfs)
	vm3, _ := boot(t, ctx, m, "")
	do(t, ctx, vm3, m.WaitSystemd, m.PurgePackage)
	s, sd := m.Summary, m.Systemd
	t.Logf("kernel %s; debootstrap %s (0: cached); prepare %s; boot to %s %s (%s when hibernating and after the resume); initramfs in the guest %s; hibernate %s; resume %s",
		s.Kernel, root.Took.Round(time.Second), s.BuildTime.Round(10*time.Millisecond), sd.BootState,
		sd.BootToRunning.Round(100*time.Millisecond), sd.State, s.InitrdTime.Round(10*time.Millisecond),
		s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}

// debianPackageRoot is what a Debian guest installing the .deb needs: the package make deb left
// and the root of spec (debootstrapped once and cached: a cold debootstrap takes minutes). It
// skips the test without root.
func debianPackageRoot(t *testing.T, spec debroot.Spec) (deb string, root debroot.Root) {
	t.Helper()
	root = debianRoot(t, spec)
	deb, err := FindPackage(artifacts(t))
	if err != nil {
		t.Fatal(err)
	}
	return deb, root
}

// debianRoot is the root of spec, debootstrapped once and cached. It skips the test without
// root.
func debianRoot(t *testing.T, spec debroot.Spec) debroot.Root {
	t.Helper()
	artifacts(t)
	if os.Getuid() != 0 {
		t.Skip("debootstrap and the guest's root-owned tree need root")
	}
	root, err := DebianRoot(timeout(t, 30*time.Minute), spec, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	return root
}
