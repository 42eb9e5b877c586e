package initramfs

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/crypttab"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Bringup is what /init does before it looks for the resume device and mounts root, for stacks
// that CheckStacks accepted: the LUKS volumes to unlock, then the LVs to activate.
type Bringup struct {
	// Volumes are named as the machine names them (its dm names), their source the UUID= of
	// the LUKS header, discard and a key file as /etc/crypttab says (KeyFile is the file's path
	// below the machine's root: Build copies it).
	Volumes []config.Volume
	LVs     []string // "vg/lv"
	// Notes say what the stacks did not tell, for a person.
	Notes []string
}

// PlanBringup reads from the stacks uses (CheckStacks') and /etc/crypttab below fs what /init
// must unlock and activate. A volume crypttab sets up in a way /init cannot (keyscript=, a
// detached header, part of a key file, a key on a device) is ErrCannotBoot.
func PlanBringup(fs sysfs.FS, uses []StackUse) (Bringup, error) {
	var b Bringup
	entries, err := crypttab.Read(fs)
	if err != nil {
		return b, err
	}
	for _, u := range uses {
		for _, l := range u.Layers {
			switch l.Kind {
			case "crypt":
				if slices.ContainsFunc(b.Volumes, func(v config.Volume) bool { return v.Name == l.DMName }) {
					continue
				}
				v, err := volumeOf(fs, entries, l)
				if err != nil {
					return b, fmt.Errorf("%w: %s (%s): %w", ErrCannotBoot, u.What, u.Device, err)
				}
				b.Volumes = append(b.Volumes, v)
			case "lvm":
				vg, lv, err := blockdev.SplitLVName(l.DMName)
				if err != nil {
					return b, fmt.Errorf("%s (%s): %w", u.What, u.Device, err)
				}
				if n := vg + "/" + lv; !slices.Contains(b.LVs, n) {
					b.LVs = append(b.LVs, n)
					b.Notes = append(b.Notes, fmt.Sprintf("%s taken as linear or striped: sysfs does not give an LV's target, and it is made of physical volumes, not of other LVs", l.What))
				}
			}
		}
	}
	return b, nil
}

// volumeOf is the LUKS volume of layer l (a crypt layer on one device, as CheckStacks
// accepts), with what crypttab's entry of its name says.
func volumeOf(fs sysfs.FS, entries []crypttab.Entry, l blockdev.Layer) (config.Volume, error) {
	v := config.Volume{Name: l.DMName}
	if len(l.Slaves) != 1 {
		return v, fmt.Errorf("%s is on %d devices, where a LUKS volume is on one", l.What, len(l.Slaves))
	}
	uuid, err := luksUUID(fs, l)
	if err != nil {
		return v, err
	}
	v.Source = "UUID=" + uuid
	e, ok := crypttab.ByName(entries, l.DMName)
	if !ok {
		return v, nil // asked for its passphrase
	}
	at := fmt.Sprintf("%s line %d", crypttab.Path, e.Line)
	if ks, ok := e.Option("keyscript"); ok {
		return v, fmt.Errorf("%s: keyscript=%s runs a program of initramfs-tools at boot; hibernate's /init does not run it", at, ks)
	}
	for _, o := range []string{"header", "keyfile-offset", "keyfile-size"} {
		if val, ok := e.Option(o); ok {
			return v, fmt.Errorf("%s: %s=%s: hibernate's /init gives cryptsetup the whole key file and the header on the device", at, o, val)
		}
	}
	_, v.Discard = e.Option("discard")
	switch k := e.KeyFile; {
	case k == "none":
	case e.RandomKey():
		return v, fmt.Errorf("%s", e.RandomKeyWhy())
	case strings.HasPrefix(k, "/dev/") || strings.Contains(k, ":") || !path.IsAbs(k):
		return v, fmt.Errorf("%s: key file %s is on a device, or not a file's absolute path: hibernate's /init reads key files from the initramfs only", at, k)
	default:
		v.KeyFile = fs.Path(strings.TrimPrefix(k, "/"))
	}
	return v, nil
}

// luksUUID is the UUID of the LUKS header under crypt layer l, as blkid reads it from the
// device below; else, when that cannot be read (not root), the one cryptsetup put in the dm
// uuid (CRYPT-LUKS2-<32 hex digits>-NAME).
func luksUUID(fs sysfs.FS, l blockdev.Layer) (string, error) {
	dev := "/dev/" + l.Slaves[0]
	d, err := blockdev.ByPath(fs, dev)
	if err == nil && d.Probe.Type == "crypto_LUKS" && d.Probe.UUID != "" {
		return d.Probe.UUID, nil
	}
	f := strings.Split(l.DMUUID, "-")
	if len(f) >= 3 && len(f[2]) == 32 && strings.Trim(strings.ToLower(f[2]), "0123456789abcdef") == "" {
		h := strings.ToLower(f[2])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	}
	if err == nil {
		err = fmt.Errorf("it holds %s, no LUKS header", d.Probe.Describe())
	}
	return "", fmt.Errorf("cannot read the LUKS header of %s on %s (%v), and its dm uuid %q does not name it", l.What, dev, err, l.DMUUID)
}
