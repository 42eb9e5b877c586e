package initramfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
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
// names the first layer our /init cannot bring up: a device-mapper target (LUKS, LVM), md
// RAID, loop, nbd, bcache, a network or ZFS root, a btrfs of several devices.
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
	}
	for _, u := range uses {
		if err := u.bootable(); err != nil {
			return uses, err
		}
	}
	return uses, nil
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

// bootable says which layer of u our /init cannot bring up, if one.
func (u StackUse) bootable() error {
	for _, l := range u.Layers {
		if !l.Plain() {
			return fmt.Errorf("%w: %s (%s) is %s; it brings up plain partitions and disks only (no dm-crypt, LVM, md RAID, loop, nbd or bcache yet)",
				ErrCannotBoot, u.What, u.Device, blockdev.DescribeStack(u.Layers))
		}
	}
	return nil
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
