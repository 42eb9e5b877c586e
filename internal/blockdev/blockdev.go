package blockdev

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Device is one block device as /sys/class/block shows it.
type Device struct {
	Name     string // "vda2"
	Path     string // "/dev/vda2" (as on the machine, not below the root prefix)
	Major    int
	Minor    int
	Parent   string // "vda" for a partition, "" for a whole disk
	PartN    int    // partition number, 0 for a whole disk
	PartName string // GPT partition name (PARTLABEL)
	Size     int64  // bytes
	Probe    Probe
	PartUUID string // GPT unique partition GUID, lowercase, when known
	DMName   string // a device-mapper device's name (/dev/mapper/DMName), "" for others
	// SwapPage is the first page as the probe read it, where it holds a swap area or an
	// image (nil otherwise): the area's header, read once.
	SwapPage []byte
}

// DevT is the "MAJ:MIN" form that /sys/power/resume takes.
func (d Device) DevT() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// List returns every block device below fs, probed, sorted by name. A device that cannot be
// read (no medium, no permission) is listed with an empty Probe.
func List(fs sysfs.FS) ([]Device, error) { return list(fs, true, true) }

// ListFor is List with only what Resolve needs to find spec: the contents of the devices are
// read for UUID=, LABEL= and a scan (spec ""), the GPTs for PARTUUID=, neither for the other
// forms. At boot, where every read is a wait, that is what it costs to look again.
func ListFor(fs sysfs.FS, spec string) ([]Device, error) {
	probe, partUUIDs := listNeeds(spec)
	return list(fs, probe, partUUIDs)
}

// ListSysfs is List from sysfs alone: names, numbers, sizes, partitions, no device read
// (Probe and PartUUID empty).
func ListSysfs(fs sysfs.FS) ([]Device, error) { return list(fs, false, false) }

func list(fs sysfs.FS, probe, partUUIDs bool) ([]Device, error) {
	entries, err := os.ReadDir(fs.Path("sys/class/block"))
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var devs []Device
	for _, e := range entries {
		d, err := readDevice(fs, e.Name())
		if err != nil {
			continue
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	if probe {
		// A disk with partitions starts with their table, not a file system or swap area:
		// not read (blkid says the same of it, PTTYPE only).
		parents := map[string]bool{}
		for _, d := range devs {
			if d.Parent != "" {
				parents[d.Parent] = true
			}
		}
		for i := range devs {
			if !parents[devs[i].Name] {
				probeDevice(fs, &devs[i])
			}
		}
	}
	if partUUIDs {
		fillPartUUIDs(fs, devs)
	}
	return devs, nil
}

// readDevice reads what sysfs says of one block device: its uevent (numbers, node name,
// partition number and name), its size, and only where they can be there its parent (a
// partition's link) and its device-mapper name (a dm-N device). At boot each file read is a
// wait of its own: the device's dev file is read only where its uevent has no numbers.
func readDevice(fs sysfs.FS, name string) (Device, error) {
	base := "sys/class/block/" + name
	d := Device{Name: name, Path: "/dev/" + name, Major: -1, Minor: -1}
	if ue, err := fs.ReadFile(base + "/uevent"); err == nil {
		for _, line := range strings.Split(string(ue), "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "MAJOR":
				d.Major = atoiOr(v, -1)
			case "MINOR":
				d.Minor = atoiOr(v, -1)
			case "DEVNAME":
				d.Path = "/dev/" + v
			case "PARTN":
				d.PartN, _ = strconv.Atoi(v)
			case "PARTNAME":
				d.PartName = v
			}
		}
	}
	if d.Major < 0 || d.Minor < 0 {
		devt, err := fs.ReadString(base + "/dev")
		if err != nil {
			return d, err
		}
		if _, err := fmt.Sscanf(devt, "%d:%d", &d.Major, &d.Minor); err != nil {
			return d, fmt.Errorf("parse %s/dev %q: %w", base, devt, err)
		}
	}
	if strings.HasPrefix(name, "dm-") { // the kernel names every device-mapper device so
		d.DMName, _ = fs.ReadString(base + "/dm/name")
	}
	if s, err := fs.ReadString(base + "/size"); err == nil {
		n, _ := strconv.ParseInt(s, 10, 64)
		d.Size = n * 512
	}
	if d.PartN > 0 {
		// /sys/class/block/vda2 links to .../block/vda/vda2: the parent is the folder above.
		if target, err := os.Readlink(fs.Path(base)); err == nil {
			parts := strings.Split(target, "/")
			if len(parts) >= 2 {
				d.Parent = parts[len(parts)-2]
			}
		}
	}
	return d, nil
}

// atoiOr is s as a decimal number, or or when it is none.
func atoiOr(s string, or int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return or
	}
	return n
}

// probeDevice reads what d holds.
func probeDevice(fs sysfs.FS, d *Device) {
	if f, err := sysfs.OpenRaw(fs.Path(strings.TrimPrefix(d.Path, "/"))); err == nil {
		var page []byte
		d.Probe, page, _ = probeRead(f)
		if (d.Probe.Type == "swap" || d.Probe.Type == "swsusp") && len(page) == 4096 {
			d.SwapPage = append([]byte(nil), page...) // not the probe's 68 KiB buffer
		}
		f.Close()
	}
}

// ErrNotFound says that no device matches a spec (yet: the caller may wait and list again).
var ErrNotFound = errors.New("no such device")

// Resolve finds the device a kernel-style spec names: /dev/NAME, UUID=, LABEL=, PARTUUID=,
// PARTLABEL=, MAJ:MIN, or a bare hex device number as the kernel also takes.
func Resolve(devs []Device, spec string) (Device, error) {
	match := func(ok func(Device) bool) (Device, error) {
		for _, d := range devs {
			if ok(d) {
				return d, nil
			}
		}
		return Device{}, fmt.Errorf("%s: %w", spec, ErrNotFound)
	}
	key, val, hasEq := strings.Cut(spec, "=")
	if hasEq {
		val = strings.Trim(val, `"`)
		switch strings.ToUpper(key) {
		case "UUID":
			return match(func(d Device) bool { return d.Probe.UUID != "" && strings.EqualFold(d.Probe.UUID, val) })
		case "LABEL":
			return match(func(d Device) bool { return d.Probe.Label != "" && d.Probe.Label == val })
		case "PARTUUID":
			return match(func(d Device) bool { return d.PartUUID != "" && strings.EqualFold(d.PartUUID, val) })
		case "PARTLABEL":
			return match(func(d Device) bool { return d.PartName != "" && d.PartName == val })
		}
		return Device{}, fmt.Errorf("device spec %q: unknown key %s (want UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/NAME or MAJ:MIN)", spec, key)
	}
	if strings.HasPrefix(spec, "/dev/") {
		name := strings.TrimPrefix(spec, "/dev/")
		// /dev/mapper/NAME and LVM's /dev/VG/LV are udev's links to a device-mapper device:
		// matched by its name in sysfs, as /init has no udev to make them.
		dm := strings.TrimPrefix(name, "mapper/")
		if vg, lv, ok := strings.Cut(name, "/"); ok && vg != "mapper" && !strings.Contains(lv, "/") {
			dm = LVMName(vg, lv)
		}
		return match(func(d Device) bool {
			return d.Name == name || d.Path == spec || (d.DMName != "" && d.DMName == dm)
		})
	}
	var maj, min int
	if n, _ := fmt.Sscanf(spec, "%d:%d", &maj, &min); n == 2 {
		return match(func(d Device) bool { return d.Major == maj && d.Minor == min })
	}
	if v, err := strconv.ParseUint(spec, 16, 32); err == nil {
		// The kernel's old_decode_dev/new_decode_dev form: major in bits 8-19, minor in 0-7 and 20-31.
		maj, min = int((v&0xfff00)>>8), int((v&0xff)|((v>>12)&0xfff00))
		return match(func(d Device) bool { return d.Major == maj && d.Minor == min })
	}
	return Device{}, fmt.Errorf("device spec %q: not /dev/NAME, UUID=, LABEL=, PARTUUID=, PARTLABEL= or MAJ:MIN", spec)
}

// fillPartUUIDs reads the GPT of each whole disk that has partitions and sets their PartUUID.
// Reading only: the disk is opened read-only; a disk whose table cannot be read keeps empty PartUUIDs.
func fillPartUUIDs(fs sysfs.FS, devs []Device) {
	byParent := map[string][]int{}
	for i, d := range devs {
		if d.Parent != "" {
			byParent[d.Parent] = append(byParent[d.Parent], i)
		}
	}
	for _, parent := range sortedKeys(byParent) {
		guids, err := gptPartGUIDs(fs.Path("dev", parent))
		if err != nil {
			continue
		}
		for _, i := range byParent[parent] {
			devs[i].PartUUID = guids[devs[i].PartN]
		}
	}
}

func sortedKeys(m map[string][]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LVMName is the device-mapper name LVM gives the logical volume lv of the volume group vg: each
// dash inside a name doubled, the two joined by one ("guest-vg", "swap_1" → "guest--vg-swap_1").
func LVMName(vg, lv string) string {
	return strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--")
}

// SplitLVName splits an LVM LV's device-mapper name into its VG and LV names: LVM joins them
// with a dash and doubles the dashes inside each ("guest--vg-swap_1" is VG guest-vg, LV
// swap_1). A name with a third part (vg-lv-real, a hidden layer of an LV) or without both is
// an error.
func SplitLVName(dm string) (vg, lv string, err error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(dm); i++ {
		switch {
		case dm[i] == '-' && i+1 < len(dm) && dm[i+1] == '-':
			cur.WriteByte('-')
			i++
		case dm[i] == '-':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(dm[i])
		}
	}
	parts = append(parts, cur.String())
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("device-mapper name %q: not an LVM LV's VG-LV (dashes inside each doubled)", dm)
	}
	return parts[0], parts[1], nil
}
