package watch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil/nutlab"
)

// nutServer is a real upsd with one dummy-ups driver (nutlab): the tests' server.
type nutServer struct{ *nutlab.Server }

func startNUT(t *testing.T, upsName string, dev string) *nutServer {
	t.Helper()
	return &nutServer{nutlab.Start(t, upsName, dev)}
}

var dev = nutlab.Dev

func TestNUTMissing(t *testing.T) {
	if r := nutlab.Missing(nutlab.Upsd, filepath.Join(t.TempDir(), "dummy-ups")); !strings.Contains(r, "is not installed (nut-server, nut-client)") {
		t.Errorf("a missing daemon: %q", r)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if r := nutlab.Missing(self); r != "" {
		t.Errorf("an executable: %q", r)
	}
}

func (n *nutServer) source() *NUTSource {
	s := &NUTSource{Addr: n.Addr, UPS: []string{n.UPS}, User: nutlab.SecondaryUser, Password: nutlab.SecondaryPassword,
		Timeout: 2 * time.Second, BackoffMin: time.Second, BackoffMax: 4 * time.Second}
	n.Cleanup(s.Close)
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
	n.SetDev(dev("OB DISCHRG", 60, 1200))
	s := h.until("OB DISCHRG", nutPause, statusIs("OB DISCHRG"))
	noDecision(t, h, s, "on battery at 60%, 20 min")
	for i := 0; i < 3; i++ {
		noDecision(t, h, h.advance(), "on battery at 60%, 20 min")
	}
	n.SetDev(dev("OB DISCHRG LB", 30, 600))
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
	n.SetDev(dev("OB", 21, 900))
	s := h.until("OB at 21%", nutPause, func(s Step) bool { return statusIs("OB")(s) && s.Readings[0].Charge == 21 })
	noDecision(t, h, s, "at 21%")
	n.SetDev(dev("OB", 20, 850))
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
	n.SetDev(dev("OB LB", 50, 300))
	h.until("the decision", nutPause, func(s Step) bool { return hasEvent(s, EventCritical) })
	n.SetDev(dev("OL CHRG", 50, 300))
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
	n.StopUpsd()
	n.SetDev(dev("OB LB", 5, 60))
	for i := 0; i < 6; i++ {
		s := h.advance()
		if s.Readings[0].Known || s.Hibernate || hasEvent(s, EventCritical) {
			t.Fatalf("upsd down, poll %d: %+v", i, s)
		}
	}
	if h.log.count("reconnecting in") < 2 {
		t.Fatalf("no reconnections logged:\n%s", h.log)
	}
	n.StartUpsd()
	s := h.until("the decision after upsd is back", nutPause, func(s Step) bool { return s.Hibernate })
	if !s.Readings[0].LowBattery || h.actionCount() != 1 || h.log.count("connected again") != 1 {
		t.Fatalf("after upsd came back: %+v, %d actions\n%s", s, h.actionCount(), h.log)
	}
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
	n.LoginsAre(1, 10*time.Second)
	s.Drop()
	n.LoginsAre(0, 10*time.Second)
	poll()
	n.LoginsAre(1, 10*time.Second)
	poll()
	if got := log.count("logged in to fleet as watch"); got != 1 {
		t.Fatalf("the LOGIN said %d times, want once:\n%s", got, &log)
	}
	s.Close()
	n.LoginsAre(0, 10*time.Second)

	r := &NUTSource{Addr: n.Addr, UPS: []string{"fleet"}, User: nutlab.ReaderUser, Password: nutlab.ReaderPassword, Timeout: 2 * time.Second, Logf: log.Logf}
	defer r.Close()
	for i := 0; i < 2; i++ {
		if rs := r.Poll(context.Background()); len(rs) != 1 || !rs[0].Known {
			t.Fatalf("poll as reader: %+v", rs)
		}
	}
	if got := log.count("WARNING: LOGIN fleet refused (ACCESS-DENIED)"); got != 1 {
		t.Fatalf("the refused LOGIN said %d times, want once:\n%s", got, &log)
	}
	n.LoginsAre(0, 10*time.Second)
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
	n.LoginsAre(1, 10*time.Second) // logged in while it is decided
	for !h.clock.waiting() {
		time.Sleep(time.Millisecond)
	}
	h.clock.Advance(10 * time.Minute)
	if s := h.next(); !s.Hibernate || h.actionCount() != 1 {
		t.Fatalf("at the grace's end: %+v", s)
	}
	n.LoginsAre(0, 10*time.Second) // dropped after the resume, without LOGOUT
	n.SetDev(dev("OL CHRG", 25, 150))
	s := h.until("the power back", nutPause, statusIs("OL CHRG"))
	if s.Hibernate || h.actionCount() != 1 {
		t.Fatalf("the poll after the resume: %+v, %d actions", s, h.actionCount())
	}
	n.LoginsAre(1, 10*time.Second)
	if h.log.count("resumed: connecting to the power sources again") != 1 {
		t.Fatalf("log:\n%s", h.log)
	}
}

// The protocol as the real upsd speaks it: LIST UPS, USERNAME/PASSWORD, GET VAR, its ERR codes.
func TestNUTRealServerProtocol(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "proto", dev("OB LB", 7, 120))
	c, err := DialNUT(context.Background(), n.Addr, 2*time.Second)
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
	s := &NUTSource{Addr: n.Addr, UPS: []string{"*"}, Timeout: 2 * time.Second}
	defer s.Close()
	rs := s.Poll(context.Background())
	if len(rs) != 1 || !rs[0].Known || !rs[0].LowBattery || rs[0].Charge != 7 || rs[0].Runtime != 2*time.Minute {
		t.Fatalf("*@%s: %v", n.Addr, rs)
	}
}

// The primary waits for this machine: a real primary upsmon (HOSTSYNC 30 s) sets FSD at OB LB,
// and runs its SHUTDOWNCMD only once watch's connection, logged in with LOGIN, is gone (here
// dropped, as a machine powered off with its image written drops it), not while it lives.
func TestNUTRealPrimaryWaitsForTheSecondary(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "rack", dev("OL", 100, 3600))
	p := n.StartPrimary(30 * time.Second)
	s := n.source()
	if rs := s.Poll(context.Background()); len(rs) != 1 || !rs[0].Known {
		t.Fatalf("poll: %+v", rs)
	}
	n.LoginsAre(2, 10*time.Second) // the primary and this machine
	n.SetDev(dev("OB LB", 10, 60))
	n.WaitFor("the primary's FSD", 15*time.Second, func() error {
		rs := s.Poll(context.Background())
		if len(rs) != 1 || !rs[0].FSD {
			return fmt.Errorf("reading %+v", rs)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	if at, ok := p.ShutdownAt(); ok {
		t.Fatalf("the primary shut down at %s while this machine was still logged in", at)
	}
	gone := time.Now()
	s.Drop()
	n.WaitFor("the primary's SHUTDOWNCMD", 20*time.Second, func() error {
		if _, ok := p.ShutdownAt(); !ok {
			return errors.New("not yet")
		}
		return nil
	})
	at, _ := p.ShutdownAt()
	if at.Before(gone) {
		t.Fatalf("SHUTDOWNCMD at %s, before this machine's connection went at %s", at, gone)
	}
	t.Logf("SHUTDOWNCMD %s after this machine's connection went", at.Sub(gone).Round(10*time.Millisecond))
}

// STARTTLS against a real upsd (Debian's NSS build, CERTPATH): the config's nut-tls and
// nut-ca-file make sources that log in and read over TLS (upsd counts the LOGIN); a
// certificate the config does not trust, a name the certificate does not hold, and a server
// without TLS each fail the connection, said, with nothing sent in the clear after STARTTLS.
func TestNUTRealServerStartTLS(t *testing.T) {
	t.Parallel()
	n := startNUT(t, "tls", dev("OB DISCHRG", 80, 1200))
	plain := startNUT(t, "plain", dev("OL", 100, 3600))
	cert := n.EnableTLS()
	dir := t.TempDir()
	source := func(t *testing.T, addr, ups string, extra ...string) (*NUTSource, *syncLog) {
		t.Helper()
		conf := filepath.Join(dir, t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]+".conf")
		text := fmt.Sprintf("ups = %s@%s\nnut-user = %s\nnut-password-file = %s\nnut-tls = yes\n%s\n",
			ups, addr, nutlab.SecondaryUser, filepath.Join(dir, "password"), strings.Join(extra, "\n"))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := (&Args{Config: conf}).Load()
		if err != nil {
			t.Fatal(err)
		}
		var log syncLog
		srcs := c.Sources(RealClock, log.Logf)
		s := srcs[0].(*NUTSource)
		s.Timeout = 2 * time.Second
		t.Cleanup(s.Close)
		return s, &log
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte(nutlab.SecondaryPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("trusted", func(t *testing.T) {
		s, log := source(t, n.Addr, "tls", "nut-ca-file = "+cert)
		if rs := s.Poll(context.Background()); len(rs) != 1 || !rs[0].Known || rs[0].Status != "OB DISCHRG" {
			t.Fatalf("poll over TLS: %+v\n%s", rs, log)
		}
		if _, ok := s.conn.conn.(*tls.Conn); !ok || log.count("logged in to tls as watch") != 1 {
			t.Fatalf("the connection is %T; log:\n%s", s.conn.conn, log)
		}
		n.LoginsAre(1, 10*time.Second)
		s.Close()
		n.LoginsAre(0, 10*time.Second)
	})
	for _, c := range []struct {
		name, addr, ups, want string
		extra                 []string
	}{
		{"untrusted", n.Addr, "tls", "TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority", []string{"nut-ca-file = " + n.OtherCert()}},
		{"system roots", n.Addr, "tls", "certificate signed by unknown authority", nil},
		{"wrong name", n.Addr, "tls", "x509: certificate is valid for localhost, not ups.example.net", []string{"nut-ca-file = " + cert, "nut-server-name = ups.example.net"}},
		{"no TLS on the server", plain.Addr, "plain", "STARTTLS (nut-tls = yes: nothing is sent in the clear): upsd answered \"STARTTLS\" with ERR FEATURE-NOT-CONFIGURED", []string{"nut-ca-file = " + cert}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, log := source(t, c.addr, c.ups, c.extra...)
			rs := s.Poll(context.Background())
			if len(rs) != 1 || rs[0].Known || !strings.Contains(fmt.Sprint(rs[0].Err), c.want) || log.count(c.want) != 1 {
				t.Fatalf("poll: %+v, want unknown with %q; log:\n%s", rs, c.want, log)
			}
			if log.count("logged in") != 0 {
				t.Fatalf("logged in:\n%s", log)
			}
		})
	}
	if got, err := n.NumLogins(); err != nil || got != 0 {
		t.Errorf("upsd counts %d logins (%v) after the refused connections", got, err)
	}
}
