package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when the test says; After's channels fire when Advance passes them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	added   chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0, added: make(chan struct{}, 1000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the time on and fires every waiter due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waiting reports whether someone waits on After.
func (c *fakeClock) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters) > 0
}

// syncLog collects the service's log lines.
type syncLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *syncLog) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *syncLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// harness runs a Service on a fake clock with a recording action: nothing here can hibernate.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	poll    time.Duration
	steps   chan Step
	log     *syncLog
	mu      sync.Mutex
	actions []string // the reasons the action was called with
	fail    int      // the first fail calls of the action fail (as a held lock does)
	seen    []Step
}

func startService(t *testing.T, srcs []Source, p Policy, check func() []string) *harness {
	t.Helper()
	return startFailing(t, srcs, p, check, 0)
}

// startFailing is startService whose action fails its first fail calls.
func startFailing(t *testing.T, srcs []Source, p Policy, check func() []string, fail int) *harness {
	t.Helper()
	return startHarness(t, srcs, p, check, fail, false)
}

func startHarness(t *testing.T, srcs []Source, p Policy, check func() []string, fail int, dryRun bool, opts ...func(*Service)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), poll: 5 * time.Second, steps: make(chan Step, 1000), log: &syncLog{}, fail: fail}
	for _, s := range srcs {
		if n, ok := s.(*NUTSource); ok {
			n.Clock, n.Logf = h.clock, h.log.Logf
		}
	}
	svc := &Service{
		Sources: srcs, Policy: p, Poll: h.poll, Clock: h.clock, Logf: h.log.Logf, Check: check, DryRun: dryRun,
		Action: func(ctx context.Context, reason string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.actions = append(h.actions, reason)
			if h.fail > 0 {
				h.fail--
				return errors.New("another hibernate now holds /run/hibernate.lock")
			}
			return nil
		},
		Observe: func(s Step) { h.steps <- s },
	}
	for _, o := range opts {
		o(svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.clock.Advance(time.Hour) // wake the loop from its wait
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10s of its context's end")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", h.log)
		}
	})
	return h
}

// next waits (10 s at most) for the service's next step.
func (h *harness) next() Step {
	h.t.Helper()
	select {
	case s := <-h.steps:
		h.seen = append(h.seen, s)
		return s
	case <-time.After(10 * time.Second):
		h.t.Fatalf("no step of the service within 10s; log:\n%s", h.log)
		return Step{}
	}
}

// advance lets one poll interval pass once the service waits for it, and returns the step it makes.
func (h *harness) advance() Step {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !h.clock.waiting() {
		if time.Now().After(deadline) {
			h.t.Fatalf("the service did not wait for its next poll within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	h.clock.Advance(h.poll)
	return h.next()
}

// until advances poll after poll until pred holds of a step: at most 400 polls and 10 s of
// real time, pausing pause between polls (for a real server's driver to catch up).
func (h *harness) until(what string, pause time.Duration, pred func(Step) bool) Step {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		s := h.advance()
		if pred(s) {
			return s
		}
		time.Sleep(pause)
	}
	h.t.Fatalf("no step with %s within 400 polls or 10s; log:\n%s", what, h.log)
	return Step{}
}

func (h *harness) actionCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.actions)
}

func hasEvent(s Step, k EventKind) bool {
	for _, e := range s.Events {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// scripted is a source that says what the test sets.
type scripted struct {
	mu sync.Mutex
	r  Reading
}

func (s *scripted) Name() string { return "scripted" }
func (s *scripted) set(r Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r = r
}
func (s *scripted) Poll(context.Context) []Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []Reading{s.r}
}

// The start-up check, said loudly; then LB, the grace, one hibernation. Resumed while still at
// LB, the policy starts over: decided again, with the whole grace, and a second hibernation.
func TestServiceStartupCheckAndResume(t *testing.T) {
	src := &scripted{r: ups("OL", 100, -1)}
	h := startService(t, []Source{src}, Policy{Charge: 10, Grace: 10 * time.Second},
		func() []string { return []string{"swap: no active disk swap (fix: hibernate setup)"} })
	h.next()
	if h.log.count("WARNING: HIBERNATION WOULD NOT COME BACK") != 1 || h.log.count("swap: no active disk swap") != 1 {
		t.Fatalf("no loud warning at start-up:\n%s", h.log)
	}
	src.set(ups("OB LB", 50, -1))
	if s := h.advance(); !hasEvent(s, EventCritical) || s.Hibernate {
		t.Fatalf("at LB: %+v", s)
	}
	if s := h.advance(); s.Hibernate { // 5 s into the 10 s grace
		t.Fatalf("hibernated in the grace: %+v", s)
	}
	if s := h.advance(); !s.Hibernate || !hasEvent(s, EventHibernate) || h.actionCount() != 1 {
		t.Fatalf("at the grace's end: %+v, %d actions", s, h.actionCount())
	}
	if !strings.Contains(h.actions[0], "battery low (LB)") || h.log.count("resumed: connecting to the power sources again") != 1 {
		t.Fatalf("action reason %q; log:\n%s", h.actions[0], h.log)
	}
	// Resumed at LB: decided again, with the grace again.
	if s := h.advance(); !hasEvent(s, EventCritical) || s.Hibernate {
		t.Fatalf("the first poll after the resume, still at LB: %+v", s)
	}
	h.advance()
	if s := h.advance(); !s.Hibernate || h.actionCount() != 2 {
		t.Fatalf("the grace after the resume: %+v, %d actions", s, h.actionCount())
	}
}

// A failed attempt is tried again at the next poll, said each time, MaxAttempts in all in one
// outage; the power back, a new outage has its attempts again.
func TestServiceRetriesAFailedAttempt(t *testing.T) {
	src := &scripted{r: ups("OB LB", 50, -1)}
	h := startFailing(t, []Source{src}, Policy{Charge: 10}, nil, 10)
	if s := h.next(); !s.Hibernate || s.ActionErr == nil {
		t.Fatalf("at LB with no grace: %+v", s)
	}
	for i := 2; i <= MaxAttempts; i++ {
		if s := h.advance(); !s.Hibernate || h.actionCount() != i {
			t.Fatalf("attempt %d: %+v, %d actions", i, s, h.actionCount())
		}
	}
	for i := 0; i < 4; i++ {
		if s := h.advance(); s.Hibernate {
			t.Fatalf("attempt %d: %+v", MaxAttempts+1+i, s)
		}
	}
	if h.log.count("HIBERNATION FAILED (attempt") != MaxAttempts || h.log.count("not trying again in this outage") != 1 {
		t.Fatalf("the failures said:\n%s", h.log)
	}
	src.set(ups("OL", 60, -1))
	if s := h.advance(); !hasEvent(s, EventRearm) {
		t.Fatalf("power back: %+v", s)
	}
	src.set(ups("OB LB", 50, -1))
	if s := h.advance(); !s.Hibernate || h.actionCount() != MaxAttempts+1 {
		t.Fatalf("the next outage: %+v, %d actions", s, h.actionCount())
	}
}

// A dry run's action changes nothing: no resume follows it, and the outage has one decision.
func TestServiceDryRunOnceAnOutage(t *testing.T) {
	src := &scripted{r: ups("OB LB", 50, -1)}
	h := startHarness(t, []Source{src}, Policy{Charge: 10}, nil, 0, true)
	if s := h.next(); !s.Hibernate {
		t.Fatalf("at LB: %+v", s)
	}
	for i := 0; i < 4; i++ {
		h.advance()
	}
	if h.actionCount() != 1 || h.log.count("resumed") != 0 {
		t.Fatalf("%d dry actions in one outage, want 1; log:\n%s", h.actionCount(), h.log)
	}
}

// A failed attempt, then the power back before the next poll: cancelled, not tried again.
func TestServiceRetryCancelledByPower(t *testing.T) {
	src := &scripted{r: ups("OB LB", 50, -1)}
	h := startFailing(t, []Source{src}, Policy{Charge: 10}, nil, 1)
	if s := h.next(); !s.Hibernate || s.ActionErr == nil {
		t.Fatalf("at LB: %+v", s)
	}
	src.set(ups("OL", 50, -1))
	if s := h.advance(); s.Hibernate || !hasEvent(s, EventCancel) {
		t.Fatalf("power back after a failed attempt: %+v", s)
	}
	for i := 0; i < 3; i++ {
		h.advance()
	}
	if h.actionCount() != 1 {
		t.Fatalf("%d attempts, want 1", h.actionCount())
	}
}

func TestServiceRefusesWithoutAction(t *testing.T) {
	err := (&Service{Sources: []Source{&scripted{}}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no action") {
		t.Fatalf("Run without an action: %v", err)
	}
}

// The runtime budget: a UPS whose runtime is above the fixed threshold but at or below what
// hibernating needs (plus the grace) is critical; on battery, the log says the runtime against
// the budget once a minute; a prediction that fails is said once, the fixed threshold kept.
func TestServiceBudget(t *testing.T) {
	src := &scripted{r: ups("OB", 90, 6*time.Minute)}
	var mu sync.Mutex
	need, fail := 4*time.Minute, false
	budget := func(s *Service) {
		s.Budget = func() (time.Duration, string, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return 0, "", errors.New("read /proc/meminfo: no such file")
			}
			return need, fmt.Sprintf("about %s: (the line)", need), nil
		}
	}
	h := startHarness(t, []Source{src}, Policy{Runtime: time.Minute, Budget: true, Grace: 10 * time.Second}, nil, 0, false, budget)
	if s := h.next(); hasEvent(s, EventCritical) {
		t.Fatalf("6m left, 4m10s needed: %+v", s)
	}
	if h.log.count("runtime budget: hibernating now takes about 4m0s") != 1 || h.log.count("on battery: runtime 6m0s left; hibernating needs about 4m0s") != 1 {
		t.Fatalf("the budget not said:\n%s", h.log)
	}
	h.advance()
	if h.log.count("on battery: runtime") != 1 {
		t.Fatalf("the status said twice within a minute:\n%s", h.log)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	h.advance()
	h.advance()
	if h.log.count("cannot predict how long hibernating takes (read /proc/meminfo: no such file); the runtime threshold stays 1m0s") != 1 {
		t.Fatalf("the failed prediction said %d times:\n%s", h.log.count("cannot predict"), h.log)
	}
	src.set(ups("OB", 80, 3*time.Minute))
	if s := h.advance(); hasEvent(s, EventCritical) {
		t.Fatalf("without a budget, 3m left is above the 1m threshold: %+v", s)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	s := h.advance()
	if !hasEvent(s, EventCritical) || h.log.count("runtime budget: hibernating now takes about 4m0s") != 2 {
		t.Fatalf("3m left with the budget back: %+v\n%s", s, h.log)
	}
	for _, e := range s.Events {
		if e.Kind == EventCritical && !strings.Contains(e.Reason, "runtime 3m0s ≤ 4m10s, what hibernating needs now (4m0s) and the grace (10s)") {
			t.Errorf("reason %q", e.Reason)
		}
	}
}
