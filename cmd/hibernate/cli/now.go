package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// nowArgs is the parsed command line of now.
type nowArgs struct {
	o            hibernate.Options
	root         string
	afterSuspend time.Duration
	asJSON       bool
}

func nowFlags(env Env) (*flagSet, *nowArgs) {
	a := nowArgs{o: hibernate.Options{Out: env.Stderr}}
	o := &a.o
	fs := newFlags(env, "now", "[--mode MODE] [--image-size auto|kernel|min|BYTES] [--compressor lzo|lz4] [--after-suspend D] [--dry-run] [--test LEVEL] [--no-hooks] [--hook-timeout D]", `
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
resume they wait for the settings and the post hooks.

--after-suspend D is suspend-then-hibernate for any init: after the checks, it runs the hooks
("pre suspend-then-hibernate", SYSTEMD_SLEEP_ACTION=suspend, as systemd-sleep passes them),
sets the RTC wake alarm (/sys/class/rtc/rtc0/wakealarm) D ahead and suspends to RAM. Woken by
the alarm, it hibernates (the hooks again, SYSTEMD_SLEEP_ACTION=hibernate); woken before it (a
key, the lid, the power button), the machine stays up and the alarm is cleared. A hibernation
that fails after the alarm suspends the machine again rather than leave it running. Refused
where the machine cannot suspend (no mem in /sys/power/state) or has no free RTC alarm.`)
	fs.StringVar(&o.Mode, "mode", "", "shutdown, platform (ACPI S4), reboot or suspend (hybrid); default platform where offered, else shutdown")
	fs.StringVar(&o.ImageSize, "image-size", hibernate.DefaultImageSize, "the image's target (/sys/power/image_size, put back after): auto keeps what processes hold and leaves out the page cache none maps (capped by the free swap); kernel leaves the kernel's (2/5 of RAM); min asks for the smallest; or BYTES")
	fs.StringVar(&o.Compressor, "compressor", "", "store the image with lzo or lz4 (Linux 6.9 and later; put back after); refused for lz4 where the next boot could not read it. Default: the kernel's (lzo unless hibernate.compressor=)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "run the checks, print the plan (each step, then what is put back after the resume or a failure), and change nothing")
	fs.StringVar(&o.Test, "test", "", "a pm_test level (freezer, devices, platform, processors, core): go through hibernation up to it and come back without powering off")
	overrideFlags(fs, o)
	fs.BoolVar(&o.NoHooks, "no-hooks", false, "run no pre or post hooks")
	fs.DurationVar(&o.HookTimeout, "hook-timeout", hibernate.DefaultHookTimeout, "kill a hook that runs longer (said, and the hibernation goes on)")
	fs.DurationVar(&a.afterSuspend, "after-suspend", 0, "suspend to RAM first, and hibernate when the RTC wakes the machine after this long (30m, 2h); woken earlier, stay up")
	fs.BoolVar(&a.asJSON, "json", false, `with --after-suspend: print {"alarm","suspended_ns","woken_by","hooks","hibernation"?,...} at the end`)
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
	if a.afterSuspend != 0 {
		return runSuspendThenHibernate(env, a)
	}
	res, err := hibernate.Now(sysfs.New(a.root), o)
	if err != nil {
		return err
	}
	if o.DryRun {
		printPlan(env, res.Plan)
		return nil
	}
	printResumed(env, res)
	return nil
}

func printPlan(env Env, p hibernate.NowPlan) {
	for _, l := range p.Lines() {
		fmt.Fprintf(env.Stdout, "would %s\n", l)
	}
}

// runSuspendThenHibernate is now --after-suspend: it says when the alarm was, how long the
// machine slept in RAM and what woke it, then what the hibernation says.
func runSuspendThenHibernate(env Env, a *nowArgs) error {
	res, err := hibernate.SuspendThenHibernate(sysfs.New(a.root), a.o, a.afterSuspend)
	if a.asJSON && !errors.Is(err, hibernate.ErrNotReady) {
		if jerr := printJSON(env.Stdout, res); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil && res.Hibernation == nil {
		return err
	}
	if a.o.DryRun {
		fmt.Fprintf(env.Stdout, "would suspend to RAM, the RTC set to wake the machine at %s; woken by it:\n", res.Alarm.Format(time.RFC3339))
		printPlan(env, res.Plan)
		return nil
	}
	for _, h := range res.Hooks {
		fmt.Fprintf(env.Stdout, "hook: %s\n", h)
	}
	if res.WokenBy == hibernate.WokenByOther {
		fmt.Fprintf(env.Stdout, "woken before the alarm (%s): suspended for %s; staying up\n", res.Alarm.Format(time.RFC3339), res.Suspended.Round(time.Second))
		return nil
	}
	fmt.Fprintf(env.Stdout, "woken by the alarm: suspended for %s, then hibernated\n", res.Suspended.Round(time.Second))
	if err != nil {
		if res.SuspendedAgain {
			fmt.Fprintln(env.Stdout, "the hibernation failed: suspended to RAM again, and woken")
		}
		return err
	}
	printResumed(env, *res.Hibernation)
	return nil
}

// printResumed says how long the machine was off, the restore, the hooks and the EFI variable.
func printResumed(env Env, res hibernate.Result) {
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
}
