package cli

import (
	"fmt"
	"time"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// nowArgs is the parsed command line of now.
type nowArgs struct {
	o    hibernate.Options
	root string
}

func nowFlags(env Env) (*flagSet, *nowArgs) {
	a := nowArgs{o: hibernate.Options{Out: env.Stderr}}
	o := &a.o
	fs := newFlags(env, "now", "[--mode MODE] [--image-size BYTES|auto|min] [--dry-run] [--test LEVEL] [--no-hooks] [--hook-timeout D]", `
Hibernates this machine: runs every check of 'hibernate check' and refuses (exit 1, nothing
changed) unless hibernation will come back; runs the pre hooks (executables in
/etc/hibernate/hooks.d, /etc/systemd/system-sleep and /usr/lib/systemd/system-sleep, by name,
with "pre hibernate" and SYSTEMD_SLEEP_ACTION=hibernate, as systemd-sleep does: one that fails
is said and the hibernation goes on; one writable by another user than root is not run); then sets /sys/power/{disk,image_size,resume} where needed, syncs, on a machine booted
through UEFI writes systemd's HibernateLocation EFI variable (as systemd-sleep does, read back
and said: an initrd that reads it finds the image without resume=), and writes disk to
/sys/power/state. THE MACHINE POWERS OFF. After the next boot resumes the image (or on any
failure), this command puts every setting back, clears the HibernateLocation variable if the
boot left it (unless another system's by then), runs the post hooks ("post hibernate") and
says how long the machine was off and, where the kernel log says it, how long the restore took.
Ctrl-C, SIGTERM or SIGHUP before the write of disk stops it and puts everything back; after the
resume they wait for the settings and the post hooks.`)
	fs.StringVar(&o.Mode, "mode", "", "shutdown, platform (ACPI S4), reboot or suspend (hybrid); default platform where offered, else shutdown")
	fs.StringVar(&o.ImageSize, "image-size", "auto", "target image size in bytes; auto keeps the kernel's (2/5 of RAM); min asks for the smallest")
	fs.BoolVar(&o.DryRun, "dry-run", false, "run the checks, print the plan (each step, then what is put back after the resume or a failure), and change nothing")
	fs.StringVar(&o.Test, "test", "", "a pm_test level (freezer, devices, platform, processors, core): go through hibernation up to it and come back without powering off")
	overrideFlags(fs, o)
	fs.BoolVar(&o.NoHooks, "no-hooks", false, "run no pre or post hooks")
	fs.DurationVar(&o.HookTimeout, "hook-timeout", hibernate.DefaultHookTimeout, "kill a hook that runs longer (said, and the hibernation goes on)")
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

// overrideFlags are the flags that let now and prepare go on past a failed check.
func overrideFlags(fs *flagSet, o *hibernate.Options) {
	fs.StringSliceVar(&o.IgnoreChecks, "ignore-check", nil, "go on although this named check fails (loudly)")
	fs.BoolVar(&o.NoRecord, "no-record", false, "go on without an image record of this boot: a boot under another kernel then cannot kexec into this one")
}

func runNow(env Env, args []string) error {
	fs, a := nowFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	o := a.o
	res, err := hibernate.Now(sysfs.New(a.root), o)
	if err != nil {
		return err
	}
	if o.DryRun {
		for _, l := range res.Plan.Lines() {
			fmt.Fprintf(env.Stdout, "would %s\n", l)
		}
		return nil
	}
	fmt.Fprintf(env.Stdout, "resumed: off for %s\n", res.Asleep.Round(time.Second))
	if res.RestoreLog != "" {
		fmt.Fprintf(env.Stdout, "restore: %s (kernel: %s)\n", res.Restore.Round(10*time.Millisecond), res.RestoreLog)
	} else {
		fmt.Fprintln(env.Stdout, "restore: the kernel log does not say how long it took")
	}
	for _, h := range res.Hooks {
		fmt.Fprintf(env.Stdout, "hook: %s\n", h)
	}
	if res.Location != "" {
		fmt.Fprintf(env.Stdout, "HibernateLocation EFI variable: wrote %s; %s\n", res.Location, res.LocationAfter)
	}
	return nil
}
