package cli

import (
	"time"

	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/units"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

const setupAbout = `
Makes the swap that hibernation needs and the kernel parameters that find it again, and
points this boot's hibernation at it (/sys/power/resume_offset, then /sys/power/resume).
One of:
  --device DEV          a partition (/dev/sdb2, UUID=..., PARTLABEL=...) becomes a swap area
                        (kept as it is when it already is one)
  --file PATH           a swap file (ext4, xfs, btrfs): allocated without holes (fallocate,
                        checked with FIEMAP), mode 0600, NOCOW on btrfs; resume_offset is the
                        page of the device holding its first block (on btrfs, mapped through
                        the chunk tree). Refused on tmpfs, nfs, overlay and the like, and on a
                        multi-device or non-single-profile btrfs, with the reason.
  --new-partition DISK  a swap partition in the free space of GPT disk DISK
--size for a new file or partition: BYTES (suffixes K, M, G, T) or auto. auto is the RAM
(MemTotal of /proc/meminfo) rounded up to a whole GiB: an image never holds more than RAM
(it is usually far less: image_size defaults to 2/5 of RAM and images are compressed), and a
swap that size never runs out while the machine is frozen, whatever runs at the time.
zram is never a resume device (it is RAM). On a machine whose daily swap is zram, make a
hibernation file with --file PATH --hibernate-only: allocated once (its resume_offset never
changes), never activated by setup nor by /etc/fstab; hibernate now activates it just before the
image is written, at the kernel's lowest priority (nothing else swaps to it while zram has room),
and deactivates it after the resume, and zram stays the daily swap.
Prints resume=UUID=... [resume_offset=N] for the boot loader; --write-boot-config puts them
into /etc/default/grub (GRUB_CMDLINE_LINUX_DEFAULT), /etc/kernel/cmdline (each when present;
kernel-install's command line is made from the running one where systemd-boot is installed,
and its entries get it when kernel-install next writes them, as hibernate initramfs build's
boot loader hook has it do) and /etc/hibernate/resume.json, with a backup
(FILE.hibernate-backup) of each file changed.
Running setup again changes nothing; --undo takes back what it added (recorded in
/var/lib/hibernate/setup.json). Below --root other than /, swapon is never done.`

// parseSize reads --size: bytes, with an optional K, M, G or T (powers of 1024; KiB, MiB… too),
// or auto (0).
func parseSize(s string) (int64, error) {
	if u := strings.ToLower(strings.TrimSpace(s)); u == "" || u == "auto" {
		return 0, nil
	}
	n, err := units.ParseBytes(s)
	if err == nil && n == 0 {
		err = fmt.Errorf("0 bytes")
	}
	if err != nil {
		return 0, fmt.Errorf("--size %q: %v; or auto: %w", s, err, errUsage)
	}
	return n, nil
}

// setupArgs is the parsed command line of setup.
type setupArgs struct {
	o      swapsetup.Options
	size   string
	undo   bool
	asJSON bool
	root   string
}

func setupFlags(env Env) (*flagSet, *setupArgs) {
	var a setupArgs
	fs := newFlags(env, "setup", "--device DEV | --file PATH [--size BYTES|auto] | --new-partition DISK [flags]; or --undo", setupAbout)
	fs.StringVar(&a.o.Device, "device", "", "the partition to use for swap")
	fs.StringVar(&a.o.File, "file", "", "the swap file to make or use (absolute path)")
	fs.StringVar(&a.o.NewPartition, "new-partition", "", "a GPT disk to make a swap partition in")
	fs.StringVar(&a.size, "size", "auto", "size of a new swap file or partition: BYTES (K/M/G/T) or auto (RAM, rounded up to a GiB)")
	fs.StringVar(&a.o.Label, "label", "", "swap area label, for a new area")
	fs.IntVar(&a.o.Priority, "priority", -1, "swapon priority (default: the kernel's)")
	fs.BoolVar(&a.o.Force, "force", false, "remake the swap area (new UUID), overwrite another file system or file")
	fs.BoolVar(&a.o.Fstab, "fstab", false, "add the swap to /etc/fstab (once)")
	fs.BoolVar(&a.o.HibernateOnly, "hibernate-only", false, "with --file: a hibernation file, active only while hibernate now writes the image (for zram-only machines)")
	fs.BoolVar(&a.o.WriteBootConfig, "write-boot-config", false, "write resume= and resume_offset= into the boot configuration")
	fs.BoolVar(&a.undo, "undo", false, "take back what setup added")
	fs.BoolVar(&a.o.DryRun, "dry-run", false, "print the plan (every change, in order) and make none")
	fs.BoolVar(&a.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

func parseSetup(env Env, args []string) (setupArgs, error) {
	fs, p := setupFlags(env)
	if err := parse(fs, args); err != nil {
		return *p, err
	}
	a := *p
	var err error
	if a.o.Size, err = parseSize(a.size); err != nil {
		return a, err
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	n := 0
	for _, s := range []string{a.o.Device, a.o.File, a.o.NewPartition} {
		if s != "" {
			n++
		}
	}
	if a.undo && (n > 0 || a.o.Fstab || a.o.WriteBootConfig) {
		return a, fmt.Errorf("--undo takes back the recorded setup: give it no swap or --fstab/--write-boot-config: %w", errUsage)
	}
	if n > 1 {
		return a, fmt.Errorf("give one of --device, --file and --new-partition: %w", errUsage)
	}
	if fs.Changed("size") && a.o.Device != "" {
		return a, fmt.Errorf("--size is for --file and --new-partition (a partition's size is its own): %w", errUsage)
	}
	return a, nil
}

func runSetup(env Env, args []string) error {
	a, err := parseSetup(env, args)
	if err != nil {
		return err
	}
	var res swapsetup.Result
	plan, err := planSetup(a)
	if err == nil && a.o.DryRun {
		res, err = plan.DryRun() // the plan Apply would carry out, nothing changed
	} else if err == nil {
		var sw swapsetup.Swapper = swapsetup.SystemSwapper{}
		if a.root != "/" {
			sw = swapsetup.RootSwapper{Root: a.root}
		}
		res, err = plan.Apply(sw)
	}
	if a.asJSON {
		if jerr := printJSON(env.Stdout, res); jerr != nil {
			return jerr
		}
		return err
	}
	verb := ""
	if a.o.DryRun {
		verb = "would "
	}
	for _, act := range res.Actions {
		fmt.Fprintf(env.Stdout, "%s%s\n", verb, act)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(env.Stdout, "note: %s\n", n)
	}
	if err != nil {
		return err
	}
	if !a.undo {
		fmt.Fprintf(env.Stdout, "kernel parameters: %s\n", res.KernelParams)
	}
	return nil
}

// planSetup decides what setup (or --undo) does to the machine below --root.
func planSetup(a setupArgs) (*swapsetup.Plan, error) {
	fs := sysfs.New(a.root)
	if a.undo {
		return swapsetup.PlanUndo(fs)
	}
	// Our image record names this boot, so that a boot under another kernel can find and kexec
	// this one; setup stamps it while the area is not active yet.
	rec := imagerecord.ThisBoot(fs, a.root, imagerecord.BootFSUUID(fs), time.Now())
	a.o.Record = &rec
	return swapsetup.PlanSetup(fs, a.o)
}
