package hibernate

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// suspendMachine is ready's machine with an RTC whose wake alarm is free, and one hook.
func suspendMachine(t *testing.T) *faketree.Tree {
	t.Helper()
	tr := ready(t)
	tr.Write(wakeAlarm, "")
	hook(t, tr, "etc/hibernate/hooks.d/10-hook", "")
	return tr
}

// alarmFires is the write seam of a machine woken by its RTC alarm (fires) or by the user: the
// write of mem returns, with the alarm gone where it fired (the kernel clears it then).
// failDisk fails the hibernation's write of disk. /sys/power/state offers what it offered
// before, as the kernel's does.
func alarmFires(tr *faketree.Tree, fires, failDisk bool) func(fs sysfs.FS, file, value string) error {
	logged := logWrites(tr)
	return func(fs sysfs.FS, file, value string) error {
		offered := tr.Read("sys/power/state")
		if err := logged(fs, file, value); err != nil {
			return err
		}
		if file == "sys/power/state" {
			tr.Write(file, offered)
		}
		switch {
		case file == "sys/power/state" && value == "mem" && fires:
			return fs.WriteString(wakeAlarm, "")
		case file == "sys/power/state" && value == "disk" && failDisk:
			return errors.New("device or resource busy")
		}
		return nil
	}
}

func TestSuspendThenHibernate(t *testing.T) {
	for _, tc := range []struct {
		name            string
		fires, failDisk bool
		wokenBy         string
		again, err      bool
		after           []string // the hooks and writes after the write of mem, in order
	}{
		// Woken by the alarm: the hibernation, its hooks told SYSTEMD_SLEEP_ACTION=hibernate.
		{name: "woken by the alarm", fires: true, wokenBy: WokenByAlarm, after: []string{
			"10-hook post suspend-then-hibernate suspend",
			"10-hook pre suspend-then-hibernate hibernate",
			"write shutdown to /sys/power/disk",
			"write 297795584 to /sys/power/image_size",
			"write disk to /sys/power/state",
			"10-hook post suspend-then-hibernate hibernate",
		}},
		// Woken before: the alarm cleared, nothing more.
		{name: "woken by the user", wokenBy: WokenByOther, after: []string{
			"write 0 to /" + wakeAlarm,
			"10-hook post suspend-then-hibernate suspend",
		}},
		// The hibernation after the alarm fails: suspended again, not left running.
		{name: "hibernation fails", fires: true, failDisk: true, wokenBy: WokenByAlarm, again: true, err: true, after: []string{
			"10-hook post suspend-then-hibernate suspend",
			"10-hook pre suspend-then-hibernate hibernate",
			"write shutdown to /sys/power/disk",
			"write 297795584 to /sys/power/image_size",
			"write disk to /sys/power/state",
			"10-hook post suspend-then-hibernate hibernate",
			"10-hook pre suspend-then-hibernate suspend-after-failed-hibernate",
			"write mem to /sys/power/state",
			"10-hook post suspend-then-hibernate suspend-after-failed-hibernate",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := suspendMachine(t)
			start := time.Now()
			res, err := SuspendThenHibernate(tr.FS(), Options{Mode: "shutdown", write: alarmFires(tr, tc.fires, tc.failDisk)}, 90*time.Second)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want an error: %v", err, tc.err)
			}
			want := append([]string{
				"10-hook pre suspend-then-hibernate suspend",
				"write " + strconv.FormatInt(res.Alarm.Unix(), 10) + " to /" + wakeAlarm,
				"write mem to /sys/power/state",
			}, tc.after...)
			if got := hookLog(tr); got != strings.Join(want, "\n") {
				t.Fatalf("hooks and writes:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if d := res.Alarm.Sub(start); d < 89*time.Second || d > 91*time.Second {
				t.Fatalf("alarm at %s, %s after the start: want 90 s", res.Alarm, d)
			}
			if res.WokenBy != tc.wokenBy || (res.Hibernation != nil) != (tc.wokenBy == WokenByAlarm) || res.SuspendedAgain != tc.again {
				t.Fatalf("result %+v", res)
			}
			if got, was := tr.Read("sys/power/disk"), "[platform] shutdown reboot suspend test_resume"; got != was && got != "platform" {
				t.Fatalf("/sys/power/disk = %q after, want platform back", got)
			}
		})
	}
}

// Refused, nothing changed and no hook run, where the machine cannot suspend, another program's
// alarm is set, or the hibernation after would not come back.
func TestSuspendThenHibernateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(tr *faketree.Tree)
		want string
	}{
		{"no mem", func(tr *faketree.Tree) { tr.Write("sys/power/state", "freeze disk\n") }, "cannot suspend to RAM"},
		{"no RTC", func(tr *faketree.Tree) { os.Remove(tr.FS().Path(wakeAlarm)) }, "no RTC wake alarm"},
		{"another alarm", func(tr *faketree.Tree) { tr.Write(wakeAlarm, "1900000000\n") }, "another program's, not replaced"},
		{"no swap", func(tr *faketree.Tree) { tr.Swap() }, "no active disk swap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := suspendMachine(t)
			tc.edit(tr)
			_, err := SuspendThenHibernate(tr.FS(), Options{Mode: "shutdown", write: logWrites(tr)}, time.Minute)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := hookLog(tr); got != "" {
				t.Fatalf("refused, but:\n%s", got)
			}
		})
	}
	if _, err := SuspendThenHibernate(suspendMachine(t).FS(), Options{}, 500*time.Millisecond); err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Fatalf("half a second: %v", err)
	}
}
