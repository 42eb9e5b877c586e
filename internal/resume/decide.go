package resume

import (
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// Action is what /init does about the resume device.
type Action int

const (
	// Boot: no image to resume; mount root and go on booting.
	Boot Action = iota
	// Resume: hand the image to this kernel (write /sys/power/resume).
	Resume
	// Kexec: the image was made by another kernel; boot that one and let it resume.
	Kexec
	// Discard: invalidate the image (orig_sig back), then boot.
	Discard
	// PowerOff: keep the image untouched and power off (hibernate.keep=1 with a reason not to resume).
	PowerOff
)

func (a Action) String() string {
	switch a {
	case Boot:
		return "boot"
	case Resume:
		return "resume"
	case Kexec:
		return "kexec"
	case Discard:
		return "discard"
	case PowerOff:
		return "poweroff"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Input is everything the decision depends on, gathered by /init before it decides.
type Input struct {
	Params         Params
	DeviceSpec     string       // the spec looked for ("" when none was configured or found by scan)
	Device         string       // the device found, "" when absent
	Area           *swsusp.Area // what the device holds; nil when it could not be read
	ReadErr        error        // why it could not be read
	RunningRelease string       // uname -r of the booted kernel
	HibernationOff string       // why this kernel takes no image ("" when it does): hibernationOff
	Scanned        bool         // the device was found by a scan: neither the command line nor our config named it
	// Location is systemd's HibernateLocation EFI variable when it names this system (nil when
	// there is none, or another system's): cleared once the decision is carried out.
	Location *efivars.HibernateLocation
	// FromLocation says that the resume device came from Location: neither the command line
	// nor our config named one.
	FromLocation bool

	dev    *blockdev.Device // the device behind Device, for the actions
	offset uint64           // the swap area's page offset on it
}

// Decision is the action and the one line that explains it on the console.
type Decision struct {
	Action       Action
	Reason       string
	KexecRelease string // for Kexec: the kernel to boot
	ImageMiB     uint64 // size of the image, when there is one
	// LeaveImage: the image is not this machine's or not the kernel's; /init neither resumes
	// nor invalidates it, and it is no reason not to boot.
	LeaveImage bool
}

// Decide is the whole boot-time policy, without any I/O, so every branch is unit-tested.
func Decide(in Input) Decision {
	if in.DeviceSpec == "" {
		return Decision{Action: Boot, Reason: "no resume device configured and no hibernation image found: booting"}
	}
	if in.Device == "" {
		return Decision{Action: Boot, Reason: fmt.Sprintf(DeviceNotFound, in.DeviceSpec)}
	}
	if in.Area == nil {
		err := "unreadable"
		if in.ReadErr != nil {
			err = in.ReadErr.Error()
		}
		return Decision{Action: Boot, Reason: fmt.Sprintf("cannot read %s (%s): booting", in.Device, err)}
	}
	a := in.Area
	switch a.Sig {
	case swsusp.SigSwsusp:
	case swsusp.SigUswsusp, swsusp.SigSuspend2, swsusp.SigLinHib, swsusp.SigTuxOnIce:
		// Not ours to resume, and not ours to destroy.
		return Decision{Action: Boot, LeaveImage: true, Reason: fmt.Sprintf("%s holds a %s image, which this initramfs cannot resume: booting, "+LeftAsItIs, in.Device, a.Kind())}
	default:
		return Decision{Action: Boot, Reason: fmt.Sprintf(NoImage+"%s (%s): booting", in.Device, a.Kind())}
	}
	size := uint64(0)
	if a.Info != nil {
		size = a.Info.Size >> 20
	}
	made := "an unknown kernel"
	if a.Record != nil && a.Record.KernelRelease != "" {
		made = a.Record.KernelRelease
	}
	what := fmt.Sprintf("image of %s on %s (%d MiB)", made, in.Device, size)
	if in.Scanned && !madeHere(a.Record, in.Params) {
		return Decision{Action: Boot, LeaveImage: true, ImageMiB: size, Reason: fmt.Sprintf(
			"%s found by a scan, not made by a boot of this root (root=%s): booting, "+LeftAsItIs+"; name its device with resume= to resume it", what, in.Params.Root)}
	}
	notResuming := func(why string) Decision {
		if in.Params.Keep {
			return Decision{Action: PowerOff, ImageMiB: size, Reason: fmt.Sprintf("%s: %s; hibernate.keep=1: powering off, image kept", what, why)}
		}
		return Decision{Action: Discard, ImageMiB: size, Reason: fmt.Sprintf("%s: %s"+Discarding, what, why)}
	}
	if in.Params.NoResume {
		return notResuming(NoResume)
	}
	if in.HibernationOff != "" {
		return notResuming(in.HibernationOff)
	}
	if !a.Valid() {
		return notResuming(NotValid + " (" + strings.Join(a.Problems, "; ") + ")")
	}
	if a.Record != nil && a.Record.KernelRelease != "" && a.Record.KernelRelease != in.RunningRelease {
		if in.Params.Kexeced {
			return Decision{Action: Resume, ImageMiB: size, Reason: fmt.Sprintf("%s, but running %s after a kexec already: resuming in place", what, in.RunningRelease)}
		}
		return Decision{Action: Kexec, ImageMiB: size, KexecRelease: a.Record.KernelRelease,
			Reason: fmt.Sprintf("%s, running %s: "+KexecInto+"%s", what, in.RunningRelease, a.Record.KernelRelease)}
	}
	return Decision{Action: Resume, ImageMiB: size, Reason: what + ": resuming"}
}

// madeHere says whether an image's record was stamped by a boot of the root this boot mounts
// (the same root= on both command lines). Without a record nothing says so.
func madeHere(rec *swsusp.Record, p Params) bool {
	if rec == nil || p.Root == "" {
		return false
	}
	then, _ := ParseCmdline(rec.Cmdline) // a bad word there changes nothing about root=
	return then.Root == p.Root
}
