package hibernate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Options for Now.
type Options struct {
	Mode         string            // shutdown, platform, reboot, suspend; "" = platform where offered, else shutdown
	ImageSize    string            // bytes, "auto" ("": AutoImageSize), "kernel" (leave the kernel's) or "min" (0)
	Compressor   string            // "" (the kernel's), lzo or lz4: /sys/module/hibernate/parameters/compressor
	DryRun       bool              // Now only plans: it returns the plan and changes nothing, nor writes the kernel log
	Test         string            // a pm_test level: freezer devices platform processors core
	IgnoreChecks []string          // check names to override
	NoRecord     bool              // go on without an image record of this boot (no kexec fallback at boot)
	Swapper      swapsetup.Swapper // swapoff/swapon, to restamp the record; nil: the system's
	NoHooks      bool              // run no hooks
	HookTimeout  time.Duration     // for each hook run; 0: DefaultHookTimeout
	Out          io.Writer

	// write replaces the sysfs writes of the steps, for tests of the failure paths.
	write func(fs sysfs.FS, file, value string) error
	// testResume lets the mode be test_resume: only Canary sets it, which reads the area back
	// after and discards what the kernel may leave there.
	testResume bool
	// thenHibernate says that this hibernation ends a suspend-then-hibernate
	// (SuspendThenHibernate): the hooks get "suspend-then-hibernate", SYSTEMD_SLEEP_ACTION=hibernate.
	thenHibernate bool
}

// Result says what happened.
type Result struct {
	Plan NowPlan `json:"plan"`
	// Asleep is the wall time the machine was off, by the wall clock against the monotonic one
	// (which stops while the image is written and read); for the canary, how long it was frozen
	// for the write and the read back. 0 for a dry run or a test.
	Asleep   time.Duration `json:"asleep_ns"`
	Restored []string      `json:"restored"`
	Hooks    []HookRun     `json:"hooks"` // every run, pre then post, in order
	// Restore is how long the kernel took to read the image back, from the kernel log where it
	// says so (RestoreLog is its line); 0 when the log does not.
	Restore    time.Duration `json:"restore_ns,omitempty"`
	RestoreLog string        `json:"restore_log,omitempty"`
	// Write is how long the kernel took to write the image, where its log after the return says
	// so (WriteLog is its line); 0 when it does not, as after a test_resume (see restoreFromLog).
	Write    time.Duration `json:"write_ns,omitempty"`
	WriteLog string        `json:"write_log,omitempty"`
	// Location is systemd's HibernateLocation EFI variable as written and read back (its JSON),
	// "" when none was written; LocationAfter what became of it after the resume or the
	// failure (cleared by the boot, cleared by now, left as another system's).
	Location      string `json:"hibernate_location,omitempty"`
	LocationAfter string `json:"hibernate_location_after,omitempty"`
}

// ErrNotReady is returned when a check fails: nothing was changed.
var ErrNotReady = errors.New("hibernation would not come back")

// Now checks, plans, then hibernates the machine below fs (Apply), and returns after resume
// with every setting it changed put back. With DryRun it returns the plan and changes nothing.
func Now(fs sysfs.FS, o Options) (Result, error) {
	k := newKmsg(fs, o)
	who := "hibernate now"
	if o.testResume {
		who = "hibernate canary"
	}
	p, err := checkedPlan(fs, o, k, who)
	if err != nil {
		return Result{}, err
	}
	if o.DryRun {
		return Result{Plan: p}, nil
	}
	return Apply(fs, p, o)
}

// checkedPlan runs the checks (checkAndLog, their lines begun by who), refuses where one fails
// (ErrNotReady, nothing changed), reads the facts and plans: what Now and Prepare do before
// they act.
func checkedPlan(fs sysfs.FS, o Options, k kmsg, who string) (NowPlan, error) {
	rep := checkAndLog(fs, k, who)
	if err := refuse(rep, o, k); err != nil {
		return NowPlan{}, err
	}
	f, err := readFacts(fs, rep, o)
	if err != nil {
		return NowPlan{}, err
	}
	return Plan(f, o)
}

// checkAndLog runs the checks, its lines in the kernel log begun by who: "hibernate now" (the
// benchmarks find that line on the console) or "hibernate canary".
func checkAndLog(fs sysfs.FS, k kmsg, who string) Report {
	start := time.Now()
	k.logf("%s: checking that this machine will come back", who)
	rep := Check(fs)
	slow := rep.Slowest()
	k.logf("checks done in %d ms (the longest: %s, %d ms)", time.Since(start).Milliseconds(), slow.Name, slow.Took.Milliseconds())
	k.logf("check times: %s", rep.Times())
	return rep
}

// refuse returns ErrNotReady naming every failed check that is not ignored (--ignore-check, and
// image-record with --no-record).
func refuse(rep Report, o Options, k kmsg) error {
	ignored := map[string]bool{"image-record": o.NoRecord}
	for _, n := range o.IgnoreChecks {
		ignored[n] = true
	}
	var failed []string
	for _, c := range rep.Failed() {
		if ignored[c.Name] {
			k.logf("check %s FAILED but ignored on request: %s", c.Name, c.Detail)
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %s (fix: %s)", c.Name, c.Detail, c.Fix))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrNotReady, strings.Join(failed, "\n  "))
	}
	return nil
}

// ErrInterrupted is returned when SIGINT, SIGTERM or SIGHUP came before the write of disk: the
// steps after it were not taken, and what the tried ones changed was put back.
var ErrInterrupted = errors.New("interrupted before hibernating")

// Apply carries out p on the machine below fs, holding /run/hibernate.lock: each step in order
// until one fails; then, on every way out, each undo whose step was tried, in order. It does not
// look at DryRun: a dry run is Plan without Apply.
//
// SIGINT, SIGTERM and SIGHUP do not kill it half way (between swapoff and swapon of a restamp,
// or after the resume with the settings not yet back, when an SSH session dropped while the
// machine was off sends SIGHUP): one that comes before the write of disk stops the steps at
// the next one, and the undos run; one that comes after is noted, and the undos still run.
func Apply(fs sysfs.FS, p NowPlan, o Options) (res Result, err error) {
	res.Plan = p
	unlock, err := lock(fs)
	if err != nil {
		return res, err
	}
	defer unlock()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	a := &applier{fs: fs, o: o, k: newKmsg(fs, o), res: &res}
	for _, r := range p.Refused {
		a.k.logf("hook %s", r)
		res.Hooks = append(res.Hooks, HookRun{Path: strings.SplitN(r, ":", 2)[0], Exit: -1, Err: r})
	}
	for _, n := range p.Notes {
		a.k.logf("leaving out %s", n)
	}
	tried := 0
	defer func() {
		a.undo(p.Undo, tried)
		for len(sigs) > 0 {
			a.k.logf("%s while resuming: noted, and the settings and post hooks were seen to first", <-sigs)
		}
	}()
	for _, s := range p.Steps {
		select {
		case sig := <-sigs:
			a.k.logf("%s before %s: stopping, and putting back what was changed", sig, s)
			return res, fmt.Errorf("%w: %s before %s", ErrInterrupted, sig, s)
		default:
		}
		tried++
		if err := a.do(s); err != nil {
			return res, err
		}
	}
	return res, nil
}

// applier carries out the actions of one plan and notes what they did in res.
type applier struct {
	fs  sysfs.FS
	o   Options
	k   kmsg
	res *Result
	// hibernated says that the write of disk returned without an error: the machine was off
	// and is back (or, under a pm_test, went through the test).
	hibernated bool
}

func (a *applier) do(s Action) error {
	switch s.Kind {
	case ActRunHook:
		return a.preHook(s)
	case ActRestamp:
		return a.restamp(s)
	case ActActivate:
		return a.activate(s)
	case ActWrite:
		a.k.logf("%s", s)
		return a.write(s)
	case ActSync:
		a.k.logf("syncing file systems")
		unix.Sync()
		return nil
	case ActHibernate:
		return a.hibernate(s)
	case ActSetLocation:
		err := a.setLocation(s)
		if err != nil && s.BestEffort {
			a.k.logf("%v: going on without it, as systemd-sleep does when resume= is set (the next boot is told the place otherwise)", err)
			return nil
		}
		return err
	}
	return fmt.Errorf("hibernate now: no step %q", s.Kind)
}

// writer is how the steps write below fs: the test seam where one is set, else the file.
func (o Options) writer() func(fs sysfs.FS, file, value string) error {
	if o.write != nil {
		return o.write
	}
	return sysfs.FS.WriteString
}

// write makes a step's write through the test seam, if one is set.
func (a *applier) write(s Action) error {
	if err := a.o.writer()(a.fs, strings.TrimPrefix(s.Path, "/"), s.Value); err != nil {
		return fmt.Errorf("hibernate: %w", err)
	}
	return nil
}

// preHook runs a pre hook. One that fails is said and the hibernation goes on, as systemd-sleep
// does: a hook is a courtesy to a service, not a check (the checks ran before).
func (a *applier) preHook(s Action) error {
	if r := a.runHook(s); !r.OK() {
		a.k.logf("hook %s failed: going on, as systemd-sleep does", s.Path)
	}
	return nil
}

func (a *applier) runHook(s Action) HookRun {
	env := ""
	if len(s.Args) > 2 {
		env = s.Args[2]
	}
	r := runHook(a.fs, s.Path, s.Args[0], s.Args[1], env, a.o.HookTimeout)
	a.res.Hooks = append(a.res.Hooks, r)
	a.k.logf("hook %s", r)
	return r
}

// restamp stamps the record of this boot on the area. The swap is read again, as the hooks may
// have changed it: no restamp of an area no longer active, or with more in use than the limit.
func (a *applier) restamp(s Action) error {
	st := *s.record
	swaps, err := swapsetup.ReadProcSwaps(a.fs)
	active := false
	for _, sw := range swaps {
		if err == nil && sw.Filename == st.swap.Filename {
			active, st.swap.Used = true, sw.Used
		}
	}
	if !active || st.swap.Used > restampLimit {
		a.k.logf("not stamping the image record on %s: it is no longer active, or has more than %d MiB in use", s.Path, restampLimit>>20)
		return nil
	}
	if err := stampRecord(a.fs, st, a.swapper(), a.k); err != nil {
		return fmt.Errorf("image record: %w", err)
	}
	return nil
}

// activate stamps the record of this boot on the hibernation file, which is inactive (nothing
// to swapoff), and swapons it at the kernel's lowest priority (no priority given: the kernel's
// next, below every area active now).
func (a *applier) activate(s Action) error {
	if s.record != nil {
		if err := stampFile(a.fs, s.Path, a.k); err != nil {
			return err
		}
	}
	a.k.logf("activating the hibernation file %s for the image", s.Path)
	if err := a.swapper().Swapon(s.Path, -1); err != nil {
		return fmt.Errorf("activate the hibernation file: %w", err)
	}
	return nil
}

// deactivate swapoffs the hibernation file after the resume (or a failure): a swapoff that
// fails (the memory to take its pages back is not there) leaves it active, said loudly.
func (a *applier) deactivate(u Undo) {
	if err := a.swapper().Swapoff(u.Path); err != nil {
		a.k.logf("could not deactivate the hibernation file %s: %v; it stays active swap until `swapoff %s` succeeds", u.Path, err, u.Path)
		return
	}
	a.k.logf("deactivated the hibernation file %s: it is no swap again until the next hibernation", u.Path)
	a.res.Restored = append(a.res.Restored, "swapoff "+u.Path)
}

// swapper is the one of the options, else the system's; below a fake root one that refuses, so
// that the machine that runs us is never swapped off for a fake tree.
func (a *applier) swapper() swapsetup.Swapper { return swapperFor(a.fs, a.o) }

func swapperFor(fs sysfs.FS, o Options) swapsetup.Swapper {
	switch {
	case o.Swapper != nil:
		return o.Swapper
	case fs.Root() != "/":
		return swapsetup.RootSwapper{Root: fs.Root()}
	}
	return swapsetup.SystemSwapper{}
}

// hibernate writes disk to /sys/power/state, which returns after the resume, and says how long
// the machine was off and how long the kernel took to read the image back.
func (a *applier) hibernate(s Action) error {
	// restoreFromLog reads the kernel's lines after this one.
	a.k.logf("writing disk to /sys/power/state: the machine hibernates now")
	before := time.Now()
	if err := a.write(s); err != nil {
		return err
	}
	after := time.Now()
	a.hibernated = true
	// The wall clock counts the time off; the monotonic clock does not.
	a.res.Asleep = max(after.Round(0).Sub(before.Round(0))-after.Sub(before), 0)
	recs, err := kernelRecords(a.fs)
	if err == nil {
		log := messages(recs)
		a.res.Restore, a.res.RestoreLog, _ = restoreFromLog(log)
		a.res.Write, a.res.WriteLog, _ = writeFromLog(log)
	}
	if a.res.RestoreLog != "" {
		a.k.logf("resumed after %s off; the kernel read the image back in %s (%s)", a.res.Asleep.Round(time.Second), a.res.Restore.Round(10*time.Millisecond), a.res.RestoreLog)
	} else {
		a.k.logf("resumed after %s off; the kernel log after the resume does not say how long the restore took", a.res.Asleep.Round(time.Second))
	}
	switch {
	case a.o.Test != "": // a pm_test: no image was made
	case err != nil:
		a.k.logf("the kernel log cannot be read (%v): no timing kept for the runtime budget", err)
	default:
		a.recordTiming(recs)
	}
	return nil
}

// undo runs the undos of the first tried steps: a restore that fails is logged, and the others
// still run.
func (a *applier) undo(us []Undo, tried int) {
	for _, u := range us {
		if u.Step >= tried {
			continue
		}
		switch u.Kind {
		case ActRunHook:
			a.runHook(u.Action)
		case ActRestore:
			if err := a.fs.WriteString(strings.TrimPrefix(u.Path, "/"), u.Value); err != nil {
				a.k.logf("could not restore %s to %s: %v", u.Path, u.Value, err)
				continue
			}
			a.res.Restored = append(a.res.Restored, fmt.Sprintf("%s = %s", u.Path, u.Value))
		case ActClearLocation:
			a.clearLocation(u)
		case ActDeactivate:
			a.deactivate(u)
		default:
			a.k.logf("hibernate now: no undo %q", u.Kind)
		}
	}
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
	fs       sysfs.FS
	out      io.Writer
	toKernel bool
}

// newKmsg writes to the options' Out, and to the kernel log unless for a dry run, which leaves
// the machine as it was, its log included.
func newKmsg(fs sysfs.FS, o Options) kmsg {
	k := kmsg{fs: fs, out: o.Out, toKernel: !o.DryRun}
	if k.out == nil {
		k.out = io.Discard
	}
	return k
}

func (k kmsg) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(k.out, "hibernate: %s\n", line)
	if !k.toKernel {
		return
	}
	if f, err := os.OpenFile(k.fs.Path("dev/kmsg"), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "hibernate: %s\n", line)
		f.Close()
	}
}
