package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Debian's nut-server: the daemons themselves, not the /usr/sbin wrappers (which refuse unless
// /etc/nut/nut.conf enables them).
const (
	nutUpsd  = "/lib/nut/upsd"
	nutDummy = "/lib/nut/dummy-ups"
)

// nutServer is a real upsd with one dummy-ups driver, on 127.0.0.1, configured and kept in a
// temporary folder (NUT_CONFPATH, NUT_STATEPATH); the test's cleanup kills both.
type nutServer struct {
	t    *testing.T
	dir  string
	ups  string
	addr string
	gen  int // mtime generation of the .dev file
	user string
	env  []string
	upsd *exec.Cmd
}

func startNUT(t *testing.T, upsName string, dev string) *nutServer {
	t.Helper()
	if reason := nutMissing(nutUpsd, nutDummy); reason != "" {
		t.Skip(reason)
	}
	dir := t.TempDir()
	// The daemons run as the user the test runs as (as root, -u root: they would drop to nut,
	// which cannot enter the test's 0700 folder).
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // upsd takes it next; a port taken in between fails the wait below, loudly
	n := &nutServer{t: t, dir: dir, ups: upsName, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	n.write("ups.conf", fmt.Sprintf("pollinterval = 1\n[%s]\n\tdriver = dummy-ups\n\tport = %s\n\tdesc = \"hibernate watch test\"\n",
		upsName, filepath.Join(dir, upsName+".dev")))
	n.write("upsd.conf", fmt.Sprintf("LISTEN 127.0.0.1 %d\nMAXAGE 15\n", port))
	// watch logs in as upsmon does; reader may read but not LOGIN.
	n.write("upsd.users", "[watch]\n\tpassword = test-pass\n\tupsmon secondary\n[reader]\n\tpassword = read-pass\n")
	n.setDev(dev)

	n.env = append(os.Environ(), "NUT_CONFPATH="+dir, "NUT_STATEPATH="+dir, "NUT_ALTPIDPATH="+dir)
	n.user = u.Username
	n.start(nutDummy, "-a", upsName, "-F")
	n.waitFor("the driver's socket", func() error {
		_, err := os.Stat(filepath.Join(dir, "dummy-ups-"+upsName))
		return err
	})
	n.startUpsd()
	return n
}

// start runs a NUT daemon in the foreground, its output in the folder; the test's end kills it.
func (n *nutServer) start(name string, args ...string) *exec.Cmd {
	t := n.t
	t.Helper()
	if os.Geteuid() == 0 {
		args = append(args, "-u", n.user)
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, filepath.Base(name)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = n.env, logf, logf, n.dir
	// Killed with the test binary, should it die before its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // this process, by its pid: nothing else
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s %s:\n%s", name, strings.Join(args, " "), b)
		}
	})
	return cmd
}

// startUpsd starts upsd and waits (10 s at most) until it serves the UPS's data.
func (n *nutServer) startUpsd() {
	n.t.Helper()
	n.upsd = n.start(nutUpsd, "-F")
	upsName := n.ups
	n.waitFor("upsd to serve the UPS", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := DialNUT(ctx, n.addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		st, err := c.GetVar(upsName, "ups.status")
		if err == nil && st == "WAIT" { // upsd's answer before the driver's first data
			err = fmt.Errorf("status %s", st)
		}
		return err
	})
}

// stopUpsd kills upsd (the driver goes on).
func (n *nutServer) stopUpsd() {
	n.upsd.Process.Kill()
	n.upsd.Wait()
}

// nutMissing says why the NUT tests cannot run ("" when they can): a daemon is not executable.
func nutMissing(daemons ...string) string {
	for _, p := range daemons {
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			return "nut-server not installed: run qemu-tests/scripts/deps.sh"
		}
	}
	return ""
}

func TestNUTMissing(t *testing.T) {
	if r := nutMissing(nutUpsd, filepath.Join(t.TempDir(), "dummy-ups")); r != "nut-server not installed: run qemu-tests/scripts/deps.sh" {
		t.Errorf("a missing daemon: %q", r)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if r := nutMissing(self); r != "" {
		t.Errorf("an executable: %q", r)
	}
}

func (n *nutServer) write(name, content string) {
	n.t.Helper()
	if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o600); err != nil {
		n.t.Fatal(err)
	}
}

// setDev replaces the dummy's data file whole (a rename, so the driver never reads half of it)
// with a modification time of its own: dummy-ups (mode dummy-once) re-reads the file when its
// time changes, and two edits within one second must not look the same.
func (n *nutServer) setDev(content string) {
	n.t.Helper()
	p := filepath.Join(n.dir, n.ups+".dev")
	n.write(n.ups+".dev.new", content)
	n.gen++
	mt := time.Now().Add(time.Duration(n.gen) * time.Second)
	if err := os.Chtimes(p+".new", mt, mt); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		n.t.Fatal(err)
	}
}

// waitFor polls f (every 50 ms, 10 s at most) until it succeeds.
func (n *nutServer) waitFor(what string, f func() error) {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("waited 10s for %s: %v", what, err)
}

func dev(status string, charge, runtime int) string {
	return fmt.Sprintf("ups.status: %s\nbattery.charge: %d\nbattery.runtime: %d\nups.mfr: hibernate tests\n", status, charge, runtime)
}

func (n *nutServer) source() *NUTSource {
	s := &NUTSource{Addr: n.addr, UPS: []string{n.ups}, User: "watch", Password: "test-pass",
		Timeout: 2 * time.Second, BackoffMin: time.Second, BackoffMax: 4 * time.Second}
	n.t.Cleanup(s.Close)
	return s
}

func statusIs(status string) func(Step) bool {
	return func(s Step) bool {
		return len(s.Readings) == 1 && s.Readings[0].Known && s.Readings[0].Status == status
	}
}

// pause between polls of a real server: the driver re-reads its file once a second.
const nutPause = 50 * time.Millisecond

func noDecision(t *testing.T, h *harness, s Step, when string) {
	t.Helper()
	if hasEvent(s, EventCritical) || s.Hibernate || h.actionCount() != 0 {
		t.Fatalf("a decision %s: %+v", when, s)
	}
	for _, p := range h.seen {
		if hasEvent(p, EventCritical) || p.Hibernate {
			t.Fatalf("a decision %s, at %+v", when, p)
		}
	}
}

// OL → OB → LB: the decision at LB, not before; hibernation (the recording action) once, after
// the grace.
func TestNUTRealServerLowBattery(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "rack", dev("OL", 100, 3600))
	h := startService(t, []Source{n.source()}, Policy{Charge: 5, Runtime: time.Minute, Grace: 20 * time.Second}, nil)
	if s := h.next(); !statusIs("OL")(s) {
		t.Fatalf("first poll: %+v", s)
	}
	n.setDev(dev("OB DISCHRG", 60, 1200))
	s := h.until("OB DISCHRG", nutPause, statusIs("OB DISCHRG"))
	noDecision(t, h, s, "on battery at 60%, 20 min")
	for i := 0; i < 3; i++ {
		noDecision(t, h, h.advance(), "on battery at 60%, 20 min")
	}
	n.setDev(dev("OB DISCHRG LB", 30, 600))
	s = h.until("LB", nutPause, func(s Step) bool { return len(s.Readings) == 1 && s.Readings[0].LowBattery })
	if !hasEvent(s, EventCritical) || s.Hibernate {
		t.Fatalf("at LB: %+v, want the decision, in the grace", s)
	}
	if s = h.advance(); s.Hibernate { // 5 s of 20
		t.Fatalf("hibernated in the grace: %+v", s)
	}
	s = h.until("the hibernation", 0, func(s Step) bool { return s.Hibernate })
	if h.actionCount() != 1 || !strings.Contains(h.actions[0], "battery low (LB)") {
		t.Fatalf("actions %q", h.actions)
	}
	for i := 0; i < 4; i++ {
		h.advance()
	}
	if h.actionCount() != 1 {
		t.Fatalf("%d hibernations in one outage", h.actionCount())
	}
}

// OL → OB with the charge falling: the decision at the charge threshold, before any LB.
func TestNUTRealServerChargeThreshold(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "ups1", dev("OL", 100, 3600))
	h := startService(t, []Source{n.source()}, Policy{Charge: 20, Grace: 0}, nil)
	h.next()
	n.setDev(dev("OB", 21, 900))
	s := h.until("OB at 21%", nutPause, func(s Step) bool { return statusIs("OB")(s) && s.Readings[0].Charge == 21 })
	noDecision(t, h, s, "at 21%")
	n.setDev(dev("OB", 20, 850))
	s = h.until("the charge threshold", nutPause, func(s Step) bool { return hasEvent(s, EventCritical) })
	if !s.Hibernate || s.Readings[0].Charge != 20 || s.Readings[0].LowBattery || h.actionCount() != 1 {
		t.Fatalf("at 20%%: %+v", s)
	}
}

// OB LB, then OL in the grace: cancelled, no hibernation after the grace would have ended.
func TestNUTRealServerPowerBackInGrace(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "ups2", dev("OL", 100, 3600))
	// A grace of 10 minutes of the fake clock: the driver's re-reading (real seconds, a few fake
	// polls) cannot outlast it.
	h := startService(t, []Source{n.source()}, Policy{Charge: 10, Grace: 10 * time.Minute}, nil)
	h.next()
	n.setDev(dev("OB LB", 50, 300))
	h.until("the decision", nutPause, func(s Step) bool { return hasEvent(s, EventCritical) })
	n.setDev(dev("OL CHRG", 50, 300))
	s := h.until("the cancel", nutPause, func(s Step) bool { return hasEvent(s, EventCancel) })
	if !statusIs("OL CHRG")(s) || s.Hibernate {
		t.Fatalf("at the cancel: %+v", s)
	}
	h.clock.Advance(time.Hour) // far past the grace's end
	for i := 0; i < 3; i++ {
		if s := h.advance(); s.Hibernate {
			t.Fatalf("hibernated after the cancel: %+v", s)
		}
	}
	if h.actionCount() != 0 {
		t.Fatalf("%d hibernations", h.actionCount())
	}
}

// upsd going away is an unknown state: reconnections, no decision, although the last state
// was on battery and the UPS is now at LB; when upsd is back, the state is known, and decides.
func TestNUTRealServerGoesAwayAndComesBack(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "ups3", dev("OB", 50, 900))
	h := startService(t, []Source{n.source()}, Policy{Charge: 10, Grace: 0, OnUnknown: UnknownIgnore}, nil)
	if s := h.next(); !statusIs("OB")(s) {
		t.Fatalf("first poll: %+v", s)
	}
	n.stopUpsd()
	n.setDev(dev("OB LB", 5, 60))
	for i := 0; i < 6; i++ {
		s := h.advance()
		if s.Readings[0].Known || s.Hibernate || hasEvent(s, EventCritical) {
			t.Fatalf("upsd down, poll %d: %+v", i, s)
		}
	}
	if h.log.count("reconnecting in") < 2 {
		t.Fatalf("no reconnections logged:\n%s", h.log)
	}
	n.startUpsd()
	s := h.until("the decision after upsd is back", nutPause, func(s Step) bool { return s.Hibernate })
	if !s.Readings[0].LowBattery || h.actionCount() != 1 || h.log.count("connected again") != 1 {
		t.Fatalf("after upsd came back: %+v, %d actions\n%s", s, h.actionCount(), h.log)
	}
}

// numLogins asks upsd, on a connection of its own, how many are logged in to the UPS.
func (n *nutServer) numLogins() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := DialNUT(ctx, n.addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.NumLogins(n.ups)
}

// loginsAre waits (10 s at most) for upsd to count want logins to the UPS.
func (n *nutServer) loginsAre(want int) {
	n.t.Helper()
	n.waitFor(fmt.Sprintf("NUMLOGINS %d", want), func() error {
		got, err := n.numLogins()
		if err == nil && got != want {
			err = fmt.Errorf("NUMLOGINS %d", got)
		}
		return err
	})
}

// A secondary as upsd counts it: LOGIN after USERNAME and PASSWORD, NUMLOGINS 1 while the
// connection lives; a connection dropped without a word (a machine powered off) counted out once
// upsd sees it gone, and the next poll logs in again; LOGOUT at the end. A user upsd gives no
// upsmon role is refused LOGIN: said loudly, once, and the readings still come.
func TestNUTRealServerLogin(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "fleet", dev("OL", 100, 3600))
	var log syncLog
	s := n.source()
	s.Logf = log.Logf
	poll := func() {
		t.Helper()
		if rs := s.Poll(context.Background()); len(rs) != 1 || !rs[0].Known {
			t.Fatalf("poll: %+v\n%s", rs, &log)
		}
	}
	poll()
	n.loginsAre(1)
	s.Drop()
	n.loginsAre(0)
	poll()
	n.loginsAre(1)
	poll()
	if got := log.count("logged in to fleet as watch"); got != 1 {
		t.Fatalf("the LOGIN said %d times, want once:\n%s", got, &log)
	}
	s.Close()
	n.loginsAre(0)

	r := &NUTSource{Addr: n.addr, UPS: []string{"fleet"}, User: "reader", Password: "read-pass", Timeout: 2 * time.Second, Logf: log.Logf}
	defer r.Close()
	for i := 0; i < 2; i++ {
		if rs := r.Poll(context.Background()); len(rs) != 1 || !rs[0].Known {
			t.Fatalf("poll as reader: %+v", rs)
		}
	}
	if got := log.count("WARNING: LOGIN fleet refused (ACCESS-DENIED)"); got != 1 {
		t.Fatalf("the refused LOGIN said %d times, want once:\n%s", got, &log)
	}
	n.loginsAre(0)
}

// A hibernation's way through upsd: logged in while it is decided and done (never a LOGOUT
// before); resumed, the connection of before is dropped, upsd counts the machine out, and the
// next poll logs in again and decides from what the UPS says now (the power back: nothing).
func TestNUTRealServerResumeLogsInAgain(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "ups4", dev("OB LB", 20, 120))
	src := n.source()
	// A grace of 10 minutes of the fake clock: after the resume, the driver's re-reading (real
	// seconds, a few fake polls) cannot outlast it.
	h := startService(t, []Source{src}, Policy{Charge: 10, Grace: 10 * time.Minute}, nil)
	if s := h.next(); !hasEvent(s, EventCritical) {
		t.Fatalf("first poll at LB: %+v", s)
	}
	n.loginsAre(1) // logged in while it is decided
	for !h.clock.waiting() {
		time.Sleep(time.Millisecond)
	}
	h.clock.Advance(10 * time.Minute)
	if s := h.next(); !s.Hibernate || h.actionCount() != 1 {
		t.Fatalf("at the grace's end: %+v", s)
	}
	n.loginsAre(0) // dropped after the resume, without LOGOUT
	n.setDev(dev("OL CHRG", 25, 150))
	s := h.until("the power back", nutPause, statusIs("OL CHRG"))
	if s.Hibernate || h.actionCount() != 1 {
		t.Fatalf("the poll after the resume: %+v, %d actions", s, h.actionCount())
	}
	n.loginsAre(1)
	if h.log.count("resumed: connecting to the power sources again") != 1 {
		t.Fatalf("log:\n%s", h.log)
	}
}

// The protocol as the real upsd speaks it: LIST UPS, USERNAME/PASSWORD, GET VAR, its ERR codes.
func TestNUTRealServerProtocol(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "proto", dev("OB LB", 7, 120))
	c, err := DialNUT(context.Background(), n.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("watch", "test-pass"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	names, err := c.ListUPS()
	if err != nil || len(names) != 1 || names[0] != "proto" {
		t.Fatalf("ListUPS: %q, %v", names, err)
	}
	if v, err := c.GetVar("proto", "ups.status"); err != nil || v != "OB LB" {
		t.Fatalf("ups.status: %q, %v", v, err)
	}
	var ne *NUTError
	if _, err := c.GetVar("proto", "input.frequency.nominal"); !errors.As(err, &ne) || ne.Code != "VAR-NOT-SUPPORTED" {
		t.Fatalf("a variable the dummy lacks: %v", err)
	}
	if _, err := c.GetVar("nosuch", "ups.status"); !errors.As(err, &ne) || ne.Code != "UNKNOWN-UPS" {
		t.Fatalf("a UPS upsd lacks: %v", err)
	}
	// All of the server's UPSes, through the source.
	s := &NUTSource{Addr: n.addr, UPS: []string{"*"}, Timeout: 2 * time.Second}
	defer s.Close()
	rs := s.Poll(context.Background())
	if len(rs) != 1 || !rs[0].Known || !rs[0].LowBattery || rs[0].Charge != 7 || rs[0].Runtime != 2*time.Minute {
		t.Fatalf("*@%s: %v", n.addr, rs)
	}
}
