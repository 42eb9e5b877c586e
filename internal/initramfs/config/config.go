// Package config is the one description of an initramfs that both sides read: the builder
// (`hibernate initramfs build`) writes it into the archive, our /init reads it at boot.
package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Path is where the config sits inside the initramfs.
const Path = "etc/hibernate/initramfs.json"

// InitMarker begins the first line our /init prints ("init of hibernate starting on R"). It is
// in the /init binary's bytes, so a reader of an initramfs knows a plain /init file for ours by
// it (initramfs.Contents.ResumeSupport); the harness waits for the line.
const InitMarker = "init of hibernate starting on"

// EFIVarFSModule is the module of efivarfs, the file system of the EFI variables: the builder
// puts it in by default, and /init loads it (on a UEFI boot only) to read systemd's
// HibernateLocation.
const EFIVarFSModule = "efivarfs"

// LZ4Module is the crypto module of the lz4 compressor, which a hibernation image may be stored
// with (Linux 6.9 and later, hibernate.compressor=lz4): the builder takes it in where the kernel
// has it as a module, and /init loads it before the restore of an lz4 image.
const LZ4Module = "lz4"

// Format is the version of this layout; /init refuses a config of a newer format. Format 2
// added the volumes to unlock, the LVs to activate and the tools that do it: an /init of format
// 1 would not unlock them, and the machine would not boot. OSRelease came later without a bump:
// it is optional both ways (an /init that does not know it ignores it, and with it systemd's
// HibernateLocation EFI variable, which costs a resume that resume= or a scan still gives; an
// /init that knows it, reading a config without it, does not use the variable), whereas a bump
// would make every older /init refuse the whole config and boot without its modules. Format 3
// moved Devices out of the JSON into DevicesPath, as text: 16 of the config's 24 KiB were that
// table, and each parse of it was about 18 ms of a guest's boot (and of hibernate check's) under
// -icount, where the text's is a fifth of it (BenchmarkDevicesText); an /init of format 2 would find no devices table
// and load no module before its decision, so it refuses the config (and says so) instead.
const Format = 3

// InitMark is in every hibernate-init that reads Format (Parse's refusal carries it, so the
// linker keeps it): initramfs build looks for it in its base's /init, and refuses a base whose
// /init would refuse the config the build writes. Such an /init boots with no module list: on a
// modular disk driver it finds neither the resume device nor root, and the boot stops there.
// TestInitMarkNamesFormat keeps the two in step.
const InitMark = "this hibernate-init reads config formats 1 to 3"

// DevicesPath holds the devices table (Config.Devices) from format 3 on: a line a module, its
// path inside the archive then its device patterns, separated by spaces (neither has any),
// sorted by path. It is in the compressed archive: hibernate check never needs it.
const DevicesPath = "etc/hibernate/modalias"

// Config describes one initramfs.
type Config struct {
	Format        int    `json:"format"`
	KernelRelease string `json:"kernel_release"`
	// Modules are paths inside the archive, in load order (dependencies first).
	Modules []string `json:"modules"`
	// Needs maps a module's path to the paths of the modules it needs loaded first (its
	// depends= and softdep pre:), so that /init can load independent modules side by side.
	Needs map[string][]string `json:"needs,omitempty"`
	// Devices maps a module's path to the device patterns (modalias globs, as modules.alias
	// has them) of the hardware it drives. Before deciding, /init loads only the modules of
	// the devices present, the rest after; a module with none waits for the rest. In the JSON
	// up to format 2; from format 3 in DevicesPath (MarshalDevices), and Marshal leaves it out.
	Devices map[string][]string `json:"devices,omitempty"`
	// Resume is the resume= spec used when the kernel command line has none ("" = scan for an image).
	Resume       string `json:"resume,omitempty"`
	ResumeOffset uint64 `json:"resume_offset,omitempty"`
	// HibernationFile is the hibernation file at Resume and ResumeOffset, as on the machine
	// (setup --hibernate-only): inactive but while hibernate now writes an image, so that no
	// boot finds it in /proc/swaps. Said, not used: the offset finds it.
	HibernationFile string `json:"hibernation_file,omitempty"`
	// WaitSeconds bounds the wait for the resume device (0 = the default).
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	// Volumes are the LUKS volumes /init unlocks before it looks for the resume device and
	// root, in order (the kernel command line's rd.luks.*= and cryptdevice= add more).
	Volumes []Volume `json:"volumes,omitempty"`
	// LVs are the LVM logical volumes ("vg/lv") /init activates once the volumes are open:
	// only those the resume device and root are on (rd.lvm.lv= adds more).
	LVs []string `json:"lvs,omitempty"`
	// Tools maps a tool's name ("cryptsetup", "lvm") to its path inside the archive; the
	// shared libraries they need are in the archive at their own paths, under LibraryPath.
	Tools map[string]string `json:"tools,omitempty"`
	// LibraryPath is the LD_LIBRARY_PATH the tools run with (the folders their libraries are in).
	LibraryPath string `json:"library_path,omitempty"`
	// OSRelease is who the system this initramfs was built for is, as its os-release says:
	// /init resumes from systemd's HibernateLocation EFI variable only when the variable names
	// this system, comparing what systemd's initrd compares (≥ 255). nil: not known (built by an
	// older hibernate, or the system has no os-release), and /init does not use the variable.
	OSRelease *OSRelease `json:"os_release,omitempty"`
}

// OSRelease holds the os-release fields that systemd (≥ 255) compares between a
// HibernateLocation and the system that reads it: ID and IMAGE_ID, "" when the os-release has
// none (absent matches absent only).
type OSRelease struct {
	ID      string `json:"id,omitempty"`
	ImageID string `json:"image_id,omitempty"`
}

// Volume is one LUKS volume to unlock.
type Volume struct {
	// Name is the device-mapper name it opens as (/dev/mapper/NAME), as /etc/crypttab names it.
	Name string `json:"name"`
	// Source is the LUKS device: UUID=… (of the LUKS header), PARTUUID=… or /dev/….
	Source string `json:"source"`
	// KeyFile is a key file's path inside the archive ("" asks for the passphrase).
	KeyFile string `json:"key_file,omitempty"`
	// Discard passes discards down (crypttab's discard, cryptsetup --allow-discards).
	Discard bool `json:"discard,omitempty"`
}

// Marshal gives the stable bytes written into the archive, without Devices (MarshalDevices).
func (c Config) Marshal() ([]byte, error) {
	c.Format = Format
	c.Devices = nil
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Parse reads a config, refusing one this /init does not understand.
func Parse(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse %s: %w", Path, err)
	}
	if c.Format < 1 || c.Format > Format {
		return c, fmt.Errorf("%s: format %d, where %s: rebuild the initramfs with this hibernate", Path, c.Format, InitMark)
	}
	return c, nil
}

// MarshalDevices gives the stable bytes of DevicesPath for the table devices.
func MarshalDevices(devices map[string][]string) []byte {
	var b strings.Builder
	for _, m := range slices.Sorted(maps.Keys(devices)) {
		if len(devices[m]) == 0 {
			continue
		}
		b.WriteString(m)
		for _, g := range devices[m] {
			b.WriteByte(' ')
			b.WriteString(g)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// ParseDevices reads DevicesPath back: module path to device patterns. A line with a module and
// no pattern, or an empty one, is skipped.
func ParseDevices(b []byte) map[string][]string {
	devices := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSpace(line), " ")
		m := f[0]
		f = slices.DeleteFunc(f[1:], func(g string) bool { return g == "" })
		if m == "" || len(f) == 0 {
			continue
		}
		devices[m] = append(devices[m], f...)
	}
	return devices
}
