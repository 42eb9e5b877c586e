package hibernate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// ActionKind is what an Action does.
type ActionKind string

// The kinds of Action, in the order a plan holds them.
const (
	ActRunHook   ActionKind = "hook"      // run the hook Path with Args
	ActRestamp   ActionKind = "restamp"   // swapoff Path, stamp the image record of this boot on it, swapon it
	ActWrite     ActionKind = "write"     // write Value to the file Path, which held Was
	ActSync      ActionKind = "sync"      // sync the file systems
	ActHibernate ActionKind = "hibernate" // write disk to /sys/power/state: the machine powers off here
	ActRestore   ActionKind = "restore"   // write Value back to the file Path

	// ActActivate stamps the image record of this boot on the hibernation file Path (setup
	// --hibernate-only), then swapons it at the kernel's lowest priority; ActDeactivate, its
	// undo, swapoffs it again.
	ActActivate   ActionKind = "activate"
	ActDeactivate ActionKind = "deactivate"

	// ActSetLocation writes systemd's HibernateLocation EFI variable (Path) with the JSON
	// Value, just before the write of disk; ActClearLocation, its undo, deletes it again unless
	// it is by then another system's (Value: the JSON written).
	ActSetLocation   ActionKind = "set-hibernate-location"
	ActClearLocation ActionKind = "clear-hibernate-location"
)

// Action is one thing hibernate now does to the machine.
type Action struct {
	Kind  ActionKind `json:"kind"`
	Path  string     `json:"path,omitempty"`  // as on the machine: the file written, the hook run, the swap area restamped
	Value string     `json:"value,omitempty"` // what is written
	Was   string     `json:"was,omitempty"`   // for an ActWrite: what the file held, which its ActRestore writes back
	Args  []string   `json:"args,omitempty"`  // for a hook: the phase (pre, post) and the sleep action
	// BestEffort is for an ActSetLocation whose variable the next boot does not need (resume=
	// or the initramfs names the place): a failure to write it is said and the hibernation goes
	// on, as systemd-sleep goes on when resume= is set.
	BestEffort bool `json:"best_effort,omitempty"`
	// record is, for an ActRestamp, the swap area as the image-record check read it.
	record *recordState
}

// String says the action in the words of the dry run and of the log.
func (a Action) String() string {
	switch a.Kind {
	case ActRunHook:
		if len(a.Args) > 2 {
			return fmt.Sprintf("run %s %s (SYSTEMD_SLEEP_ACTION=%s)", a.Path, strings.Join(a.Args[:2], " "), a.Args[2])
		}
		return fmt.Sprintf("run %s %s", a.Path, strings.Join(a.Args, " "))
	case ActRestamp:
		return fmt.Sprintf("stamp the image record of this boot on %s (swapoff, stamp, swapon), unless by then it is inactive or has over %d MiB in use", a.Path, restampLimit>>20)
	case ActWrite:
		return fmt.Sprintf("write %s to %s (was %s)", a.Value, a.Path, a.Was)
	case ActSync:
		return "sync the file systems"
	case ActHibernate:
		return fmt.Sprintf("write %s to %s", a.Value, a.Path)
	case ActRestore:
		return fmt.Sprintf("restore %s to %s", a.Path, a.Value)
	case ActActivate:
		const prio = "the kernel's lowest priority: nothing else swaps to it while other swap has room"
		if a.record == nil {
			return fmt.Sprintf("swapon the hibernation file %s (%s; no image record stamped)", a.Path, prio)
		}
		return fmt.Sprintf("stamp the image record of this boot on the hibernation file %s and swapon it (%s)", a.Path, prio)
	case ActDeactivate:
		return fmt.Sprintf("swapoff the hibernation file %s (it is never daily swap)", a.Path)
	case ActSetLocation:
		if a.BestEffort {
			return fmt.Sprintf("write systemd's HibernateLocation EFI variable %s (best effort: the next boot is told the place otherwise): %s", a.Path, a.Value)
		}
		return fmt.Sprintf("write systemd's HibernateLocation EFI variable %s: %s", a.Path, a.Value)
	case ActClearLocation:
		return fmt.Sprintf("clear %s, unless another system's by then", a.Path)
	}
	return fmt.Sprintf("%s %s %s", a.Kind, a.Path, a.Value)
}

// Undo is an action that puts back what a step changed: the ActRestore of an ActWrite, the post hook
// of a pre hook.
type Undo struct {
	Action
	Step int `json:"step"` // the index in Steps of the step it undoes: it runs when that step was tried
}

// NowPlan is what hibernate now will do, decided before anything is changed.
type NowPlan struct {
	Steps []Action `json:"steps"` // in order; the last writes disk to /sys/power/state
	// Undo runs after the resume, or after the step that failed, in order: the settings first,
	// so that the post hooks see the machine as it was.
	Undo []Undo `json:"undo"`
	// Refused are the hooks that are not run, as findHooks says why.
	Refused []string `json:"refused_hooks,omitempty"`
	// Notes are what the plan leaves out and why (a HibernateLocation it cannot write, on a
	// machine whose next boot does not need it).
	Notes []string `json:"notes,omitempty"`
}

// Lines are the plan's actions, one a line: the steps, then what is put back.
func (p NowPlan) Lines() []string {
	var out []string
	for _, r := range p.Refused {
		out = append(out, "would not run the hook "+r)
	}
	for _, n := range p.Notes {
		out = append(out, "leave out: "+n)
	}
	for _, a := range p.Steps {
		out = append(out, a.String())
	}
	for _, u := range p.Undo {
		out = append(out, u.String())
	}
	return out
}

// Facts are what Plan decides from, all read before anything is changed.
type Facts struct {
	Report Report // the checks: the resume device to set, the image record to restamp
	// Power holds the /sys/power files a plan may change, by name ("disk", "image_size",
	// "resume_offset", "resume", "pm_test"), and the kernel's "compressor" parameter, as read; a
	// file that could not be read is absent.
	Power   map[string]string
	Hooks   []string // the hooks to run, in order, as on the machine
	Refused []string // the hooks not run, each with the reason and the fix
	// Meminfo and SwapFree (the free space of the resume device's swap area) are what
	// --image-size auto is computed from.
	Meminfo  sysfs.Meminfo
	SwapFree int64
}

// powerFiles are the /sys/power files a plan may change (state aside: it is not a setting).
var powerFiles = []string{"disk", "image_size", "resume_offset", "resume", "pm_test"}

// readFacts reads what Plan decides from, after the checks.
func readFacts(fs sysfs.FS, rep Report, o Options) (Facts, error) {
	f := Facts{Report: rep, Power: map[string]string{}}
	for _, n := range powerFiles {
		if v, err := fs.ReadString("sys/power/" + n); err == nil {
			f.Power[n] = v
		}
	}
	if v, err := fs.ReadString(compressorParam); err == nil {
		f.Power["compressor"] = v
	}
	if mem, err := fs.Meminfo(); err == nil {
		// The image goes to the resume device's area alone: its free space caps auto, else
		// (not known) all disk swap's.
		f.Meminfo, f.SwapFree = mem, rep.ResumeFree
		if f.SwapFree <= 0 {
			f.SwapFree = freeDiskSwap(fs)
		}
	}
	if o.NoHooks {
		return f, nil
	}
	var err error
	f.Hooks, f.Refused, err = findHooks(fs)
	return f, err
}

// Plan decides, from the facts and the options alone, every action of hibernate now: the pre
// hooks, the restamp of the image record, the /sys/power writes, the sync and the write of disk;
// then, to undo them, the old values and the post hooks.
func Plan(f Facts, o Options) (NowPlan, error) {
	writes, err := powerWrites(f, o)
	if err != nil {
		return NowPlan{}, err
	}
	p := NowPlan{Refused: f.Refused}
	var posts []Undo
	args := func(phase string) []string { return []string{phase, sleepAction(o.Mode)} }
	if o.thenHibernate {
		args = func(phase string) []string { return []string{phase, SuspendThenHibernateVerb, "hibernate"} }
	}
	for _, h := range f.Hooks {
		posts = append(posts, Undo{Step: len(p.Steps), Action: Action{Kind: ActRunHook, Path: h, Args: args("post")}})
		p.Steps = append(p.Steps, Action{Kind: ActRunHook, Path: h, Args: args("pre")})
	}
	if a, ok := restampAction(f.Report, o); ok {
		p.Steps = append(p.Steps, a)
	}
	var deactivate []Undo
	if hf := f.Report.HibernationFile; hf != "" {
		a := Action{Kind: ActActivate, Path: hf}
		if st := f.Report.record; !o.NoRecord && st != nil && st.pending {
			a.record = st
		}
		deactivate = append(deactivate, Undo{Step: len(p.Steps), Action: Action{Kind: ActDeactivate, Path: hf}})
		p.Steps = append(p.Steps, a)
	}
	for _, w := range writes {
		p.Undo = append(p.Undo, Undo{Step: len(p.Steps), Action: Action{Kind: ActRestore, Path: w.Path, Value: w.Was}})
		p.Steps = append(p.Steps, w)
	}
	p.Steps = append(p.Steps, Action{Kind: ActSync})
	if err := p.addLocation(f.Report, o); err != nil {
		return NowPlan{}, err
	}
	p.Steps = append(p.Steps, Action{Kind: ActHibernate, Path: "/sys/power/state", Value: "disk"})
	// The settings first (resume no longer names the file when it goes), then the file, then
	// the post hooks, which see the machine as it was.
	p.Undo = append(p.Undo, deactivate...)
	p.Undo = append(p.Undo, posts...)
	return p, nil
}

// addLocation adds the write of systemd's HibernateLocation EFI variable, last before the write
// of disk (as systemd-sleep writes it after its checks and settings), and its clear to the
// undos, after the settings' and before the post hooks. Not for the canary: test_resume reads
// the image back at once, and no boot is to look for it. A variable that cannot be made is a
// note: the next-boot check counts on the variable only when it can be made, and otherwise
// fails unless resume= or the initramfs names the place (systemd-sleep too writes it best effort
// when resume= is set).
func (p *NowPlan) addLocation(rep Report, o Options) error {
	if o.testResume {
		return nil
	}
	if rep.locationErr != nil {
		p.Notes = append(p.Notes, fmt.Sprintf("systemd's HibernateLocation EFI variable, which cannot be written (%v); the next boot finds the image by resume= or its initramfs", rep.locationErr))
		return nil
	}
	if rep.location == nil {
		return nil
	}
	doc, err := rep.location.Marshal()
	if err != nil {
		return fmt.Errorf("HibernateLocation: %w", err)
	}
	p.Undo = append(p.Undo, Undo{Step: len(p.Steps), Action: Action{Kind: ActClearLocation, Path: efivarsPath, Value: string(doc)}})
	p.Steps = append(p.Steps, Action{Kind: ActSetLocation, Path: efivarsPath, Value: string(doc), BestEffort: !rep.locationNeeded})
	return nil
}

// powerWrites are the /sys/power settings the options and the checks ask for, each with the
// value it replaces.
func powerWrites(f Facts, o Options) ([]Action, error) {
	power, rep := f.Power, f.Report
	settings, err := powerSettings(f, o)
	if err != nil {
		return nil, err
	}
	var ws []Action
	for _, set := range settings {
		name, value := set[0], set[1]
		was, ok := power[name]
		switch {
		case !ok && name == "pm_test":
			return nil, fmt.Errorf("--test %s: cannot read /sys/power/pm_test (a kernel without CONFIG_PM_DEBUG has none)", o.Test)
		case !ok:
			return nil, fmt.Errorf("cannot read /sys/power/%s before changing it", name)
		case name == "disk" || name == "pm_test":
			was, _ = sysfs.Selected(was) // "[platform] shutdown ...": the one in brackets
		}
		ws = append(ws, Action{Kind: ActWrite, Path: "/sys/power/" + name, Value: value, Was: was})
	}
	c, err := compressorWrite(power, rep, o)
	if err != nil {
		return nil, err
	}
	if c != nil {
		ws = append(ws, *c)
	}
	return ws, nil
}

// powerSettings are the /sys/power files to write and their values, in the order written.
func powerSettings(f Facts, o Options) ([][2]string, error) {
	disk, rep := f.Power["disk"], f.Report
	var out [][2]string
	if o.Mode == "test_resume" && !o.testResume {
		// The kernel may write the image and fail to read it back (6.1: EBUSY on an active
		// swap partition), leaving it for the next boot to resume over a changed disk.
		return nil, errors.New("mode test_resume: use hibernate canary, which reads the swap area back after and discards an image the kernel left there")
	}
	mode, err := diskMode(disk, o.Mode)
	if err != nil {
		return nil, err
	}
	if cur, _ := sysfs.Selected(disk); mode != cur {
		out = append(out, [2]string{"disk", mode})
	}
	size, err := imageSizeValue(o.ImageSize, f.Meminfo, f.SwapFree)
	if err != nil {
		return nil, err
	}
	if size != "" && size != strings.TrimSpace(f.Power["image_size"]) {
		out = append(out, [2]string{"image_size", size})
	}
	if rep.SetResume && rep.ResumeDevT != "" {
		out = append(out, [2]string{"resume_offset", fmt.Sprint(rep.ResumeOffset)}, [2]string{"resume", rep.ResumeDevT})
	}
	if o.Test != "" {
		if err := pmTest(o.Test); err != nil {
			return nil, err
		}
		out = append(out, [2]string{"pm_test", o.Test})
	}
	return out, nil
}

// diskMode is the mode to write to /sys/power/disk: the one asked for if the kernel offers it;
// by default platform where offered (ACPI S4, so that the firmware knows), else shutdown.
func diskMode(disk, asked string) (string, error) {
	_, modes := sysfs.Selected(disk)
	mode := asked
	if mode == "" {
		mode = "shutdown"
		for _, m := range modes {
			if m == "platform" {
				mode = "platform"
			}
		}
	}
	for _, m := range modes {
		if m == mode {
			return mode, nil
		}
	}
	return "", fmt.Errorf("mode %s: /sys/power/disk offers %q", mode, disk)
}

func pmTest(level string) error {
	switch level {
	case "freezer", "devices", "platform", "processors", "core":
		return nil
	}
	return fmt.Errorf("--test %q: want freezer, devices, platform, processors or core", level)
}

// restampAction is the restamp of the image record, when the check found one of another boot
// (or none) on an area little enough in use to swapoff.
func restampAction(rep Report, o Options) (Action, bool) {
	st := rep.record
	if o.NoRecord || rep.ResumeDevT == "" || st == nil || st.current || !st.canStamp || st.pending {
		return Action{}, false
	}
	target := st.dev.Path
	if st.file != "" {
		target = st.file
	}
	return Action{Kind: ActRestamp, Path: target, record: st}, true
}
