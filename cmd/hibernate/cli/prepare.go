package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// prepareArgs is the parsed command line of prepare.
type prepareArgs struct {
	o    hibernate.Options
	verb string
	root string
}

func prepareFlags(env Env) (*flagSet, *prepareArgs) {
	a := prepareArgs{o: hibernate.Options{Out: env.Stderr}}
	fs := newFlags(env, "prepare", "--for hibernate|hybrid-sleep|suspend-then-hibernate [--dry-run]", `
Makes systemd's own hibernation go through hibernate's checks and image record: make install
and the package run it from systemd-hibernate.service, systemd-hybrid-sleep.service and
systemd-suspend-then-hibernate.service (a drop-in's ExecStartPre), so that 'systemctl
hibernate', the desktop's menu, logind's HandleLidSwitch=hibernate and UPower's
CriticalPowerAction=Hibernate run them before systemd-sleep writes the image. It runs every
check of 'hibernate check' and, where one fails, exits 1 with the reason (in the journal:
journalctl -u systemd-hibernate), nothing changed: the service fails and systemd-sleep does
not run. Otherwise it stamps the image record of this boot on the swap area (a later boot under
another kernel kexecs into this one), sets /sys/power/resume where the kernel has none, and
writes systemd's HibernateLocation EFI variable where nothing else tells the next boot the
place; the rest is systemd-sleep's (its hooks, once; its HibernateMode; the write of disk).
Without systemd, 'hibernate now' is the whole path.`)
	fs.StringVar(&a.verb, "for", "", "the systemd-sleep action that follows: "+strings.Join(hibernate.SleepVerbs, ", "))
	fs.BoolVar(&a.o.DryRun, "dry-run", false, "run the checks, print what would be done, and change nothing")
	overrideFlags(fs, &a.o)
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

func runPrepare(env Env, args []string) error {
	fs, a := prepareFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if a.verb == "" {
		return fmt.Errorf("%w: prepare needs --for (%s)", errUsage, strings.Join(hibernate.SleepVerbs, ", "))
	}
	p, err := hibernate.Prepare(sysfs.New(a.root), a.verb, a.o)
	if errors.Is(err, hibernate.ErrNotReady) {
		return &ExitError{Code: 1, Err: fmt.Errorf("refusing systemd-sleep %s: %w", a.verb, err)}
	}
	if err != nil {
		return err
	}
	verb := "did"
	if a.o.DryRun {
		verb = "would"
	}
	for _, l := range p.Lines() {
		fmt.Fprintf(env.Stdout, "%s %s\n", verb, l)
	}
	if len(p.Steps) == 0 {
		fmt.Fprintf(env.Stdout, "nothing to change: the record names this boot and the resume device is set\n")
	}
	return nil
}
