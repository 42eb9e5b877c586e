package cli

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/watch"
)

func watchFlags(env Env) (*flagSet, *watch.Args) {
	fs := newFlags(env, "watch", "[--config FILE] [--ups NAME@HOST[:PORT]]... [--charge N] [--runtime S] [--grace D] [--dry-run]", `
Runs until stopped, following the power: UPSes through Network UPS Tools' upsd (--ups), and
the kernel's /sys/class/power_supply (batteries, mains). When on battery and the charge or the
runtime falls to the threshold, or the UPS says LB (low battery) or FSD (forced shutdown), it
waits the grace period (power coming back cancels), then hibernates as 'hibernate now' does:
once per outage. The runtime threshold rises, where needed, to the runtime budget: how long
hibernating takes now ('hibernate check' shows it: the image's estimate over the write speed
the last 'hibernate canary' measured, the freeze and pre hooks of the last hibernation, a
margin) plus the grace; on battery the log says the runtime left against it each minute. At start-up it runs 'hibernate check' and warns loudly if hibernation would not
come back. Settings come from the config file (`+watch.DefaultConfigFile+`, "key = value", the
keys are the flags' names), then the flags. See docs/watch.md.`)
	return fs, watch.Flags(fs.FlagSet)
}

func runWatch(env Env, args []string) error {
	fs, a := watchFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	c, err := a.Load()
	if err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	flags := 0
	if os.Getenv("JOURNAL_STREAM") == "" {
		flags = log.LstdFlags // journald stamps the lines itself
	}
	lg := log.New(env.Stderr, "hibernate watch: ", flags)
	root := sysfs.New(c.Root)
	svc := &watch.Service{
		Sources: c.Sources(watch.RealClock, lg.Printf),
		Policy:  c.Policy,
		Poll:    c.Poll,
		Logf:    lg.Printf,
		Check: func() []string {
			var out []string
			for _, f := range hibernate.Check(root).Failed() {
				out = append(out, fmt.Sprintf("%s: %s (fix: %s)", f.Name, f.Detail, f.Fix))
			}
			return out
		},
		DryRun: c.DryRun,
		Budget: func() (time.Duration, string, error) {
			b, err := hibernate.PredictBudget(root, hibernate.BudgetOptions{ImageSize: c.ImageSize, Speed: c.WriteSpeed})
			return b.Total, b.String(), err
		},
		Action: func(ctx context.Context, reason string) error {
			o := hibernate.Options{Mode: c.Mode, ImageSize: c.ImageSize, Compressor: c.Compressor, DryRun: c.DryRun, Out: env.Stderr}
			if c.DryRun {
				lg.Printf("DRY RUN: would hibernate now (%s)", reason)
			}
			res, err := hibernate.Now(root, o)
			switch {
			case c.DryRun && err != nil:
				lg.Printf("DRY RUN: hibernate now would refuse: %v", err)
			case c.DryRun:
				lg.Printf("DRY RUN: hibernate now's plan: %s", strings.Join(res.Plan.Lines(), "; "))
			case err == nil:
				lg.Printf("resumed after %s off", res.Asleep.Round(time.Second))
			}
			if c.DryRun {
				return nil
			}
			return err
		},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return svc.Run(ctx)
}
