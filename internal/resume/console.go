package resume

import "github.com/hibernate-linux/hibernate/internal/initramfs/config"

// The console lines of /init that the end-to-end tests (qemu-tests) wait for. /init prints
// them with these constants and the tests look for the same constants, so that rewording a
// line rewords what the tests wait for: a VM test cannot go on waiting for a line that is no
// longer printed. A constant with a %s is the line's format; one without is the fixed part of
// the line that the tests match, the values around it added by both sides.
const (
	// LinePrefix begins every console line of /init, before its timestamp.
	LinePrefix = "hibernate: "

	// Starting is /init's first line; the running kernel's release follows it. hibernate check
	// knows our /init by it (config.InitMarker, in the binary's bytes).
	Starting = config.InitMarker + " "

	// KexecInto ends the decision line for an image that another kernel made; that kernel's
	// release follows it.
	KexecInto = "kexec into "

	// KexecParam is added to the command line of the kernel that /init kexecs into, so that
	// its /init resumes in place; the line that boots that kernel shows its command line.
	KexecParam = "hibernate.kexec=1"

	// NoResume is the reason not to resume an image when the command line says noresume.
	NoResume = "noresume on the command line"

	// NotValid begins the reason not to resume an image that is not valid; its problems follow
	// in parentheses.
	NotValid = "not valid"

	// Discarding ends the decision line for an image that /init does not resume: it
	// invalidates the image and boots.
	Discarding = ": discarding it"

	// Discarded ends the line that says that the image on a device ("image on DEV ") was
	// invalidated.
	Discarded = "discarded: the area is a plain swap area again"

	// NextHibernation begins the line that says which device /init left in /sys/power/resume
	// for the booted system's next hibernation (configureNextHibernation).
	NextHibernation = "resume device for the next hibernation: "

	// TakesNoImage ends the reason not to resume when this kernel takes no image (nohibernate,
	// hibernate=no, lockdown); it is followed by Discarding, or by a power-off with hibernate.keep=1.
	TakesNoImage = "this kernel takes no image"

	// LeftAsItIs ends the decision to boot beside an image that is not this machine's (found
	// by a scan, with no record of this root) or not the kernel's kind.
	LeftAsItIs = "image left as it is"

	// MountedBootReadOnly says that the boot file system was mounted to read a kernel for kexec,
	// its block device read-only first; the device comes before it, the mount option after.
	MountedBootReadOnly = "read-only, its block device read-only"

	// ResumeDeviceIs says which device the resume device's spec is (the spec, the device).
	ResumeDeviceIs = "resume device %s is %s"

	// KexecLoaded begins the line of the kernel loaded for kexec, just before /init boots it.
	KexecLoaded = "kexec: loaded "

	// NoImage begins the decision to boot when the resume device holds no image; the device
	// and what it holds, in parentheses, follow it.
	NoImage = "no hibernation image on "

	// WaitingFor says that /init waits for the resume device (the spec) at most this long
	// (as time.Duration prints it).
	WaitingFor = "waiting for resume device %s, up to %s"

	// WaitingForever says that /init waits for the resume device (the spec) without a bound
	// (resumewait).
	WaitingForever = "waiting for resume device %s, as long as it takes (resumewait)"

	// DeviceNotFound is the decision to boot when the resume device (the spec) did not appear
	// within the wait.
	DeviceNotFound = "resume device %s not found: booting"

	// LoadModuleFailed begins the line of a module that failed to load; the module's file and
	// the error follow it.
	LoadModuleFailed = "load module "

	// WritingResume ends the line of /init starting the restore: the resume device's number
	// goes to /sys/power/resume.
	WritingResume = " to /sys/power/resume"
)

// The lines about systemd's HibernateLocation EFI variable (location.go).
const (
	// LocationUsed says that the resume device comes from the variable: its UUID and offset
	// (pages); the variable's other fields follow in parentheses.
	LocationUsed = "resume device from systemd's HibernateLocation EFI variable: UUID=%s at page %d"

	// LocationCleared begins the line saying that /init deleted the variable (and looked); when,
	// in parentheses, follows it.
	LocationCleared = "HibernateLocation EFI variable cleared"

	// LocationNotThisSystem begins the line of a variable that another system wrote (its
	// os-release ID or IMAGE_ID is not this initramfs's): not resumed from, left in place; the
	// field that differs follows it.
	LocationNotThisSystem = "HibernateLocation EFI variable not used, left in place: "

	// LocationUnknownSystem begins the line of a variable that /init cannot match, its
	// initramfs naming no os-release; the variable's fields follow it.
	LocationUnknownSystem = "HibernateLocation EFI variable not used: this initramfs does not say which system it is for (rebuild it with this hibernate): "

	// LocationUnreadable begins the line of a variable that could not be read or parsed (or
	// efivarfs not mounted); why follows it.
	LocationUnreadable = "HibernateLocation EFI variable not used, unreadable: "

	// LocationElsewhere begins the warning that resume= (or our config) names another place
	// than the variable does; resume= wins, as in systemd's initrd.
	LocationElsewhere = "warning: the HibernateLocation EFI variable names another place than the resume device: "
)

// The lines of the unlock step (unlock.go), before the decision.
const (
	// PassphrasePrompt asks for the passphrase of a volume (its name, its LUKS device's spec).
	PassphrasePrompt = "Passphrase for %s (%s): "

	// WrongPassphrase says that the passphrase typed did not open the volume (name, try, tries).
	WrongPassphrase = "no key slot of %s opens with that passphrase (try %d of %d)"

	// Unlocked begins the line of a volume opened: its name, the device, with what (WithKeyFile,
	// its passphrase, the key passed through a kexec), how long it took.
	Unlocked = "unlocked "

	// WithKeyFile follows the device on the Unlocked line of a volume opened with the key file
	// its initramfs holds (no passphrase asked).
	WithKeyFile = "with its key file"

	// NoPassphraseWorked begins the line of /init giving up on a volume after its tries; the
	// machine powers off, nothing written.
	NoPassphraseWorked = "no passphrase opened "

	// Activated begins the line of the LVM logical volumes activated.
	Activated = "activated LVM logical volumes "

	// UdevRecords begins the line naming the device-mapper devices whose udev records /init
	// wrote before switching to root (udevdb.go), so that the root's udev and systemd take them.
	UdevRecords = "udev records for the root's udev and systemd: "

	// KeysPassed says that the keys typed at this boot go to the kernel kexec'ed into, in the
	// memory of its initramfs; the count follows.
	KeysPassed = "passing the keys typed at this boot to it, in its initramfs in memory: "
)
