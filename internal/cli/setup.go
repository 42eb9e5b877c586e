package cli

import (
	"fmt"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/swapsetup"
)

func runSetup(env Env, args []string) error {
	fs := newFlags(env, "setup", "--device DEV [--label L] [--force] [--dry-run] [--json]", `
Makes the swap that hibernation needs and the kernel parameters that find it again:
DEV (a partition: /dev/sdb2, UUID=..., PARTLABEL=...) becomes a swap area (kept as it is
when it already is one), is activated, and this boot's hibernation is pointed at it
(/sys/power/resume). Prints the resume= parameter for the boot loader; nothing is asked of you.`)
	var o swapsetup.Options
	fs.StringVar(&o.Device, "device", "", "the partition to use for swap")
	fs.StringVar(&o.Label, "label", "", "swap area label, for a new area")
	fs.IntVar(&o.Priority, "priority", -1, "swapon priority (default: the kernel's)")
	fs.BoolVar(&o.Force, "force", false, "remake the swap area (new UUID) or overwrite another file system")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print every change and make none")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	root := fs.String("root", "/", "the machine's root (a fake tree in tests)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Device == "" {
		return fmt.Errorf("--device is required (swap files come later): %w", errUsage)
	}
	var sw swapsetup.Swapper = swapsetup.SystemSwapper{}
	if *root != "/" {
		sw = swapsetup.RootSwapper{Root: *root}
	}
	res, err := swapsetup.SetupPartition(sysfs.New(*root), sw, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, res)
	}
	verb := ""
	if o.DryRun {
		verb = "would "
	}
	for _, a := range res.Actions {
		fmt.Fprintf(env.Stdout, "%s%s\n", verb, a)
	}
	fmt.Fprintf(env.Stdout, "kernel parameters: %s\n", res.KernelParams)
	return nil
}
