package hibernate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// systemd's HibernateLocation EFI variable, written by hibernate now as systemd-sleep writes it
// (systemd ≥ 254; docs/hibernatelocation.md): on a machine booted through UEFI, just before the
// write of disk to /sys/power/state, for the area the kernel writes the image to; so that an
// initrd that reads it (systemd's, ours) finds the image without resume=. It is cleared again on
// any failure of the hibernation, and after the resume when the boot has not cleared it.

// The lines of hibernate now about the variable, which the end-to-end tests wait for.
const (
	// LocationWritten begins the line of the variable written and read back: its bytes as
	// efivarfs gives them (attributes and data), then their SHA-256, then its JSON.
	LocationWritten = "wrote the HibernateLocation EFI variable and read it back: "
	// LocationGone says, after the resume, that the boot that resumed cleared the variable.
	LocationGone = "the HibernateLocation EFI variable is gone: the boot that resumed cleared it"
	// LocationClearedNow begins the line of the variable cleared by hibernate now itself
	// (after a failure, or after a resume whose boot left it); why follows it.
	LocationClearedNow = "cleared the HibernateLocation EFI variable (read back: gone): "
)

// efivarsPath is the variable's file as on the machine, for the plan's lines.
var efivarsPath = efivars.Path("/", efivars.HibernateLocationName)

// plannedLocation is the variable hibernate now will write, for the area the image goes to:
// devt at page 0 when now sets /sys/power/resume itself (a swap partition), else at
// /sys/power/resume_offset. The UUID is the one the device holds (the swap area's, or the file
// system's that holds a swap file), which systemd's initrd waits for in /dev/disk/by-uuid. It is
// nil, without an error, on a machine that did not boot through UEFI, or when there is no
// resume device yet; an error says why it cannot be written (no efivarfs, no UUID, no
// os-release).
func plannedLocation(fs sysfs.FS, devt string, offset uint64) (*efivars.HibernateLocation, error) {
	if !efivars.IsEFIBoot(fs.Root()) || devt == "" {
		return nil, nil
	}
	if st, err := os.Stat(efivars.Dir(fs.Root())); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s is not there (efivarfs not mounted: mount -t efivarfs efivarfs %s)", efivars.Dir("/"), efivars.Dir("/"))
	}
	d, err := blockdev.Find(fs, devt)
	if err != nil {
		return nil, fmt.Errorf("the resume device %s: %w", devt, err)
	}
	if d.Probe.UUID == "" {
		return nil, fmt.Errorf("the resume device %s (%s, %s) has no UUID for systemd's initrd to find it by", d.Path, devt, d.Probe.Describe())
	}
	h, err := efivars.LocationFor(fs.Root(), d.Probe.UUID, offset)
	if err != nil {
		return nil, err
	}
	if _, err := h.Marshal(); err != nil {
		return nil, err
	}
	return &h, nil
}

// readsLocation says whether the initramfs ic will take h at the next boot, and who reads it
// (for the check's line): ours, built for the system h names (the os-release its config
// carries, compared as /init compares it); or systemd's initrd (systemdReadsLocation). When it
// will not, why says why ("" when there is nothing to say: no variable, or no initramfs).
func readsLocation(fs sysfs.FS, ic *initramfs.Contents, h *efivars.HibernateLocation) (reader, why string, ok bool) {
	if ic == nil || h == nil {
		return "", "", false
	}
	if sd, isSystemd := ic.Systemd(); isSystemd && !ic.Ours() {
		return systemdReadsLocation(fs, sd, h)
	}
	if !ic.Ours() {
		return "", "", false
	}
	cfg, ok := ic.Config()
	if !ok || cfg.OSRelease == nil {
		return "", "its /init (hibernate's) names no os-release, so it does not use the HibernateLocation EFI variable: rebuild it with hibernate initramfs build", false
	}
	osr := efivars.OSRelease{Path: "the initramfs's config", Fields: map[string]string{"ID": cfg.OSRelease.ID, "IMAGE_ID": cfg.OSRelease.ImageID}}
	if err := h.MatchSystem(osr); err != nil {
		return "", fmt.Sprintf("its /init would not use the HibernateLocation EFI variable: %v", err), false
	}
	return "this initramfs's /init (hibernate's, built for this system)", "", true
}

// locationSince is the first systemd whose initrd resumes from the variable as
// efivars.MatchSystem compares it (ID and IMAGE_ID alone): 254's also compared the kernel
// release and the versions, and clearing it was the generator's.
const locationSince = 255

// systemdReadsLocation says whether systemd's initrd sd (/init is systemd) resumes from h when
// its command line has no resume=, as systemd-hibernate-resume-generator decides it
// (docs/hibernatelocation.md): systemd ≥ 255 with the generator, systemd-hibernate-resume and
// its unit; efivarfs to read the variable from (its module in the initramfs, or built into the
// kernel h names, the running one); and the initrd's own os-release matching h's ID and
// IMAGE_ID. Each missing part is said, with what puts it there.
func systemdReadsLocation(fs sysfs.FS, sd initramfs.SystemdInitrd, h *efivars.HibernateLocation) (reader, why string, ok bool) {
	const not = "its /init is systemd, which would not resume from the HibernateLocation EFI variable: "
	var missing []string
	for _, p := range []struct{ have, name string }{
		{sd.Generator, "systemd-hibernate-resume-generator"},
		{sd.Resume, "systemd-hibernate-resume"},
		{sd.Unit, "systemd-hibernate-resume.service"},
	} {
		if p.have == "" {
			missing = append(missing, p.name)
		}
	}
	switch {
	case sd.Version == 0:
		return "", not + "its version is unknown (no libsystemd-shared-N.so in it)", false
	case sd.Version < locationSince:
		return "", fmt.Sprintf("%ssystemd %d's initrd does not read it as hibernate now writes it (systemd %d and later do)", not, sd.Version, locationSince), false
	case len(missing) > 0:
		return "", not + "it has no " + strings.Join(missing, ", ") + " (dracut: its resume module, add_dracutmodules+=\" resume \")", false
	}
	efivarfs := "/" + sd.Efivarfs
	if sd.Efivarfs == "" {
		builtin, err := fs.ReadString("lib/modules/" + h.KernelVersion + "/modules.builtin")
		if err != nil || !strings.Contains("\n"+builtin+"\n", "/efivarfs.ko\n") {
			return "", not + "it has no efivarfs module to read it with, and " + h.KernelVersion + " does not have efivarfs built in (dracut: add_drivers+=\" efivarfs \")", false
		}
		efivarfs = "efivarfs built into " + h.KernelVersion
	}
	if sd.OSRelease == nil {
		return "", not + "it has no os-release to match the variable with", false
	}
	fields, err := efivars.ParseOSRelease(sd.OSRelease)
	if err != nil {
		return "", fmt.Sprintf("%sits %s does not parse: %v", not, sd.OSReleasePath, err), false
	}
	if err := h.MatchSystem(efivars.OSRelease{Path: sd.OSReleasePath, Fields: fields}); err != nil {
		var mm *efivars.MismatchError
		if !errors.As(err, &mm) {
			return "", not + err.Error(), false
		}
		show := func(s string) string {
			if s == "" {
				return "none"
			}
			return strconv.Quote(s)
		}
		why := fmt.Sprintf("%sit takes the variable only as its own system's, and the variable's %s will be %s, the initramfs's %s says %s",
			not, mm.Field, show(mm.Location), sd.OSReleasePath, show(mm.System))
		if mm.Field == "ID" && mm.System == "dracut" {
			why += " (dracut's base module writes ID=dracut over the os-release its systemd module took from this system: " +
				"dracut-ng issue 870, fixed by its pull request 1264); with resume= on the command line systemd's initrd resumes without matching: " +
				"hibernate setup --write-boot-config, then have the boot loader's entries written again (kernel-install add, or update-grub)"
		}
		return "", why, false
	}
	return fmt.Sprintf("this initramfs's systemd %d (/%s, %s; its %s matches)", sd.Version, sd.Generator, efivarfs, sd.OSReleasePath), "", true
}

// setLocation writes the variable of step s (its JSON in Value), reads it back and compares the
// bytes with what systemd-sleep would write; what it read is said, and kept in the result.
func (a *applier) setLocation(s Action) error {
	h, err := efivars.ParseHibernateLocation([]byte(s.Value))
	if err != nil {
		return fmt.Errorf("the HibernateLocation of the plan %s: %w", s.Value, err)
	}
	want, err := efivars.EncodeHibernateLocation(h)
	if err != nil {
		return fmt.Errorf("HibernateLocation %s: %w", s.Value, err)
	}
	root := a.fs.Root()
	if err := efivars.WriteHibernateLocation(root, h); err != nil {
		return fmt.Errorf("write the HibernateLocation EFI variable: %w", err)
	}
	v, err := efivars.ReadVariable(root, efivars.HibernateLocationName)
	if err != nil {
		return fmt.Errorf("read back the HibernateLocation EFI variable just written: %w", err)
	}
	got := append(le32(v.Attributes), v.Data...)
	if !bytes.Equal(got, want) {
		return fmt.Errorf("the HibernateLocation EFI variable read back (%d bytes) is not what was written (%d bytes)", len(got), len(want))
	}
	read, _, err := efivars.DecodeHibernateLocation(got)
	if err != nil {
		return fmt.Errorf("the HibernateLocation EFI variable read back: %w", err)
	}
	doc, _ := read.Marshal()
	a.res.Location = string(doc)
	a.k.logf("%s%d bytes, sha256 %x, attributes %#x: %s", LocationWritten, len(got), sha256.Sum256(got), v.Attributes, doc)
	return nil
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// clearLocation is the undo of setLocation, run after the resume or after a failure: the
// variable is deleted when it is still the one written (u.Value) or another of this system
// (its os-release), since this system is running and no boot is to resume anything from it; a
// variable of another system, or one that does not parse, is left as it is and said.
func (a *applier) clearLocation(u Undo) {
	root := a.fs.Root()
	h, err := efivars.ReadHibernateLocation(root)
	switch {
	case errors.Is(err, fs.ErrNotExist) && a.hibernated:
		a.res.LocationAfter = LocationGone
	case errors.Is(err, fs.ErrNotExist):
		a.res.LocationAfter = "the HibernateLocation EFI variable is not there: nothing to clear"
	case err != nil:
		a.res.LocationAfter = fmt.Sprintf("the HibernateLocation EFI variable does not parse now, left as it is: %v", err)
	default:
		doc, _ := h.Marshal()
		if string(doc) != u.Value {
			if merr := efivars.CheckSystem(root, h); merr != nil {
				a.res.LocationAfter = fmt.Sprintf("the HibernateLocation EFI variable is another now (%s), left in place: %v", h, merr)
				break
			}
		}
		why := "the hibernation failed"
		switch {
		case a.hibernated && a.o.Test != "":
			why = "the pm_test " + a.o.Test + " is over"
		case a.hibernated:
			why = "resumed, and the boot left it"
		}
		cleared, cerr := efivars.ClearHibernateLocation(root)
		switch {
		case cerr != nil:
			a.res.LocationAfter = fmt.Sprintf("could not clear the HibernateLocation EFI variable (%s): %v", why, cerr)
		case cleared:
			a.res.LocationAfter = LocationClearedNow + why
		default:
			a.res.LocationAfter = "the HibernateLocation EFI variable went while it was read: nothing to clear"
		}
	}
	a.k.logf("%s", a.res.LocationAfter)
}
