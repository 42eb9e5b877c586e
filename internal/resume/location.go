package resume

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
)

// systemd's HibernateLocation EFI variable at boot, as systemd's initrd takes it (systemd 255 to
// 257; docs/hibernatelocation.md): read when the machine booted through UEFI; used only when it
// names the system this initramfs was built for (os-release ID and IMAGE_ID); its device and
// offset are the resume device when neither the command line's resume= nor our config names
// one, and otherwise lose to them, with a warning when they differ; a variable that matched is
// cleared once /init has decided, before the write to /sys/power/resume, or when the image is
// not resumed, so that it never resumes anything twice.

// dropEFIVarFS takes efivarfs out of the modules to load on a machine that did not boot through
// UEFI: there is no variable to read, and its load would fail (ENODEV) on every boot.
func (b *Machine) dropEFIVarFS(ld *Loader) {
	if ld != nil && !efivars.IsEFIBoot(b.FS.Root()) {
		ld.Drop(ld.Named(config.EFIVarFSModule))
	}
}

// readLocation reads the HibernateLocation variable and returns it when it names the system
// this initramfs was built for (cfg.OSRelease), as systemd's initrd decides it. Otherwise it
// returns nil, having said why on the console; it says nothing when the machine did not boot
// through UEFI or holds no such variable (the common case). A variable of another system is
// left in place, as systemd leaves it: it is that system's to resume.
func (b *Machine) readLocation(cfg config.Config, ld *Loader) *efivars.HibernateLocation {
	root := b.FS.Root()
	if !efivars.IsEFIBoot(root) {
		return nil
	}
	if err := b.mountEFIVars(ld); err != nil {
		b.Logf(LocationUnreadable+"%v", err)
		return nil
	}
	h, err := efivars.ReadHibernateLocation(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		b.Logf(LocationUnreadable+"%v", err)
		return nil
	}
	if cfg.OSRelease == nil {
		b.Logf(LocationUnknownSystem+"%s", h)
		return nil
	}
	osr := efivars.OSRelease{
		Path:   "the os-release this initramfs was built with",
		Fields: map[string]string{"ID": cfg.OSRelease.ID, "IMAGE_ID": cfg.OSRelease.ImageID},
	}
	if err := h.MatchSystem(osr); err != nil {
		b.Logf(LocationNotThisSystem+"%v", err)
		return nil
	}
	return &h
}

// efivarsMount is where efivarfs is mounted on a real machine.
var efivarsMount = efivars.Dir("/")

// mountEFIVars mounts efivarfs on /sys/firmware/efi/efivars (the kernel makes that folder on a
// UEFI boot), loading its module first when the kernel does not know the file system (Debian
// builds it as a module). Below a fake root (tests) it mounts nothing: the tree holds the
// variables as plain files, and a mount there would bring the host's own variables into the
// test.
func (b *Machine) mountEFIVars(ld *Loader) error {
	if b.FS.Root() != "/" {
		return nil
	}
	if mounts, err := b.FS.Mounts(); err == nil {
		for _, m := range mounts {
			if m.Point == efivarsMount && m.Type == "efivarfs" {
				return nil
			}
		}
	}
	mount := func() error {
		return unix.Mount("efivarfs", efivarsMount, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	err := mount()
	if errors.Is(err, unix.ENODEV) && ld != nil {
		p := ld.Named(config.EFIVarFSModule)
		if p == "" {
			return fmt.Errorf("mount efivarfs on %s: %w (the kernel has no efivarfs, and this initramfs no %s module)", efivarsMount, err, config.EFIVarFSModule)
		}
		if lerr := ld.LoadNow(p); lerr != nil {
			return fmt.Errorf("load %s to mount efivarfs on %s: %w", p, efivarsMount, lerr)
		}
		err = mount()
	}
	if err != nil {
		return fmt.Errorf("mount efivarfs on %s: %w", efivarsMount, err)
	}
	return nil
}

// locationSpec is the resume device spec of a HibernateLocation: its UUID, which systemd's
// initrd waits for as /dev/disk/by-uuid/UUID (the swap area's, or the file system's that holds
// the swap file).
func locationSpec(h *efivars.HibernateLocation) string { return "UUID=" + h.UUID }

// warnIfElsewhere says when the resume device that the command line or our config named (dev,
// at offset) is not where the matching variable points: theirs wins, as resume= wins in
// systemd's initrd ("proceeding anyway with resume="), and the variable is still cleared.
func (b *Machine) warnIfElsewhere(in Input, dev *blockdev.Device, offset uint64, from string) {
	h := in.Location
	if h == nil || in.FromLocation || dev == nil {
		return
	}
	d, err := blockdev.Find(b.FS, locationSpec(h))
	if err == nil && d.DevT() == dev.DevT() && h.Offset == offset {
		return
	}
	where := "no device here"
	if err == nil {
		where = d.Path
	}
	b.Logf(LocationElsewhere+"it names %s (%s) at page %d, %s names %s at page %d: going by %s",
		locationSpec(h), where, h.Offset, from, dev.Path, offset, from)
}

// clearLocation clears the HibernateLocation variable that /init took as this system's, once
// the decision is being carried out (when says at which point): systemd's initrd clears it just
// before it writes /sys/power/resume, so that whether the kernel then restores the image or
// discards it, no later boot resumes from it; and /init clears it too when it boots without
// resuming (no image there, or one discarded), as systemd-hibernate-clear would in the booted
// system. It says what it did, having looked: DeleteVariable reads the folder after the unlink.
func (b *Machine) clearLocation(in Input, when string) {
	if in.Location == nil {
		return
	}
	cleared, err := efivars.ClearHibernateLocation(b.FS.Root())
	switch {
	case err != nil:
		b.Logf("cannot clear the HibernateLocation EFI variable (%s): %v", when, err)
	case cleared:
		b.Logf(LocationCleared+" (%s)", when)
	}
}

// locationCmdline is the command line for a kernel that /init kexecs into when the resume
// device came from the variable: resume= and resume_offset= added, so that the /init of that
// kernel finds the image even if its initramfs does not read the variable, or the variable is
// cleared by then (a resume in place that failed clears it before the kexec).
func locationCmdline(in Input, cmdline string) string {
	if !in.FromLocation || in.Location == nil {
		return cmdline
	}
	return fmt.Sprintf("%s resume=%s resume_offset=%d", cmdline, locationSpec(in.Location), in.Location.Offset)
}
