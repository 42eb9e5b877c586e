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

// Service polls the sources every Poll, steps the policy's Machine with the readings and calls
// Action when the Machine says so.
type Service struct {
	Sources []Source
	Policy  Policy
	Poll    time.Duration
	Clock   Clock
	// Check runs at start-up (hibernate check): it returns what would stop hibernation from
	// coming back, empty when it would. Optional.
	Check   func() []string
	Action  Action
	Logf    func(format string, args ...any)
	Observe func(Step) // optional: called after every step
}

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
	for {
		var st Step
		for _, src := range s.Sources {
			st.Readings = append(st.Readings, src.Poll(ctx)...)
		}
		if ctx.Err() != nil {
			return nil
		}
		st.Time = clock.Now()
		var fire bool
		st.Events, fire = m.Step(st.Time, st.Readings)
		for _, e := range st.Events {
			s.logf("%s", e.Message)
		}
		if fire {
			st.Hibernate = true
			st.ActionErr = s.Action(ctx, reasonOf(st.Events))
			if st.ActionErr != nil {
				s.logf("HIBERNATION FAILED: %v (not trying again in this outage)", st.ActionErr)
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
	return fmt.Sprintf("on battery and (LB or FSD or charge ≤ %.0f%% or runtime ≤ %s), %s supply, grace %s, on-unknown %s after %s",
		p.Charge, p.Runtime, mode, p.Grace, p.OnUnknown, p.UnknownAfter)
}
