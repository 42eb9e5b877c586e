package resume

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
)

// The udev records of the devices /init brought up. A distribution's initramfs runs udev while
// cryptsetup and lvm make their device-mapper devices, and its database in /run/udev/data goes
// to the root with /run. There, systemd-udev-trigger replays an "add" for every device, and
// device-mapper's rules (55-dm.rules) take a dm device for set up only when its record says
// libdevmapper made it (DM_UDEV_PRIMARY_SOURCE_FLAG=1); without a record they turn the other
// rules off for it: no /dev/disk/by-uuid link, SYSTEMD_READY=0. systemd then never sees the LVs
// and the LUKS volume /init made: a fstab line naming one (the Debian installer's swap LV,
// /dev/mapper/VG-swap_1) waits 90 s and fails, and lvm's udev rule never activates the VG's
// other LVs (a /home LV). /init runs no udev, so it writes those records itself, for the
// devices that cryptsetup and lvm made, before it hands over to the root's init.

// udevDataDir is udev's database, below the root (in /run, which switch_root moves).
const udevDataDir = "run/udev/data"

// udevRecord is what a dm device's record holds for the root's udev: made by libdevmapper (the
// rules then run for it as for a device activated under udev), in udev's database format
// (version 1).
const udevRecord = "E:DM_UDEV_PRIMARY_SOURCE_FLAG=1\nE:DM_UDEV_RULES_VSN=2\nV:1\n"

// recordForUdev writes the udev record of each device-mapper device that cryptsetup or lvm
// made (dm uuid CRYPT-… or LVM-…) and that has none yet, and makes its /dev/mapper entry the
// link udev makes (linkMapperNode). It returns the names of the records written; a failure is
// said and the boot goes on (the devices work, only systemd does not see them).
func (b *Machine) recordForUdev() []string {
	devs, err := blockdev.ListSysfs(b.FS)
	if err != nil {
		return nil
	}
	var names []string
	for _, d := range devs {
		if d.DMName == "" {
			continue
		}
		uuid, _ := b.FS.ReadString("sys/class/block/" + d.Name + "/dm/uuid")
		if !strings.HasPrefix(uuid, "CRYPT-") && !strings.HasPrefix(uuid, "LVM-") {
			continue // not made by cryptsetup or lvm here (dm-mod.create=, whose uevent udev sees as it came)
		}
		b.linkMapperNode(d)
		if err := os.MkdirAll(b.FS.Path(udevDataDir), 0o755); err != nil {
			b.Logf("no udev record for %s: %v", d.DMName, err)
			return names
		}
		p := b.FS.Path(udevDataDir, fmt.Sprintf("b%d:%d", d.Major, d.Minor))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue // udev's own
		}
		if err == nil {
			_, err = f.WriteString(udevRecord)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			b.Logf("no udev record for %s: %v", d.DMName, err)
			continue
		}
		names = append(names, d.DMName)
	}
	if len(names) > 0 {
		b.Logf("%s%s", UdevRecords, strings.Join(names, " "))
	}
	return names
}

// linkMapperNode makes /dev/mapper/NAME of a dm device a link to ../dm-N, as the root's udev
// (its 10-dm.rules) would make it. Without udev, libdevmapper (DM_DISABLE_UDEV=1) made a
// device node there, which moves to the root with /dev; udev then could not make its link
// ("Failed to create symlink … File exists", at every boot in the Debian guest's journal). The
// link is made beside it and renamed over it: the name is never missing. /dev/dm-N is the
// kernel's own node (devtmpfs). A failure is said; the node works as it is.
func (b *Machine) linkMapperNode(d blockdev.Device) {
	p := b.FS.Path("dev/mapper", d.DMName)
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return // none, or a link already
	}
	tmp := b.FS.Path("dev/mapper", "."+d.DMName+".link")
	os.Remove(tmp)
	err = os.Symlink("../"+d.Name, tmp)
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		b.Logf("/dev/mapper/%s left a device node: %v", d.DMName, err)
	}
}
