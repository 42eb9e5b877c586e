package watch

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ups(status string, charge float64, runtime time.Duration) Reading {
	r := unknown("ups@h:3493", nil)
	parseNUTStatus(&r, status)
	r.Charge, r.Runtime = charge, runtime
	return r
}

func named(name string, r Reading) Reading { r.Source = name; return r }

// step is one poll of a policy script: at offset `at`, these readings; want the kinds of events
// (change events left out) and whether it hibernates.
type step struct {
	at        time.Duration
	readings  []Reading
	want      []EventKind
	hibernate bool
}

func runScript(t *testing.T, p Policy, script []step) {
	t.Helper()
	m := NewMachine(p)
	for i, s := range script {
		events, hib := m.Step(t0.Add(s.at), s.readings)
		var kinds []EventKind
		for _, e := range events {
			if e.Kind != EventChange {
				kinds = append(kinds, e.Kind)
			}
		}
		if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(s.want), ",") || hib != s.hibernate {
			t.Fatalf("step %d (at %s): events %v hibernate %v, want %v hibernate %v; all: %v", i, s.at, kinds, hib, s.want, s.hibernate, events)
		}
	}
}

func kindStrings(ks []EventKind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

func rs(r ...Reading) []Reading { return r }

func TestPolicy(t *testing.T) {
	p := Policy{Charge: 10, Runtime: 2 * time.Minute, Grace: 30 * time.Second, OnUnknown: UnknownIgnore, UnknownAfter: time.Minute}
	s := time.Second
	lost := unknown("ups@h:3493", errors.New("connect: refused"))
	cases := []struct {
		name   string
		policy Policy
		script []step
	}{
		{"LB after the grace, once per outage, again in the next", p, []step{
			{0, rs(ups("OL", 100, time.Hour)), nil, false},
			{5 * s, rs(ups("OB DISCHRG", 60, 20*time.Minute)), nil, false},
			{10 * s, rs(ups("OB LB", 30, 10*time.Minute)), []EventKind{EventCritical}, false},
			{39 * s, rs(ups("OB LB", 30, 10*time.Minute)), nil, false},
			{40 * s, rs(ups("OB LB", 30, 10*time.Minute)), []EventKind{EventHibernate}, true},
			{45 * s, rs(ups("OB LB", 20, 10*time.Minute)), nil, false},
			{500 * s, rs(ups("OB LB", 5, time.Minute)), nil, false},
			{600 * s, rs(ups("OL CHRG", 5, time.Minute)), []EventKind{EventRearm}, false},
			{700 * s, rs(ups("OB LB", 5, time.Minute)), []EventKind{EventCritical}, false},
			{730 * s, rs(ups("OB LB", 5, time.Minute)), []EventKind{EventHibernate}, true},
		}},
		{"power back in the grace cancels", p, []step{
			{0, rs(ups("OB LB", 30, -1)), []EventKind{EventCritical}, false},
			{10 * s, rs(ups("OL", 30, -1)), []EventKind{EventCancel}, false},
			{60 * s, rs(ups("OL", 30, -1)), nil, false},
			{61 * s, rs(ups("OB", 30, -1)), nil, false},
		}},
		{"charge at the threshold, not above", p, []step{
			{0, rs(ups("OB", 11, -1)), nil, false},
			{5 * s, rs(ups("OB", 10, -1)), []EventKind{EventCritical}, false},
			{35 * s, rs(ups("OB", 10, -1)), []EventKind{EventHibernate}, true},
		}},
		{"charge jitter on battery does not cancel", p, []step{
			{0, rs(ups("OB", 9, -1)), []EventKind{EventCritical}, false},
			{10 * s, rs(ups("OB", 11, -1)), nil, false},
			{30 * s, rs(ups("OB", 11, -1)), []EventKind{EventHibernate}, true},
		}},
		{"runtime threshold", p, []step{
			{0, rs(ups("OB", 50, 121*s)), nil, false},
			{5 * s, rs(ups("OB", 50, 120*s)), []EventKind{EventCritical}, false},
		}},
		{"charge 0 and runtime 0 switch those off", Policy{Grace: 0}, []step{
			{0, rs(ups("OB", 1, s)), nil, false},
			{5 * s, rs(ups("OB LB", 1, s)), []EventKind{EventCritical, EventHibernate}, true},
		}},
		{"on line, the thresholds do not count", p, []step{
			{0, rs(ups("OL CHRG", 1, s)), nil, false},
		}},
		{"FSD counts even on line", p, []step{
			{0, rs(ups("FSD OL", 100, time.Hour)), []EventKind{EventCritical}, false},
		}},
		{"unknown is ignored by default", p, []step{
			{0, rs(ups("OB", 50, -1)), nil, false},
			{5 * s, rs(lost), nil, false},
			{3600 * s, rs(lost), nil, false},
		}},
		{"last-on-battery: unknown after OB, for unknown-after", Policy{OnUnknown: UnknownLastOnBattery, UnknownAfter: time.Minute, Grace: 10 * s}, []step{
			{0, rs(ups("OB", 50, -1)), nil, false},
			{5 * s, rs(lost), nil, false},
			{64 * s, rs(lost), nil, false},
			{65 * s, rs(lost), []EventKind{EventCritical}, false},
			{75 * s, rs(lost), []EventKind{EventHibernate}, true},
		}},
		{"last-on-battery: unknown after OL stays ignored", Policy{OnUnknown: UnknownLastOnBattery, UnknownAfter: time.Minute}, []step{
			{0, rs(ups("OL", 100, -1)), nil, false},
			{5 * s, rs(lost), nil, false},
			{3600 * s, rs(lost), nil, false},
		}},
		{"on-unknown hibernate: even after OL, even never known", Policy{OnUnknown: UnknownHibernate, UnknownAfter: time.Minute}, []step{
			{0, rs(lost), nil, false},
			{60 * s, rs(lost), []EventKind{EventCritical, EventHibernate}, true},
		}},
		{"unknown in the grace does not cancel", p, []step{
			{0, rs(ups("OB LB", 5, -1)), []EventKind{EventCritical}, false},
			{10 * s, rs(lost), nil, false},
			{30 * s, rs(lost), []EventKind{EventHibernate}, true},
		}},
		{"any: one critical supply is enough", p, []step{
			{0, rs(named("a", ups("OB LB", 5, -1)), named("b", ups("OL", 100, -1))), []EventKind{EventCritical}, false},
		}},
		{"all: every supply must be critical", Policy{All: true, Charge: 10, Grace: 0}, []step{
			{0, rs(named("a", ups("OB LB", 5, -1)), named("b", ups("OB", 50, -1))), nil, false},
			{5 * s, rs(named("a", ups("OB LB", 5, -1)), named("b", ups("OB", 9, -1))), []EventKind{EventCritical, EventHibernate}, true},
		}},
		{"a supply no longer reported is unknown, not on line", p, []step{
			{0, rs(named("a", ups("OB LB", 5, -1)), named("b", ups("OL", 100, -1))), []EventKind{EventCritical}, false},
			{5 * s, rs(named("b", ups("OL", 100, -1))), nil, false},
			{30 * s, rs(named("b", ups("OL", 100, -1))), []EventKind{EventHibernate}, true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runScript(t, c.policy, c.script) })
	}
}

func TestParseNUTStatus(t *testing.T) {
	for _, c := range []struct {
		status             string
		known, ob, lb, fsd bool
	}{
		{"OL", true, false, false, false},
		{"OL CHRG", true, false, false, false},
		{"OB DISCHRG", true, true, false, false},
		{"OB LB", true, true, true, false},
		{"FSD OB LB", true, true, true, true},
		{"FSD", true, false, false, true},
		{"WAIT", false, false, false, false},
		{"", false, false, false, false},
		{"OL OB", false, false, false, false},
	} {
		r := unknown("x", nil)
		parseNUTStatus(&r, c.status)
		if r.Known != c.known || (r.Known && (r.OnBattery != c.ob || r.LowBattery != c.lb || r.FSD != c.fsd)) {
			t.Errorf("%q: %+v, want known %v ob %v lb %v fsd %v", c.status, r, c.known, c.ob, c.lb, c.fsd)
		}
	}
}

func TestChangeEventsOnlyOnChange(t *testing.T) {
	m := NewMachine(DefaultPolicy())
	count := func(events []Event) int {
		n := 0
		for _, e := range events {
			if e.Kind == EventChange {
				n++
			}
		}
		return n
	}
	seq := []struct {
		r    Reading
		want int
	}{
		{ups("OL", 100, -1), 1},
		{ups("OL", 99, -1), 0},
		{ups("OB", 99, -1), 1},
		{unknown("ups@h:3493", errors.New("x")), 1},
		{unknown("ups@h:3493", errors.New("x")), 0},
		{unknown("ups@h:3493", errors.New("y")), 1},
		{ups("OB", 90, -1), 1},
	}
	for i, s := range seq {
		ev, _ := m.Step(t0.Add(time.Duration(i)*time.Second), rs(s.r))
		if got := count(ev); got != s.want {
			t.Errorf("step %d: %d change events, want %d: %v", i, got, s.want, ev)
		}
	}
}

// The budget raises the runtime threshold to what hibernating needs plus the grace, never
// lowers it; off, or unset (0), it leaves the fixed threshold.
func TestPolicyBudget(t *testing.T) {
	p := Policy{Runtime: 2 * time.Minute, Budget: true, Grace: 30 * time.Second}
	for _, c := range []struct {
		budget   bool
		need     time.Duration
		runtime  time.Duration
		critical bool
	}{
		{true, 3 * time.Minute, 3*time.Minute + 30*time.Second, true},  // at 3m30s: the budget and the grace
		{true, 3 * time.Minute, 3*time.Minute + 31*time.Second, false}, // above
		{true, time.Minute, 2*time.Minute + 10*time.Second, false},     // 1m30s < 2m: the fixed threshold
		{true, time.Minute, 2 * time.Minute, true},
		{true, 0, 2*time.Minute + 10*time.Second, false}, // no prediction
		{false, 3 * time.Minute, 2*time.Minute + 10*time.Second, false},
	} {
		p.Budget = c.budget
		m := NewMachine(p)
		m.SetBudget(c.need)
		events, _ := m.Step(t0, rs(ups("OB", 90, c.runtime)))
		got := false
		for _, e := range events {
			got = got || e.Kind == EventCritical
		}
		if got != c.critical {
			t.Errorf("budget %v, need %s, runtime %s: critical %v, want %v (%v)", c.budget, c.need, c.runtime, got, c.critical, events)
		}
	}
	p.Runtime, p.Budget = 0, true // the budget alone
	m := NewMachine(p)
	m.SetBudget(time.Minute)
	if events, _ := m.Step(t0, rs(ups("OB", 90, 90*time.Second))); len(events) < 2 || events[1].Kind != EventCritical {
		t.Errorf("runtime 0, budget 1m: %v", events)
	}
}
