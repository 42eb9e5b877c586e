package watch

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// OnUnknown says what an unknown state may lead to.
type OnUnknown string

const (
	// UnknownIgnore never hibernates on an unknown state (the default).
	UnknownIgnore OnUnknown = "ignore"
	// UnknownLastOnBattery counts a supply as critical when it has been unknown for
	// UnknownAfter and was on battery when last known.
	UnknownLastOnBattery OnUnknown = "last-on-battery"
	// UnknownHibernate counts a supply as critical when it has been unknown for UnknownAfter,
	// whatever it said before.
	UnknownHibernate OnUnknown = "hibernate"
)

// Policy is when to hibernate.
type Policy struct {
	Charge  float64       // hibernate on battery at a charge ≤ this (percent); 0 = not on charge
	Runtime time.Duration // hibernate on battery at a runtime ≤ this; 0 = not on runtime
	// Budget: hibernate on battery also at a runtime ≤ what hibernating needs now (the
	// Machine's budget, SetBudget), where that is above Runtime: a machine whose image takes
	// longer to write than the fixed threshold leaves.
	Budget       bool
	Grace        time.Duration // wait this long after the decision; power back in it cancels
	OnUnknown    OnUnknown
	UnknownAfter time.Duration // how long a supply must be unknown before OnUnknown applies
	All          bool          // hibernate only when every supply is critical (redundant power supplies); default any
}

// DefaultPolicy is the policy without a config file or flags.
func DefaultPolicy() Policy {
	return Policy{Charge: 10, Runtime: 5 * time.Minute, Budget: true, Grace: 30 * time.Second,
		OnUnknown: UnknownIgnore, UnknownAfter: 2 * time.Minute}
}

// EventKind names what happened in a step.
type EventKind string

const (
	EventChange    EventKind = "change"    // a supply's state changed (status, known/unknown)
	EventCritical  EventKind = "critical"  // the decision is taken; hibernation at Deadline unless power returns
	EventCancel    EventKind = "cancel"    // power came back in the grace period
	EventHibernate EventKind = "hibernate" // the grace is over: hibernate now
	EventRearm     EventKind = "rearm"     // power came back after a hibernation: the next outage may hibernate again
)

// Event is one thing the Machine decided or saw.
type Event struct {
	Kind     EventKind
	Source   string
	Message  string
	Reason   string    // for EventCritical and EventHibernate: why
	Deadline time.Time // for EventCritical
}

func (e Event) String() string { return e.Message }

type supply struct {
	last         Reading // the last reading, known or not
	lastKnown    Reading
	everKnown    bool
	unknownSince time.Time
	critical     bool   // sticky: set by a critical reading, cleared only when the supply is known on line
	reason       string // why it is critical
}

// Machine is the policy's state: which supplies are critical, whether a hibernation is pending
// (in its grace period) or done for this outage. It does no I/O and reads no clock: Step is
// given the time, so tests drive it with any sequence of readings and times.
type Machine struct {
	Policy   Policy
	supplies map[string]*supply
	pending  bool
	deadline time.Time
	done     bool // hibernated (or tried) in this outage: never twice
	budget   time.Duration
}

// SetBudget tells the machine how long hibernating takes now (hibernate check's budget), for
// Policy.Budget; the grace period comes on top, so it is counted in.
func (m *Machine) SetBudget(d time.Duration) { m.budget = d }

// runtimeThreshold is the runtime at or below which a supply on battery is critical, and
// whether the budget set it.
func (m *Machine) runtimeThreshold() (time.Duration, bool) {
	if need := m.budget + m.Policy.Grace; m.Policy.Budget && m.budget > 0 && need > m.Policy.Runtime {
		return need, true
	}
	return m.Policy.Runtime, false
}

// NewMachine returns a machine with nothing seen yet.
func NewMachine(p Policy) *Machine {
	return &Machine{Policy: p, supplies: map[string]*supply{}}
}

// Pending reports whether a hibernation is decided and waits for its grace period to end.
func (m *Machine) Pending() (bool, time.Time) { return m.pending, m.deadline }

// Step takes the readings of one poll at time now and returns what happened; hibernate is true
// exactly once per outage, when the grace period after the decision ends without power coming
// back. A supply seen before but absent from readings counts as unknown.
func (m *Machine) Step(now time.Time, readings []Reading) (events []Event, hibernate bool) {
	seen := map[string]bool{}
	for _, r := range readings {
		seen[r.Source] = true
		events = append(events, m.observe(now, r)...)
	}
	for _, name := range m.names() {
		if !seen[name] {
			events = append(events, m.observe(now, unknown(name, fmt.Errorf("no longer reported")))...)
		}
	}

	triggered, reason := m.triggered()
	switch {
	case !triggered && m.pending:
		m.pending = false
		events = append(events, Event{Kind: EventCancel, Message: "power is back: hibernation cancelled"})
	case !triggered && m.done:
		m.done = false
		events = append(events, Event{Kind: EventRearm, Message: "power is back after the hibernation: armed for the next outage"})
	case triggered && !m.pending && !m.done:
		m.pending = true
		m.deadline = now.Add(m.Policy.Grace)
		msg := fmt.Sprintf("CRITICAL: %s: hibernating in %s unless power returns", reason, m.Policy.Grace)
		events = append(events, Event{Kind: EventCritical, Message: msg, Reason: reason, Deadline: m.deadline})
	}
	if m.pending && !now.Before(m.deadline) {
		m.pending = false
		m.done = true
		events = append(events, Event{Kind: EventHibernate, Message: fmt.Sprintf("hibernating now: %s", reason), Reason: reason})
		return events, true
	}
	return events, false
}

// Resumed starts the policy over after a resume: nothing seen, nothing pending, nothing done.
// The next readings say again whether the power is critical; a machine resumed while still on
// a low battery is decided for again (after the grace), as at a new outage.
func (m *Machine) Resumed() {
	m.supplies, m.pending, m.done, m.deadline = map[string]*supply{}, false, false, time.Time{}
}

// Retry has the next Step hibernate again, after a failed attempt, unless the power is back by
// then (which the Step says as a cancel).
func (m *Machine) Retry() {
	m.pending, m.done, m.deadline = true, false, time.Time{}
}

func (m *Machine) names() []string {
	var out []string
	for n := range m.supplies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m *Machine) observe(now time.Time, r Reading) []Event {
	s := m.supplies[r.Source]
	if s == nil {
		s = &supply{}
		m.supplies[r.Source] = s
	}
	var events []Event
	prev := s.last
	first := prev.Source == ""
	if first || prev.Known != r.Known || (r.Known && prev.Status != r.Status) ||
		(!r.Known && fmt.Sprint(prev.Err) != fmt.Sprint(r.Err)) {
		events = append(events, Event{Kind: EventChange, Source: r.Source, Message: r.String()})
	}
	s.last = r
	if r.Known {
		s.lastKnown, s.everKnown = r, true
		s.unknownSince = time.Time{}
		if reason := m.criticalReason(r); reason != "" {
			if !s.critical {
				s.critical, s.reason = true, reason
			}
		} else if !r.OnBattery && !r.FSD {
			s.critical, s.reason = false, ""
		}
		return events
	}
	if s.unknownSince.IsZero() {
		s.unknownSince = now
	}
	if s.critical || now.Sub(s.unknownSince) < m.Policy.UnknownAfter {
		return events
	}
	switch {
	case m.Policy.OnUnknown == UnknownHibernate,
		m.Policy.OnUnknown == UnknownLastOnBattery && s.everKnown && s.lastKnown.OnBattery:
		s.critical = true
		s.reason = fmt.Sprintf("%s unknown for %s (%v), and the policy is on-unknown=%s", r.Source, now.Sub(s.unknownSince).Round(time.Second), r.Err, m.Policy.OnUnknown)
	}
	return events
}

// criticalReason says why a known reading calls for hibernation, or "".
func (m *Machine) criticalReason(r Reading) string {
	switch {
	case r.FSD:
		return fmt.Sprintf("%s: forced shutdown (FSD)", r.Source)
	case !r.OnBattery:
		return ""
	case r.LowBattery:
		return fmt.Sprintf("%s: on battery, battery low (LB)", r.Source)
	case m.Policy.Charge > 0 && r.Charge >= 0 && r.Charge <= m.Policy.Charge:
		return fmt.Sprintf("%s: on battery, charge %.0f%% ≤ %.0f%%", r.Source, r.Charge, m.Policy.Charge)
	}
	if limit, byBudget := m.runtimeThreshold(); limit > 0 && r.Runtime >= 0 && r.Runtime <= limit {
		if byBudget {
			return fmt.Sprintf("%s: on battery, runtime %s ≤ %s, what hibernating needs now (%s) and the grace (%s)",
				r.Source, r.Runtime.Round(time.Second), limit.Round(time.Second), m.budget.Round(time.Second), m.Policy.Grace)
		}
		return fmt.Sprintf("%s: on battery, runtime %s ≤ %s", r.Source, r.Runtime.Round(time.Second), m.Policy.Runtime)
	}
	return ""
}

// triggered applies any/all to the supplies' critical flags.
func (m *Machine) triggered() (bool, string) {
	var reasons []string
	n := 0
	for _, name := range m.names() {
		s := m.supplies[name]
		n++
		if s.critical {
			reasons = append(reasons, s.reason)
		}
	}
	if len(reasons) == 0 || (m.Policy.All && len(reasons) < n) {
		return false, ""
	}
	return true, strings.Join(reasons, "; ")
}
