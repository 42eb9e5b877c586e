package swapsetup

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Setup and undo decide first and act after. A planner only reads the machine and gives a Plan:
// the changes in order, each an Action that says itself in words. Apply carries a plan out; a dry
// run shows the same plan and changes nothing. What only the work reveals (a new swap file's
// resume_offset, the device of a new partition) the action that learns it fills into the plan's
// Result, for the actions after it.

// Action is one change to the machine.
type Action interface {
	String() string // what it changes, for the user: "swapon /dev/vda2 (priority 3)"
	apply(r *work) error
}

// Plan is setup or undo decided: the result as far as it is known before any change, and the
// actions that make it, in order. A plan is carried out once.
type Plan struct {
	Actions []Action
	fs      sysfs.FS
	res     *Result  // shared with the actions
	unknown []string // what only carrying the plan out tells (a dry run notes it)
	// Undo: a failed action does not stop the others, and problems found while planning are
	// reported with their failures.
	tryAll   bool
	problems []error
}

func newPlan(fs sysfs.FS, res Result) *Plan { return &Plan{fs: fs, res: &res} }

func (p *Plan) add(a ...Action)         { p.Actions = append(p.Actions, a...) }
func (p *Plan) note(f string, a ...any) { p.res.Notes = append(p.res.Notes, fmt.Sprintf(f, a...)) }

// Steps are the plan's actions in words.
func (p *Plan) Steps() []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.String())
	}
	return out
}

// DryRun is the plan as a result, nothing done: its actions in words, what it knows, and the
// problems found while planning (an undo's).
func (p *Plan) DryRun() (Result, error) {
	res := *p.res
	res.Actions = p.Steps()
	res.Notes = append(slices.Clone(res.Notes), p.unknown...)
	return res, errors.Join(p.problems...)
}

// Apply carries the plan out, in order: the result lists each action done or failed (in its
// words once done, with what it learned), and the failures. After a failure the rest is not done,
// but for an undo's actions and those that decide for themselves (afterFailure).
func (p *Plan) Apply(sw Swapper) (Result, error) {
	r := &work{fs: p.fs, sw: sw, res: p.res, errs: slices.Clone(p.problems)}
	r.res.Actions = nil
	for _, a := range p.Actions {
		if len(r.errs) > 0 && !p.goesOn(a, r) {
			continue
		}
		err := a.apply(r)
		var s skipped
		if errors.As(err, &s) {
			if s != "" {
				r.res.Notes = append(r.res.Notes, string(s))
			}
			continue
		}
		r.res.Actions = append(r.res.Actions, a.String())
		if err != nil && p.tryAll {
			err = fmt.Errorf("%s: %w", a, err) // one of several failures: named by its action
		}
		if err != nil {
			r.errs = append(r.errs, err)
		}
	}
	return *r.res, errors.Join(r.errs...)
}

// afterFailure is an action that decides itself whether it is done once an earlier one failed.
type afterFailure interface{ afterFailure(r *work) bool }

func (p *Plan) goesOn(a Action, r *work) bool {
	if f, ok := a.(afterFailure); ok {
		return f.afterFailure(r)
	}
	return p.tryAll
}

// work is a plan being carried out: the machine, and what the actions did so far.
type work struct {
	fs   sysfs.FS
	sw   Swapper
	res  *Result
	st   State // what this run added, for setup's record
	errs []error
}

// skipped is an action's answer when, carried out, it finds nothing to do: it is not listed as
// done, and the text (if any) becomes a note.
type skipped string

func (s skipped) Error() string { return string(s) }

// carry is what Setup and the other one-call forms do with a plan: carry it out, or show it.
func carry(p *Plan, err error, sw Swapper, dryRun bool) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	if dryRun {
		return p.DryRun()
	}
	return p.Apply(sw)
}

// planner decides: the machine it reads (and never changes), the options, and where a new swap
// area's UUID comes from (tests give fixed ones).
type planner struct {
	fs      sysfs.FS
	o       Options
	newUUID func() ([16]byte, error)
}

func newPlanner(fs sysfs.FS, o Options) planner {
	return planner{fs: fs, o: o, newUUID: swsusp.NewUUID}
}

// uuid is a new swap area's UUID, and its text.
func (pl planner) uuid() ([16]byte, string, error) {
	id, err := pl.newUUID()
	if err != nil {
		return id, "", err
	}
	return id, swsusp.FormatUUID(id), nil
}
