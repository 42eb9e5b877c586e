package watch

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Action hibernates the machine (or, in a dry run, says what it would do). It is given the
// reason; it returns after the resume.
type Action func(ctx context.Context, reason string) error

// Step is what one poll of the service saw and did, for the log and for tests.
type Step struct {
	Time      time.Time
	Readings  []Reading
	Events    []Event
	Hibernate bool  // the action was called in this step
	ActionErr error // what it returned
}

// MaxAttempts is how many times the service tries to hibernate in one outage: an attempt that
// fails (the lock of a hibernate now typed by hand, a check that fails for a moment) is tried
// again at the next poll while the power stays critical.
const MaxAttempts = 3

// Dropper is a source whose connection is forgotten after a resume (NUTSource): the next poll
// connects, and logs in, again.
type Dropper interface{ Drop() }

// Service polls the sources every Poll, steps the policy's Machine with the readings and calls
// Action when the Machine says so.
type Service struct {
	Sources []Source
	Policy  Policy
	Poll    time.Duration
	Clock   Clock
	// Check runs at start-up (hibernate check): it returns what would stop hibernation from
	// coming back, empty when it would. Optional.
	Check  func() []string
	Action Action
	// DryRun: the action only says what it would do; nothing resumes after it, so the outage
	// goes on as after a hibernation (no second one until the power is back).
	DryRun  bool
	Logf    func(format string, args ...any)
	Observe func(Step) // optional: called after every step
	// Budget predicts how long hibernating takes now (hibernate.PredictBudget) and says how, in
	// one line; called at every poll, for Policy.Budget. Optional.
	Budget       func() (time.Duration, string, error)
	budgetFailed bool // the last prediction failed, and said so
}

// StatusEvery is how often, while a supply is on battery, the log says the runtime left against
// the budget.
const StatusEvery = time.Minute

func (s *Service) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Run polls until ctx is done (then returns nil) and returns an error only when it cannot start.
func (s *Service) Run(ctx context.Context) error {
	if s.Action == nil {
		return errors.New("watch: no action to take")
	}
	if len(s.Sources) == 0 {
		return errors.New("watch: no power source to follow (give --ups, or power-supply = yes)")
	}
	clock := s.Clock
	if clock == nil {
		clock = RealClock
	}
	poll := s.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	s.startupCheck()
	var names []string
	for _, src := range s.Sources {
		names = append(names, src.Name())
	}
	s.logf("watching %v every %s; policy: %s", names, poll, s.Policy)
	m := NewMachine(s.Policy)
	budget := s.budget(m)
	if budget != "" {
		s.logf("runtime budget: hibernating now takes %s", budget)
	}
	attempts := 0
	var lastStatus time.Time
	for {
		var st Step
		for _, src := range s.Sources {
			st.Readings = append(st.Readings, src.Poll(ctx)...)
		}
		if ctx.Err() != nil {
			return nil
		}
		st.Time = clock.Now()
		budget = s.budget(m)
		var fire bool
		st.Events, fire = m.Step(st.Time, st.Readings)
		for _, e := range st.Events {
			s.logf("%s", e.Message)
			if e.Kind == EventCancel || e.Kind == EventRearm {
				attempts = 0
			}
		}
		if left, ok := runtimeLeft(st.Readings); !ok {
			lastStatus = time.Time{}
		} else if budget != "" && (lastStatus.IsZero() || st.Time.Sub(lastStatus) >= StatusEvery) {
			lastStatus = st.Time
			s.logf("on battery: runtime %s left; hibernating needs %s", left.Round(time.Second), budget)
		}
		if fire {
			st.Hibernate = true
			attempts++
			st.ActionErr = s.Action(ctx, reasonOf(st.Events))
			s.afterAction(m, st.ActionErr, attempts)
			if st.ActionErr == nil {
				attempts = 0
			}
		}
		if s.Observe != nil {
			s.Observe(st)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-clock.After(poll):
		}
	}
}

// afterAction goes on after the hibernation's attempt number attempt: resumed, the sources are
// dropped and the policy starts over; failed, it is tried again at the next poll, up to
// MaxAttempts in the outage, each failure said.
func (s *Service) afterAction(m *Machine, err error, attempt int) {
	switch {
	case s.DryRun:
		// Nothing was done: the machine did not go off, nor come back.
	case err == nil:
		s.logf("resumed: connecting to the power sources again; the policy starts over from what they say now")
		for _, src := range s.Sources {
			if d, ok := src.(Dropper); ok {
				d.Drop()
			}
		}
		m.Resumed()
	case attempt < MaxAttempts:
		s.logf("HIBERNATION FAILED (attempt %d of %d): %v; trying again at the next poll unless the power is back", attempt, MaxAttempts, err)
		m.Retry()
	default:
		s.logf("HIBERNATION FAILED (attempt %d of %d): %v; not trying again in this outage", attempt, MaxAttempts, err)
	}
}

// budget predicts, where the service can, and sets the machine's budget; it returns the
// prediction's line, "" where it fails (said when it starts to fail, and when it no longer does).
func (s *Service) budget(m *Machine) string {
	if s.Budget == nil || !s.Policy.Budget {
		return ""
	}
	d, line, err := s.Budget()
	if err != nil {
		if !s.budgetFailed {
			s.logf("runtime budget: cannot predict how long hibernating takes (%v); the runtime threshold stays %s", err, s.Policy.Runtime)
		}
		s.budgetFailed = true
		m.SetBudget(0)
		return ""
	}
	if s.budgetFailed {
		s.logf("runtime budget: hibernating now takes %s", line)
	}
	s.budgetFailed = false
	m.SetBudget(d)
	return line
}

// runtimeLeft is the least runtime among the readings on battery that report one.
func runtimeLeft(rs []Reading) (time.Duration, bool) {
	var left time.Duration
	ok := false
	for _, r := range rs {
		if r.Known && r.OnBattery && r.Runtime >= 0 && (!ok || r.Runtime < left) {
			left, ok = r.Runtime, true
		}
	}
	return left, ok
}

func reasonOf(events []Event) string {
	for _, e := range events {
		if e.Kind == EventHibernate {
			return e.Reason
		}
	}
	return ""
}

// startupCheck says loudly, now and not when the battery is low, if hibernation would not come back.
func (s *Service) startupCheck() {
	if s.Check == nil {
		return
	}
	problems := s.Check()
	if len(problems) == 0 {
		s.logf("hibernate check: ready, hibernation will come back")
		return
	}
	s.logf("WARNING: HIBERNATION WOULD NOT COME BACK on this machine; when the power runs out, hibernate now will refuse. Fix this now:")
	for _, p := range problems {
		s.logf("WARNING:   %s", p)
	}
}

// String is the policy in one line for the log.
func (p Policy) String() string {
	mode := "any"
	if p.All {
		mode = "all"
	}
	runtime := p.Runtime.String()
	if p.Budget {
		runtime = fmt.Sprintf("max(%s, the budget + grace)", p.Runtime)
	}
	return fmt.Sprintf("on battery and (LB or FSD or charge ≤ %.0f%% or runtime ≤ %s), %s supply, grace %s, on-unknown %s after %s",
		p.Charge, runtime, mode, p.Grace, p.OnUnknown, p.UnknownAfter)
}
