package hibernate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// SuspendThenHibernateVerb is the action systemd-sleep passes the hooks for
// suspend-then-hibernate, whichever step it is at (SYSTEMD_SLEEP_ACTION says which: suspend,
// hibernate, suspend-after-failed-hibernate).
const SuspendThenHibernateVerb = "suspend-then-hibernate"

// wakeAlarm is the RTC's wake alarm: seconds since the epoch, "" when none is set (the kernel
// clears it once it fires). Written, it takes seconds since the epoch, or 0 to clear it.
const wakeAlarm = "sys/class/rtc/rtc0/wakealarm"

// Woken by what, in SuspendResult.WokenBy.
const (
	WokenByAlarm = "alarm" // the RTC: the time was up, the machine hibernates
	WokenByOther = "other" // before the alarm (a key, the lid, the power button): it stays up
)

// SuspendResult says how a suspend-then-hibernate went.
type SuspendResult struct {
	// Plan is the hibernation's that follows the alarm, as planned before the suspend (the
	// checks passed then; they run again after the alarm).
	Plan NowPlan `json:"plan"`
	// Alarm is when the RTC was to wake the machine; Suspended how long it slept in RAM (by the
	// wall clock, which runs in suspend).
	Alarm     time.Time     `json:"alarm"`
	Suspended time.Duration `json:"suspended_ns"`
	WokenBy   string        `json:"woken_by,omitempty"`
	Hooks     []HookRun     `json:"hooks"` // the suspend's (the hibernation's are in Hibernation)
	// Hibernation is the hibernation after the alarm; nil when the machine was woken before.
	Hibernation *Result `json:"hibernation,omitempty"`
	// SuspendedAgain says that the hibernation after the alarm failed and the machine was
	// suspended again, as systemd-sleep does, rather than left running.
	SuspendedAgain bool `json:"suspended_again,omitempty"`
}

// SuspendThenHibernate is suspend-then-hibernate for any init: it runs every check of Now and
// refuses (ErrNotReady, nothing changed) where the hibernation would not come back; then runs the
// pre hooks ("pre suspend-then-hibernate", SYSTEMD_SLEEP_ACTION=suspend), sets the RTC to wake
// the machine after the delay and suspends it to RAM. Woken, it clears the alarm where it is
// still set and runs the post hooks. Woken before the alarm (by the user), the machine stays up.
// Woken by the alarm, it hibernates (Now, its hooks told SYSTEMD_SLEEP_ACTION=hibernate); where
// that fails, it suspends again (suspend-after-failed-hibernate) rather than leave a machine
// that was to sleep running on its battery. With DryRun it returns the plan and changes nothing.
func SuspendThenHibernate(fs sysfs.FS, o Options, after time.Duration) (SuspendResult, error) {
	var res SuspendResult
	if after < time.Second {
		return res, fmt.Errorf("--after-suspend %s: the RTC counts whole seconds; give 1s or more", after)
	}
	if err := canSuspend(fs); err != nil {
		return res, err
	}
	o.thenHibernate = true
	k := newKmsg(fs, o)
	p, err := checkedPlan(fs, o, k, "hibernate now --after-suspend")
	if err != nil {
		return res, err
	}
	res.Plan = p
	res.Alarm = time.Now().Add(after).Truncate(time.Second)
	if o.DryRun {
		return res, nil
	}
	if err := suspendOnce(fs, o, k, &res, "suspend"); err != nil {
		return res, err
	}
	if res.WokenBy == WokenByOther {
		k.logf("woken after %s, before the alarm: staying up", res.Suspended.Round(time.Second))
		return res, nil
	}
	k.logf("woken by the alarm after %s: hibernating", res.Suspended.Round(time.Second))
	hr, err := Now(fs, o)
	res.Hibernation = &hr
	if err == nil || errors.Is(err, ErrInterrupted) {
		return res, err
	}
	k.logf("the hibernation failed (%v): suspending to RAM again, as systemd-sleep does", err)
	var again SuspendResult // no alarm: only the user wakes it
	if serr := suspendOnce(fs, o, k, &again, "suspend-after-failed-hibernate"); serr != nil {
		return res, errors.Join(err, serr)
	}
	res.SuspendedAgain = true
	res.Hooks = append(res.Hooks, again.Hooks...)
	return res, err
}

// canSuspend says why this machine cannot suspend to RAM with a wake alarm, or nil: mem in
// /sys/power/state, an RTC whose wake alarm is free (another program's alarm is not replaced).
func canSuspend(fs sysfs.FS) error {
	state, err := fs.ReadString("sys/power/state")
	if err != nil {
		return fmt.Errorf("read /sys/power/state: %w", err)
	}
	if !strings.Contains(" "+state+" ", " mem ") {
		return fmt.Errorf("--after-suspend: /sys/power/state offers %q, no mem: this machine cannot suspend to RAM", state)
	}
	cur, err := fs.ReadString(wakeAlarm)
	switch {
	case err != nil:
		return fmt.Errorf("--after-suspend: no RTC wake alarm (/%s: %v): nothing would wake the machine to hibernate", wakeAlarm, err)
	case cur != "":
		return fmt.Errorf("--after-suspend: an RTC wake alarm is set already (/%s holds %s): another program's, not replaced (clear it with: echo 0 > /%s)", wakeAlarm, cur, wakeAlarm)
	}
	return nil
}

// suspendOnce runs the pre hooks (SYSTEMD_SLEEP_ACTION=env), sets the alarm (where res.Alarm is
// set), suspends to RAM, and once woken says by what, clears the alarm if it is still set, and
// runs the post hooks. It holds the lock of Now while it does.
func suspendOnce(fs sysfs.FS, o Options, k kmsg, res *SuspendResult, env string) error {
	unlock, err := lock(fs)
	if err != nil {
		return err
	}
	defer unlock()
	var hooks []string
	if !o.NoHooks {
		if hooks, _, err = findHooks(fs); err != nil {
			return err
		}
	}
	hook := func(phase string) {
		for _, h := range hooks {
			r := runHook(fs, h, phase, SuspendThenHibernateVerb, env, o.HookTimeout)
			res.Hooks = append(res.Hooks, r)
			k.logf("hook %s", r)
		}
	}
	write := o.writer()
	hook("pre")
	defer hook("post")
	if !res.Alarm.IsZero() {
		if err := setAlarm(fs, write, res.Alarm); err != nil {
			return err
		}
		k.logf("suspending to RAM; the RTC wakes the machine at %s (%s from now) to hibernate", res.Alarm.Format(time.RFC3339), time.Until(res.Alarm).Round(time.Second))
	} else {
		k.logf("suspending to RAM (%s)", env)
	}
	before := time.Now()
	err = write(fs, "sys/power/state", "mem")
	woke := time.Now()
	res.Suspended = max(woke.Round(0).Sub(before.Round(0)), 0)
	if res.Alarm.IsZero() {
		return err
	}
	left, _ := fs.ReadString(wakeAlarm)
	res.WokenBy = WokenByOther
	if left == "" || !woke.Before(res.Alarm) {
		res.WokenBy = WokenByAlarm
	}
	if left != "" {
		if cerr := write(fs, wakeAlarm, "0"); cerr != nil {
			k.logf("could not clear the RTC wake alarm (/%s holds %s): %v", wakeAlarm, left, cerr)
		}
	}
	if err != nil {
		return fmt.Errorf("suspend to RAM (mem to /sys/power/state): %w", err)
	}
	return nil
}

// setAlarm sets the RTC to wake the machine at t, and reads it back.
func setAlarm(fs sysfs.FS, write func(sysfs.FS, string, string) error, t time.Time) error {
	want := strconv.FormatInt(t.Unix(), 10)
	if err := write(fs, wakeAlarm, want); err != nil {
		return fmt.Errorf("set the RTC wake alarm (/%s) to %s: %w", wakeAlarm, want, err)
	}
	if got, err := fs.ReadString(wakeAlarm); err != nil || got != want {
		return fmt.Errorf("the RTC wake alarm (/%s) reads %q after %s was written (%v): nothing would wake the machine to hibernate", wakeAlarm, got, want, err)
	}
	return nil
}
