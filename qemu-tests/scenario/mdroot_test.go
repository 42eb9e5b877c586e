package scenario

import (
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
)

// TestDebianMDRootKeepsDistributionInitrd is issue 13's md RAID1 root: a Debian 12 guest whose
// / is ext4 on an md RAID1 (metadata 1.2) of vda1 and vdb1, assembled at boot by the
// distribution's initramfs (initramfs-tools' mdadm hook and script, no ARRAY in mdadm.conf: it
// assembles every array it finds). hibernate is installed with apt from the .deb; its kernel
// hook, run as a kernel's installation runs it, keeps the distribution's initramfs and says
// why; `hibernate initramfs build` by hand refuses (exit 3, naming md, nothing written);
// `hibernate check` fails saying why (no swap) and names the initramfs as initramfs-tools'. /boot/initrd.img-R stays byte for byte what it was, and
// the machine boots again from it, both disks attached, without hibernate's /init.
func TestDebianMDRootKeepsDistributionInitrd(t *testing.T) {
	deb, root := debianPackageRoot(t, debroot.SystemdMDGuest())
	ctx := timeout(t, 15*time.Minute) // about 4 min alone on two host cores, twice that on a loaded host
	m := newMachine(t, ctx, DebianSystemd(root), MDRAID1Root(), FromPackage(deb))
	vm, _ := boot(t, ctx, m, "")
	// AptInstall, not InstallPackage: nothing is purged, no list of the guest's files is needed.
	do(t, ctx, vm, m.NotOurInit, m.WaitSystemd, m.CheckMDRoot, m.AptInstall, m.KernelHookKeepsInitrd, m.InitramfsBuildRefuses,
		// What check says today: no swap (none was made), and of the initramfs, that it is
		// initramfs-tools' (whose resume script would read the image), not hibernate's.
		m.CheckSaysDistributionInitrd("FAIL swap", "initramfs-tools' resume", "not needed: the initramfs is not hibernate's",
			"not ready: hibernation would not come back"))
	first := m.Systemd
	powerOff(t, ctx, vm)
	vm2, _ := boot(t, ctx, m, "")
	do(t, ctx, vm2, m.NotOurInit, m.WaitSystemd, m.CheckMDRoot)
	powerOff(t, ctx, vm2)
	s, md := m.Summary, m.Guest.MD
	t.Logf("kernel %s; debootstrap %s (0: cached); prepare %s (md disks made in %s, e2image %s; cached %v); boot to %s %s, again %s %s",
		s.Kernel, root.Took.Round(time.Second), s.BuildTime.Round(10*time.Millisecond), md.BuildTime.Round(100*time.Millisecond),
		md.CopyTime.Round(100*time.Millisecond), md.Cached, first.BootState, first.BootToRunning.Round(100*time.Millisecond),
		m.Systemd.BootState, m.Systemd.BootToRunning.Round(100*time.Millisecond))
}
