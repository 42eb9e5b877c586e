package blockdev

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Layer is one block device of a stack, as sysfs shows it: the device a file system is on, then
// what that device is made of (its slaves), down to the disks.
type Layer struct {
	Name string // "dm-0", "md0", "vda2"
	Kind string // "disk", "partition", "crypt" (LUKS, plain dm-crypt), "lvm", "dm" (another device-mapper target), "md", "loop", "nbd", "bcache", "zram", or "unknown"
	What string // for a person: "LVM LV root of VG vg", "md RAID1 md0", "partition vda2"
	// DMName is a device-mapper device's name (/dev/mapper/NAME), "" for others.
	DMName string
	// DMUUID is a device-mapper device's dm uuid, which names what made it: "CRYPT-LUKS2-…"
	// (cryptsetup), "LVM-…" (lvm), "mpath-…"; "" for others.
	DMUUID string
	// Slaves are the names of the block devices it is made of (sorted), each a layer after it.
	Slaves []string
}

// Plain says whether the layer is a disk or a partition of one, which needs nothing brought up.
func (l Layer) Plain() bool { return l.Kind == "disk" || l.Kind == "partition" }

// Stack lists the layers under the block device name (as /sys/class/block has it), top first,
// each device once: a device-mapper or md device's slaves follow it, depth first.
func Stack(fs sysfs.FS, name string) ([]Layer, error) {
	var out []Layer
	seen := map[string]bool{}
	var walk func(name string, depth int) error
	walk = func(name string, depth int) error {
		if seen[name] {
			return nil
		}
		if depth > 16 {
			return fmt.Errorf("block device %s: a stack deeper than 16 layers", name)
		}
		seen[name] = true
		l, err := layerOf(fs, name)
		if err != nil {
			return err
		}
		slaves, _ := os.ReadDir(fs.Path("sys/class/block", name, "slaves"))
		for _, s := range slaves {
			l.Slaves = append(l.Slaves, s.Name())
		}
		sort.Strings(l.Slaves)
		out = append(out, l)
		for _, s := range l.Slaves {
			if err := walk(s, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(name, 0)
}

// layerOf says what the block device name is.
func layerOf(fs sysfs.FS, name string) (Layer, error) {
	base := "sys/class/block/" + name
	if !fs.Exists(base) {
		return Layer{}, fmt.Errorf("block device %s: no %s", name, "/"+base)
	}
	l := Layer{Name: name, Kind: "unknown", What: "block device " + name}
	if uuid, err := fs.ReadString(base + "/dm/uuid"); err == nil {
		dmName, _ := fs.ReadString(base + "/dm/name")
		l.DMName, l.DMUUID = dmName, uuid
		switch {
		case strings.HasPrefix(uuid, "CRYPT-"):
			l.Kind, l.What = "crypt", fmt.Sprintf("dm-crypt %s (%s)", dmName, strings.SplitN(strings.TrimPrefix(uuid, "CRYPT-"), "-", 2)[0])
		case strings.HasPrefix(uuid, "LVM-"):
			l.Kind, l.What = "lvm", "LVM LV "+dmName
			if vg, lv, err := SplitLVName(dmName); err == nil {
				l.What = fmt.Sprintf("LVM LV %s of VG %s", lv, vg)
			}
		default:
			l.Kind, l.What = "dm", fmt.Sprintf("device-mapper %s (%s)", dmName, uuid)
		}
		return l, nil
	}
	if level, err := fs.ReadString(base + "/md/level"); err == nil {
		l.Kind, l.What = "md", fmt.Sprintf("md %s %s", level, name)
		return l, nil
	}
	for _, p := range []struct{ prefix, kind string }{{"loop", "loop"}, {"nbd", "nbd"}, {"bcache", "bcache"}, {"zram", "zram"}} {
		if strings.HasPrefix(name, p.prefix) {
			l.Kind, l.What = p.kind, p.kind+" device "+name
			return l, nil
		}
	}
	if fs.Exists(base + "/partition") {
		l.Kind, l.What = "partition", "partition "+name
	} else if fs.Exists(base + "/device") {
		l.Kind, l.What = "disk", "disk "+name
	}
	return l, nil
}

// CryptNames are the dm names of the stack's dm-crypt layers, top first.
func CryptNames(layers []Layer) []string {
	var out []string
	for _, l := range layers {
		if l.Kind == "crypt" {
			out = append(out, l.DMName)
		}
	}
	return out
}

// DescribeStack is a stack for a person, top first: "LVM LV root of VG vg on dm-crypt sda3_crypt
// (LUKS2) on partition sda3". A layer made of several devices names them all, joined by "and",
// a device that is itself on another in parentheses: "md raid1 md0 on partition vda1 and
// partition vdb1", "LVM LV root of VG vg on (dm-crypt vda3_crypt (LUKS2) on partition vda3) and
// partition vda2". Layers whose Slaves do not name the others (made by hand) are joined in order.
func DescribeStack(layers []Layer) string {
	if len(layers) == 0 {
		return ""
	}
	byName := map[string]Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	seen := map[string]bool{}
	var describe func(l Layer) string
	describe = func(l Layer) string {
		seen[l.Name] = true
		var under []string
		for _, name := range l.Slaves {
			s, ok := byName[name]
			if !ok || seen[name] {
				continue
			}
			d := describe(s)
			if len(l.Slaves) > 1 && strings.Contains(d, " on ") {
				d = "(" + d + ")"
			}
			under = append(under, d)
		}
		if len(under) == 0 {
			return l.What
		}
		last := len(under) - 1
		if last == 0 {
			return l.What + " on " + under[0]
		}
		return l.What + " on " + strings.Join(under[:last], ", ") + " and " + under[last]
	}
	out := describe(layers[0])
	if len(seen) == len(byName) {
		return out
	}
	var parts []string
	for _, l := range layers {
		if l.Kind == "disk" && len(parts) > 0 {
			continue // the disk under a partition says nothing more
		}
		parts = append(parts, l.What)
	}
	return strings.Join(parts, " on ")
}
