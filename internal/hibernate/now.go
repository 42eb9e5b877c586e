package hibernate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Options for Now.
type Options struct {
	Mode         string            // shutdown, platform, reboot, suspend; "" = platform where offered, else shutdown
	ImageSize    string            // bytes, "auto" (leave the kernel's) or "min" (0)
	DryRun       bool              // print the plan, change nothing
	Test         string            // a pm_test level: freezer devices platform processors core
	IgnoreChecks []string          // check names to override
	NoRecord     bool              // go on without an image record of this boot (no kexec fallback at boot)
	Swapper      swapsetup.Swapper // swapoff/swapon, to restamp the record; nil: the system's
	NoHooks      bool              // run no hooks
	HookTimeout  time.Duration     // for each hook run; 0: DefaultHookTimeout
	Out          io.Writer

	// write replaces the sysfs writes of the steps, for tests of the failure paths.
	write func(fs sysfs.FS, file, value string) error
}

// Result says what happened.
type Result struct {
	Plan     []string      `json:"plan"`
	Asleep   time.Duration `json:"asleep_ns"` // wall time the machine was off (0 for a dry run or a test)
	Restored []string      `json:"restored"`
	Hooks    []HookRun     `json:"hooks"` // every run, pre then post, in order
	// Restore is how long the kernel took to read the image back, from the kernel log where it
	// says so (RestoreLog is its line); 0 when the log does not.
	Restore    time.Duration `json:"restore_ns,omitempty"`
	RestoreLog string        `json:"restore_log,omitempty"`
}

// ErrNotReady is returned when a check fails: nothing was changed.
var ErrNotReady = errors.New("hibernation would not come back")

// ErrHookFailed is returned when a pre hook fails: nothing was written to /sys/power/state.
var ErrHookFailed = errors.New("a pre hook failed")

type write struct{ file, value string }

// Now checks, then hibernates the machine below fs, and returns after resume with every
// setting it changed put back. With DryRun it returns the plan and changes nothing.
func Now(fs sysfs.FS, o Options) (res Result, err error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	k := kmsg{fs: fs, out: out}
	start := time.Now()
	k.logf("hibernate now: checking that this machine will come back")
	rep := Check(fs)
	slow := rep.Slowest()
	k.logf("checks done in %d ms (the longest: %s, %d ms)", time.Since(start).Milliseconds(), slow.Name, slow.Took.Milliseconds())
	ignored := map[string]bool{}
	for _, n := range o.IgnoreChecks {
		ignored[n] = true
	}
	var failed []string
	if o.NoRecord {
		ignored["image-record"] = true
	}
	for _, c := range rep.Failed() {
		if ignored[c.Name] {
			k.logf("check %s FAILED but ignored on request: %s", c.Name, c.Detail)
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %s (fix: %s)", c.Name, c.Detail, c.Fix))
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w:\n  %s", ErrNotReady, strings.Join(failed, "\n  "))
	}
	writes, err := plan(fs, o, rep)
	if err != nil {
		return res, err
	}
	var hooks []string
	if !o.NoHooks {
		if hooks, err = findHooks(fs); err != nil {
			return res, err
		}
	}
	action := sleepAction(o.Mode)
	for _, h := range hooks {
		res.Plan = append(res.Plan, fmt.Sprintf("run %s pre %s", h, action))
	}
	for _, w := range writes {
		res.Plan = append(res.Plan, fmt.Sprintf("write %s to /%s", w.value, w.file))
	}
	for _, h := range hooks {
		res.Plan = append(res.Plan, fmt.Sprintf("run %s post %s", h, action))
	}
	if o.DryRun {
		return res, nil
	}

	unlock, err := lock(fs)
	if err != nil {
		return res, err
	}
	defer unlock()

	// The post hooks of every hook whose pre hook ran, after the sysfs values are back (this
	// defer runs after the one that restores them), on every way out from here.
	var ran []string
	defer func() {
		for _, h := range ran {
			r := runHook(fs, h, "post", action, o.HookTimeout)
			res.Hooks = append(res.Hooks, r)
			k.logf("hook %s", r)
		}
	}()
	for _, h := range hooks {
		r := runHook(fs, h, "pre", action, o.HookTimeout)
		ran = append(ran, h)
		res.Hooks = append(res.Hooks, r)
		k.logf("hook %s", r)
		if !r.OK() {
			return res, fmt.Errorf("%w: %s (post hooks of the %d that ran were run)", ErrHookFailed, r, len(ran))
		}
	}

	// The record as the check read it; the swap read again, as the hooks may have changed it:
	// no restamp of an area no longer active, or with more in use than the limit.
	if st := rep.record; !o.NoRecord && rep.ResumeDevT != "" && st != nil {
		if st.swap.Filename != "" {
			swaps, err := swapsetup.ReadProcSwaps(fs)
			active := false
			for _, s := range swaps {
				if err == nil && s.Filename == st.swap.Filename {
					active = true
					st.swap.Used = s.Used
				}
			}
			st.canStamp = st.canStamp && active && st.swap.Used <= restampLimit
		}
		if !st.current && st.canStamp {
			sw := o.Swapper
			if sw == nil {
				sw = swapsetup.SystemSwapper{}
				if fs.Root() != "/" {
					// Never swapoff/swapon the machine that runs us for a fake tree.
					sw = swapsetup.RootSwapper{Root: fs.Root()}
				}
			}
			if err := stampRecord(fs, *st, sw, k); err != nil {
				return res, fmt.Errorf("image record: %w", err)
			}
		}
	}

	// Save every value before the first write, so that any failure can put all of them back.
	saved := map[string]string{}
	for _, w := range writes {
		if w.file == "sys/power/state" {
			continue
		}
		v, err := fs.ReadString(w.file)
		if err != nil {
			return res, fmt.Errorf("read /%s before changing it: %w", w.file, err)
		}
		if w.file == "sys/power/disk" || w.file == "sys/power/pm_test" {
			v, _ = sysfs.Selected(v)
		}
		saved[w.file] = v
	}
	defer func() {
		for _, w := range writes {
			v, ok := saved[w.file]
			if !ok {
				continue
			}
			if err := fs.WriteString(w.file, v); err != nil {
				k.logf("could not restore /%s to %s: %v", w.file, v, err)
				continue
			}
			res.Restored = append(res.Restored, fmt.Sprintf("/%s = %s", w.file, v))
		}
	}()
	var before time.Time
	for _, w := range writes {
		if w.file == "sys/power/state" {
			k.logf("syncing file systems")
			unix.Sync()
			k.logf("writing disk to /sys/power/state: the machine hibernates now")
			before = time.Now()
		} else {
			k.logf("write %s to /%s", w.value, w.file)
		}
		write := sysfs.FS.WriteString
		if o.write != nil {
			write = o.write
		}
		if err := write(fs, w.file, w.value); err != nil {
			return res, fmt.Errorf("hibernate: %w", err)
		}
	}
	after := time.Now()
	// The wall clock counts the time off; the monotonic clock does not.
	res.Asleep = after.Round(0).Sub(before.Round(0)) - after.Sub(before)
	if res.Asleep < 0 {
		res.Asleep = 0
	}
	if log, err := kernelLog(fs); err == nil {
		res.Restore, res.RestoreLog, _ = restoreFromLog(log)
	}
	if res.RestoreLog != "" {
		k.logf("resumed after %s off; the kernel read the image back in %s (%s)", res.Asleep.Round(time.Second), res.Restore.Round(10*time.Millisecond), res.RestoreLog)
	} else {
		k.logf("resumed after %s off; the kernel log after the resume does not say how long the restore took", res.Asleep.Round(time.Second))
	}
	return res, nil
}

func plan(fs sysfs.FS, o Options, rep Report) ([]write, error) {
	var ws []write
	disk, _ := fs.ReadString("sys/power/disk")
	cur, modes := sysfs.Selected(disk)
	mode := o.Mode
	if mode == "" {
		mode = "shutdown"
		for _, m := range modes {
			if m == "platform" {
				mode = "platform"
			}
		}
	}
	offered := false
	for _, m := range modes {
		offered = offered || m == mode
	}
	if !offered {
		return nil, fmt.Errorf("mode %s: /sys/power/disk offers %q", mode, disk)
	}
	if mode != cur {
		ws = append(ws, write{"sys/power/disk", mode})
	}
	switch o.ImageSize {
	case "", "auto":
	case "min":
		ws = append(ws, write{"sys/power/image_size", "0"})
	default:
		var n uint64
		if _, err := fmt.Sscan(o.ImageSize, &n); err != nil {
			return nil, fmt.Errorf("--image-size %q: want bytes, auto or min", o.ImageSize)
		}
		ws = append(ws, write{"sys/power/image_size", fmt.Sprint(n)})
	}
	if rep.SetResume && rep.ResumeDevT != "" {
		ws = append(ws, write{"sys/power/resume_offset", "0"}, write{"sys/power/resume", rep.ResumeDevT})
	}
	if o.Test != "" {
		switch o.Test {
		case "freezer", "devices", "platform", "processors", "core":
		default:
			return nil, fmt.Errorf("--test %q: want freezer, devices, platform, processors or core", o.Test)
		}
		ws = append(ws, write{"sys/power/pm_test", o.Test})
	}
	ws = append(ws, write{"sys/power/state", "disk"})
	return ws, nil
}

// lock takes /run/hibernate.lock, so that a second `hibernate now` refuses while one runs.
func lock(fs sysfs.FS) (func(), error) {
	p := fs.Path("run/hibernate.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another hibernate now holds %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}

// kmsg writes each step to the command's output and to the kernel log, so that a failure can be
// read after the fact with dmesg.
type kmsg struct {
	fs  sysfs.FS
	out io.Writer
}

func (k kmsg) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(k.out, "hibernate: %s\n", line)
	if f, err := os.OpenFile(k.fs.Path("dev/kmsg"), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "hibernate: %s\n", line)
		f.Close()
	}
}
