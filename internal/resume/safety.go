package resume

import (
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// hibernationOff says why this boot's kernel will take no image, or "" when it will. Writing to
// /sys/power/resume then succeeds and does nothing, so /init must know before it tries: the
// command line's nohibernate or hibernate=no, or /sys/power/state without "disk" (the kernel
// offers it only when hibernation is available: not under lockdown, for one).
func hibernationOff(fs sysfs.FS, p Params) string {
	if p.NoHibernate != "" {
		return p.NoHibernate + " on the command line: " + TakesNoImage
	}
	state, err := fs.ReadString("sys/power/state")
	if err != nil {
		return "" // no way to know: the resume is tried, and what it leaves is read back
	}
	for _, s := range strings.Fields(state) {
		if s == "disk" {
			return ""
		}
	}
	why := TakesNoImage + " (/sys/power/state has no disk"
	if l, err := fs.ReadString("sys/kernel/security/lockdown"); err == nil {
		if sel, _ := sysfs.Selected(l); sel != "" && sel != "none" {
			why += "; lockdown " + sel
		}
	}
	return why + ")"
}

// headerSig reads the header page of the area /init decided about and names its signature.
func (b *Machine) headerSig(in Input) (swsusp.Signature, error) {
	page, err := b.readHeaderPage(in)
	if err != nil {
		return swsusp.SigNone, err
	}
	return swsusp.DetectSignature(page), nil
}

// ensureNoImage is the last step before the root file system is mounted: the area /init decided
// about is read again, and an image still there (the kernel did not take it, or a discard
// failed) is discarded and read back. An error means an image may remain: the caller must not
// mount root. An image the decision left alone on purpose (another machine's, another
// program's) is not touched, and a device that could not be read at the decision is left to
// it (powering off there would leave a machine that never boots while that device fails).
func (b *Machine) ensureNoImage(in Input, d Decision) error {
	if in.dev == nil || in.Area == nil || d.LeaveImage {
		return nil
	}
	sig, err := b.headerSig(in)
	if err != nil {
		return fmt.Errorf("cannot read back the resume device: %w", err)
	}
	if sig != swsusp.SigSwsusp {
		return nil
	}
	b.Logf("an image is still on %s: discarding it", in.Device)
	if err := b.DiscardImage(in.dev, in.offset); err != nil {
		return err
	}
	if sig, err = b.headerSig(in); err != nil {
		return fmt.Errorf("cannot read back %s after discarding its image: %w", in.Device, err)
	}
	if sig == swsusp.SigSwsusp {
		return fmt.Errorf("the image on %s is still there after discarding it", in.Device)
	}
	b.Logf("image on %s "+Discarded+" (read back: %s)", in.Device, sig)
	return nil
}

// configureNextHibernation leaves the resume device in /sys/power/resume (and its offset in
// resume_offset) for the hibernation of the booted system, as initramfs-tools' resume script
// and systemd-hibernate-resume leave it: systemd-logind (≥ 255) answers CanHibernate "yes" on
// a machine without EFI only when /sys/power/resume is set, and systemd-sleep then writes the
// image where it points. Writing it makes the kernel look for an image there at once, so it is
// written only when the area, read again just before, holds none: never for an image the
// decision left alone, never for a device found by a scan (nobody named it: systemd too uses
// only a device the user configured), never when this kernel takes no image, and not over a
// device the kernel holds already (a resume that failed set it).
func (b *Machine) configureNextHibernation(in Input, d Decision) {
	if in.dev == nil || in.Area == nil || d.LeaveImage || in.Scanned || in.HibernationOff != "" {
		return
	}
	if cur, err := b.FS.ReadString("sys/power/resume"); err != nil || (cur != "0:0" && cur != "") {
		return
	}
	sig, err := b.headerSig(in)
	if err != nil || sig == swsusp.SigSwsusp {
		return // ensureNoImage has just read it otherwise: nothing is written over a doubt
	}
	if err := b.FS.WriteString("sys/power/resume_offset", fmt.Sprint(in.offset)); err != nil {
		b.Logf("cannot set resume_offset %d for the next hibernation: %v", in.offset, err)
		return
	}
	if err := b.FS.WriteString("sys/power/resume", in.dev.DevT()); err != nil {
		b.Logf("cannot set %s as the resume device for the next hibernation: %v", in.dev.DevT(), err)
		return
	}
	b.Logf(NextHibernation+"%s (%s, offset %d), as resume= sets it", in.dev.DevT(), in.dev.Path, in.offset)
}
