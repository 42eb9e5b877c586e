package hibernate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// SleepVerbs are systemd-sleep's actions that write a hibernation image: the services of these
// names (systemd-hibernate.service and its two siblings) run Prepare first.
var SleepVerbs = []string{"hibernate", "hybrid-sleep", "suspend-then-hibernate"}

// Prepare is hibernate now for a program that writes disk to /sys/power/state itself:
// systemd-sleep, which systemd-hibernate.service (and hybrid-sleep's, suspend-then-hibernate's)
// runs after Prepare, from a drop-in's ExecStartPre. It runs every check and refuses as Now
// does (ErrNotReady: the service fails, systemd-sleep never runs, and nothing was changed);
// then it takes only the steps that make the image one our /init resumes and kexecs for: the
// image record of this boot stamped on the area, the resume device set where the kernel has
// none, and the HibernateLocation EFI variable where nothing else tells the next boot the
// place. The rest is systemd-sleep's: its hooks (run once, in its order), /sys/power/disk
// (its HibernateMode), its own HibernateLocation, the write of disk. Nothing is put back
// after: what it set is what systemd-sleep's hibernation needs, and a boot resets it.
func Prepare(fs sysfs.FS, verb string, o Options) (NowPlan, error) {
	if !slices.Contains(SleepVerbs, verb) {
		return NowPlan{}, fmt.Errorf("prepare --for %q: want one of %s", verb, strings.Join(SleepVerbs, ", "))
	}
	o.NoHooks, o.Mode, o.ImageSize, o.Test = true, "", ImageSizeKernel, ""
	k := newKmsg(fs, o)
	full, err := checkedPlan(fs, o, k, "hibernate prepare (for systemd-sleep "+verb+")")
	if errors.Is(err, ErrNotReady) {
		k.logf("refusing: systemd-sleep %s does not run, and nothing was changed", verb)
	}
	if err != nil {
		return NowPlan{}, err
	}
	p := prepareSteps(full)
	if o.DryRun {
		return p, nil
	}
	if _, err := Apply(fs, p, o); err != nil {
		return p, err
	}
	k.logf("ready: systemd-sleep %s writes the image now", verb)
	return p, nil
}

// prepareSteps keeps of a plan of Now the steps Prepare takes, and no undo: the restamp, the
// resume device, and a HibernateLocation the next boot needs (one written best effort is left
// to systemd-sleep, which writes its own).
func prepareSteps(full NowPlan) NowPlan {
	p := NowPlan{Notes: full.Notes}
	for _, s := range full.Steps {
		switch {
		case s.Kind == ActRestamp,
			s.Kind == ActWrite && (s.Path == "/sys/power/resume" || s.Path == "/sys/power/resume_offset"),
			s.Kind == ActSetLocation && !s.BestEffort:
			p.Steps = append(p.Steps, s)
		}
	}
	return p
}
