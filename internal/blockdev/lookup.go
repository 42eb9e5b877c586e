package blockdev

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// The one place that answers "which device is this", below a root prefix: by a spec as the kernel
// takes one (Find), by a device number (ByDevT), by a path (ByPath), by its place on a disk
// (PartitionOf). Each lists /sys/class/block and reads only what the question needs: the device
// found, or every device for UUID= and LABEL=.

// Find is the device spec names (any form Resolve takes), probed.
func Find(fs sysfs.FS, spec string) (Device, error) {
	probeAll, partUUIDs := listNeeds(spec)
	devs, err := list(fs, probeAll, partUUIDs)
	if err != nil {
		return Device{}, err
	}
	d, err := Resolve(devs, spec)
	if err != nil {
		return d, err
	}
	if !probeAll {
		probeLeaf(fs, devs, &d)
	}
	return d, nil
}

// ByDevT is the device whose number is dev (a stat's st_dev or st_rdev), probed.
func ByDevT(fs sysfs.FS, dev uint64) (Device, error) {
	d, err := Find(fs, fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return d, fmt.Errorf("device %d:%d is not in %s: %w", unix.Major(dev), unix.Minor(dev), fs.Path("sys/class/block"), err)
	}
	return d, nil
}

// ByPath is the device a path names, probed: a name the kernel gives (/dev/vda2, as btrfs lists
// its devices), else the device node at path below fs, by its number (/dev/mapper/…,
// /dev/disk/by-uuid/…). The node is only stat'ed, never opened.
func ByPath(fs sysfs.FS, path string) (Device, error) {
	devs, err := list(fs, false, false)
	if err != nil {
		return Device{}, err
	}
	for _, d := range devs {
		if d.Path == path || d.Name == filepath.Base(path) {
			probeLeaf(fs, devs, &d)
			return d, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(fs.Path(strings.TrimPrefix(path, "/")), &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return ByDevT(fs, st.Rdev)
	}
	return Device{}, fmt.Errorf("device %s is not among the block devices in %s: %w", path, fs.Path("sys/class/block"), ErrNotFound)
}

// PartitionOf is partition n of the whole disk named disk ("vdb"), probed; ErrNotFound until the
// kernel lists it (after it has read a new partition table).
func PartitionOf(fs sysfs.FS, disk string, n int) (Device, error) {
	devs, err := list(fs, false, false)
	if err != nil {
		return Device{}, err
	}
	for _, d := range devs {
		if d.Parent == disk && d.PartN == n {
			probeLeaf(fs, devs, &d)
			return d, nil
		}
	}
	return Device{}, fmt.Errorf("partition %d of %s: %w", n, disk, ErrNotFound)
}

// listNeeds says what a listing must read for Resolve to find spec: the contents of every device
// for UUID=, LABEL= and a scan (spec ""), the GPTs for PARTUUID=, neither for the other forms.
func listNeeds(spec string) (probe, partUUIDs bool) {
	key, _, hasEq := strings.Cut(spec, "=")
	key = strings.ToUpper(key)
	return spec == "" || (hasEq && (key == "UUID" || key == "LABEL")), hasEq && key == "PARTUUID"
}

// probeLeaf reads what d holds, as List would: a disk with partitions starts with their table,
// not a file system or swap area, and is not read.
func probeLeaf(fs sysfs.FS, devs []Device, d *Device) {
	for _, c := range devs {
		if c.Parent == d.Name {
			return
		}
	}
	probeDevice(fs, d)
}
