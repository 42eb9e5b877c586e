package initramfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/crypttab"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// ErrCannotBoot says that our /init cannot bring up this machine: an initramfs built for it
// would leave it unbootable, so none is written and the distribution's stays.
var ErrCannotBoot = errors.New("hibernate's /init cannot bring this machine up")

// bootFS are the file systems our /init mounts (root; /boot, to read a kernel for kexec).
var bootFS = map[string]bool{"ext4": true, "ext3": true, "ext2": true, "btrfs": true, "xfs": true, "vfat": true}

// StackUse is one thing the machine needs at boot and the block devices under it.
type StackUse struct {
	What   string           // "/", "/boot", "the resume device"
	Device string           // as mounted or named: /dev/mapper/vg-root, UUID=…
	Layers []blockdev.Layer // top first
}

// CheckStacks reads, from sysfs below fs, what / and /boot are mounted on and what the resume
// device (spec, "" for none) is, down to the disks, and returns them; the error (ErrCannotBoot)
// names the first layer our /init cannot bring up. It brings up disks and partitions, LUKS1
// and LUKS2 volumes on them, and linear or striped LVM LVs on those (PlanBringup says what to
// unlock and activate); not md RAID, another device-mapper target (plain dm-crypt, integrity,
// RAID, thin, cache, snapshot LVs, multipath), loop, nbd, bcache, a network or ZFS root, a btrfs
// of several devices, nor a resume device that /etc/crypttab keys anew at each boot.
func CheckStacks(fs sysfs.FS, resumeSpec string) ([]StackUse, error) {
	mounts, err := fs.Mounts()
	if err != nil {
		return nil, err
	}
	var uses []StackUse
	for _, point := range []string{"/", "/boot"} {
		m, ok := sysfs.MountOf(mounts, point)
		if !ok || (point == "/boot" && m.Point != "/boot") {
			continue // /boot on the root file system
		}
		u, err := mountStack(fs, point, m)
		if err != nil {
			return uses, err
		}
		uses = append(uses, u)
	}
	if resumeSpec != "" {
		d, err := blockdev.Find(fs, resumeSpec)
		if err != nil {
			return uses, fmt.Errorf("the resume device %s: %w", resumeSpec, err)
		}
		u := StackUse{What: "the resume device", Device: resumeSpec}
		if u.Layers, err = blockdev.Stack(fs, d.Name); err != nil {
			return uses, err
		}
		uses = append(uses, u)
		if err := randomKeyed(fs, u); err != nil {
			return uses, err
		}
	}
	for _, u := range uses {
		if err := u.Bootable(); err != nil {
			return uses, err
		}
	}
	return uses, nil
}

// randomKeyed refuses a resume device on a volume that /etc/crypttab keys anew at each boot:
// no boot can read an image written there (hibernate check's resume-stack says the same).
func randomKeyed(fs sysfs.FS, u StackUse) error {
	e, ok, err := crypttab.RandomKeyed(fs, blockdev.CryptNames(u.Layers))
	switch {
	case err != nil:
		return err
	case ok:
		return fmt.Errorf("%w: %s (%s) is %s: %s; %s", ErrCannotBoot, u.What, u.Device, blockdev.DescribeStack(u.Layers), e.RandomKeyWhy(), crypttab.RandomKeyFix)
	}
	return nil
}

func mountStack(fs sysfs.FS, point string, m sysfs.Mount) (StackUse, error) {
	u := StackUse{What: point, Device: m.Device}
	if !bootFS[m.Type] {
		return u, fmt.Errorf("%w: %s is %s on %s, which it does not mount", ErrCannotBoot, point, m.Type, m.Device)
	}
	d, err := blockdev.ByPath(fs, m.Device)
	if err != nil && m.Device == "/dev/root" {
		// The kernel's own name for the root it mounted itself: the mount point says which.
		var st unix.Stat_t
		if serr := unix.Stat(fs.Path(strings.TrimPrefix(point, "/")), &st); serr == nil {
			d, err = blockdev.ByDevT(fs, st.Dev)
		}
	}
	if err != nil {
		return u, fmt.Errorf("%s is mounted from %s: %w", point, m.Device, err)
	}
	if u.Layers, err = blockdev.Stack(fs, d.Name); err != nil {
		return u, err
	}
	if m.Type == "btrfs" {
		if n := btrfsDevices(fs, d); n > 1 {
			return u, fmt.Errorf("%w: %s is a btrfs of %d devices, which it does not assemble", ErrCannotBoot, point, n)
		}
	}
	return u, nil
}

// btrfsDevices counts the devices of the btrfs on d (/sys/fs/btrfs/UUID/devices), 0 when unknown.
func btrfsDevices(fs sysfs.FS, d blockdev.Device) int {
	if d.Probe.UUID == "" {
		return 0
	}
	n := 0
	if ents, err := readDirNames(fs.Path("sys/fs/btrfs", d.Probe.UUID, "devices")); err == nil {
		n = len(ents)
	}
	return n
}

// Bootable says which layer of u our /init cannot bring up, if one (ErrCannotBoot): what
// CheckStacks refuses.
func (u StackUse) Bootable() error {
	if why := Unsupported(u.Layers); why != "" {
		return fmt.Errorf("%w: %s (%s) is %s: %s", ErrCannotBoot, u.What, u.Device, blockdev.DescribeStack(u.Layers), why)
	}
	return nil
}

// Unsupported says why our /init cannot bring up a stack (layers top first, as blockdev.Stack
// gives them), "" when it can. The layers are judged bottom first, so that the reason names
// the lowest one it does not bring up (md RAID, not the LUKS volume on it).
func Unsupported(layers []blockdev.Layer) string {
	byName := map[string]blockdev.Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	for i := len(layers) - 1; i >= 0; i-- {
		if why := unsupported(layers[i], byName); why != "" {
			return why
		}
	}
	return ""
}

// unsupported says why our /init cannot bring up layer l (its slaves in byName), "" when it
// can: a disk or partition; a LUKS1 or LUKS2 volume on one; an LVM LV on physical volumes
// that are disks, partitions or such LUKS volumes.
func unsupported(l blockdev.Layer, byName map[string]blockdev.Layer) string {
	switch l.Kind {
	case "disk", "partition":
		return ""
	case "crypt":
		return unsupportedCrypt(l, byName)
	case "lvm":
		return unsupportedLV(l, byName)
	case "dm":
		return l.What + " is a device-mapper target it does not set up (it unlocks LUKS volumes and activates LVM LVs)"
	case "md":
		return l.What + ": it does not assemble md RAID"
	}
	return l.What + ": it does not bring up loop, nbd, bcache or zram devices"
}

// unsupportedCrypt: a dm-crypt layer must be LUKS (cryptsetup's dm uuid CRYPT-LUKS1- or
// CRYPT-LUKS2-) on a disk or partition.
func unsupportedCrypt(l blockdev.Layer, byName map[string]blockdev.Layer) string {
	typ, _, _ := strings.Cut(strings.TrimPrefix(l.DMUUID, "CRYPT-"), "-")
	switch typ {
	case "LUKS1", "LUKS2":
	case "PLAIN":
		return l.What + " is plain dm-crypt, with no LUKS header: it unlocks LUKS volumes only"
	case "SUBDEV", "INTEGRITY":
		return l.What + " is dm-integrity (an authenticated LUKS2 volume's, or integritysetup's): it does not set that up"
	default:
		return l.What + " is not a LUKS volume: it unlocks LUKS volumes only"
	}
	if len(l.Slaves) != 1 {
		return fmt.Sprintf("%s is on %d devices, where a LUKS volume is on one", l.What, len(l.Slaves))
	}
	switch s := byName[l.Slaves[0]]; s.Kind {
	case "disk", "partition":
		return ""
	case "lvm":
		return l.What + " is inside " + s.What + ": it unlocks the LUKS volumes before it activates the LVs, not after"
	default:
		return l.What + " is on " + s.What + ", where it unlocks LUKS volumes on disks and partitions only"
	}
}

// unsupportedLV: an LVM LV must be linear or striped, on physical volumes that are disks,
// partitions or LUKS volumes. sysfs does not say a device-mapper device's target; what it
// shows is what the LV is made of, and an LV made of other LVM devices (a RAID, mirror, thin,
// cache, snapshot, VDO or integrity LV, whose parts LVM names NAME-real, NAME_rimage_0,
// POOL-tpool and so on) is one lvm would set up with more targets than dm_mod's.
func unsupportedLV(l blockdev.Layer, byName map[string]blockdev.Layer) string {
	if id := strings.TrimPrefix(l.DMUUID, "LVM-"); len(id) > 64 {
		return l.What + " is a hidden part of an LV (" + id[64:] + "): a snapshot, thin pool, cache or VDO LV, which it does not activate"
	}
	if len(l.Slaves) == 0 {
		return l.What + " is on no device (a zero or error LV?): it activates LVs on physical volumes only"
	}
	for _, n := range l.Slaves {
		switch s := byName[n]; s.Kind {
		case "disk", "partition", "crypt":
		case "lvm":
			return l.What + " is made of " + s.What + ": a RAID, mirror, thin, cache, snapshot or integrity LV, which it does not activate (linear and striped LVs only)"
		default:
			return l.What + " is on " + s.What + ", where it activates LVs on disks, partitions and LUKS volumes only"
		}
	}
	return ""
}

// Describe is the stacks for a person, one a line.
func Describe(uses []StackUse) string {
	var lines []string
	for _, u := range uses {
		lines = append(lines, fmt.Sprintf("%s (%s): %s", u.What, u.Device, blockdev.DescribeStack(u.Layers)))
	}
	return strings.Join(lines, "\n")
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
