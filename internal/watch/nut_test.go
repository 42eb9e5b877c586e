package watch

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeUPSD is a test double of upsd on 127.0.0.1: answer gets each command line and returns
// what to write back (nil: say nothing, and keep the connection open).
type fakeUPSD struct {
	ln    net.Listener
	conns atomic.Int32
	mu    sync.Mutex
	cmds  []string
}

func startFakeUPSD(t *testing.T, answer func(cmd string) []byte) *fakeUPSD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUPSD{ln: ln}
	var wg sync.WaitGroup
	var open sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			open.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					f.mu.Lock()
					f.cmds = append(f.cmds, sc.Text())
					f.mu.Unlock()
					if b := answer(sc.Text()); b != nil {
						if _, err := c.Write(b); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return f
}

func (f *fakeUPSD) addr() string { return f.ln.Addr().String() }

func (f *fakeUPSD) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

// goodUPSD answers as upsd does for one UPS "u1" and "u 2" in a given status.
func goodUPSD(status *atomic.Value) func(string) []byte {
	return func(cmd string) []byte {
		switch {
		case strings.HasPrefix(cmd, "USERNAME "), strings.HasPrefix(cmd, "PASSWORD "):
			return []byte("OK\n")
		case cmd == "LIST UPS":
			return []byte("BEGIN LIST UPS\nUPS u1 \"Rack \\\"A\\\"\"\nUPS u2 \"\"\nEND LIST UPS\n")
		case cmd == "GET VAR u1 ups.status", cmd == "GET VAR u2 ups.status":
			return []byte("VAR " + strings.Fields(cmd)[2] + " ups.status \"" + status.Load().(string) + "\"\n")
		case cmd == "GET VAR u1 battery.charge":
			return []byte("VAR u1 battery.charge \"42.0\"\n")
		case cmd == "GET VAR u1 battery.runtime":
			return []byte("VAR u1 battery.runtime \"600\"\n")
		case strings.HasPrefix(cmd, "GET VAR u2 "):
			return []byte("ERR VAR-NOT-SUPPORTED\n")
		case strings.HasPrefix(cmd, "GET VAR "):
			return []byte("ERR UNKNOWN-UPS\n")
		case cmd == "LOGOUT":
			return []byte("OK Goodbye\n")
		}
		return []byte("ERR UNKNOWN-COMMAND\n")
	}
}

func TestNUTSourceProtocol(t *testing.T) {
	var status atomic.Value
	status.Store("OB DISCHRG")
	srv := startFakeUPSD(t, goodUPSD(&status))
	s := &NUTSource{Addr: srv.addr(), UPS: []string{"*", "nope"}, User: "mon", Password: "pass word", Timeout: 2 * time.Second}
	defer s.Close()
	rs := s.Poll(context.Background())
	if len(rs) != 3 {
		t.Fatalf("readings %v", rs)
	}
	u1, u2, nope := rs[0], rs[1], rs[2]
	if !u1.Known || !u1.OnBattery || u1.Charge != 42 || u1.Runtime != 10*time.Minute || u1.Source != "u1@"+srv.addr() {
		t.Errorf("u1: %+v", u1)
	}
	if !u2.Known || !u2.OnBattery || u2.Charge >= 0 || u2.Runtime >= 0 {
		t.Errorf("u2 (no charge, no runtime): %+v", u2)
	}
	var ne *NUTError
	if nope.Known || !errors.As(nope.Err, &ne) || ne.Code != "UNKNOWN-UPS" {
		t.Errorf("nope: %+v", nope)
	}
	cmds := srv.commands()
	if cmds[0] != "USERNAME mon" || cmds[1] != `PASSWORD "pass word"` {
		t.Errorf("login: %q", cmds[:2])
	}
	// An ERR answer keeps the connection: the next poll uses it.
	status.Store("OL")
	if rs := s.Poll(context.Background()); !rs[0].Known || rs[0].OnBattery {
		t.Errorf("second poll: %v", rs)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestSplitWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`VAR u ups.status "OB LB"`, []string{"VAR", "u", "ups.status", "OB LB"}, false},
		{`UPS u "say \"hi\" \\ there"`, []string{"UPS", "u", `say "hi" \ there`}, false},
		{`VAR u x ""`, []string{"VAR", "u", "x", ""}, false},
		{`VAR u x "open`, nil, true},
	} {
		got, err := splitWords(c.in)
		if (err != nil) != c.err || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: %q, %v", c.in, got, err)
		}
	}
}

func TestParseUPSSpec(t *testing.T) {
	for _, c := range []struct{ in, name, addr string }{
		{"myups", "myups", "localhost:3493"},
		{"myups@nut.lan", "myups", "nut.lan:3493"},
		{"myups@10.0.0.2:4000", "myups", "10.0.0.2:4000"},
		{"*@[::1]:3493", "*", "[::1]:3493"},
		{"u@::1", "u", "[::1]:3493"},
	} {
		u, err := ParseUPSSpec(c.in)
		if err != nil || u.Name != c.name || u.Addr != c.addr {
			t.Errorf("%q: %+v %v, want %s@%s", c.in, u, err, c.name, c.addr)
		}
	}
	for _, bad := range []string{"", "@h", "u@h:0", "u@h:x", "u@h:", "a b@h"} {
		if u, err := ParseUPSSpec(bad); err == nil {
			t.Errorf("%q: %+v, want an error", bad, u)
		}
	}
}

// unknownServerTest runs the service against a server that never gives a state, and wants
// reconnections, each logged, and no decision, whatever the policy's thresholds.
func unknownServerTest(t *testing.T, answer func(string) []byte, wantErr string) {
	srv := startFakeUPSD(t, answer)
	src := &NUTSource{Addr: srv.addr(), UPS: []string{"ups"}, Timeout: 200 * time.Millisecond,
		BackoffMin: time.Second, BackoffMax: 4 * time.Second}
	t.Cleanup(src.Close)
	h := startService(t, []Source{src}, Policy{Charge: 100, Runtime: time.Hour, Grace: 0,
		OnUnknown: UnknownLastOnBattery, UnknownAfter: time.Second}, nil)
	s := h.next()
	for i := 0; i < 6; i++ { // 30 s of fake time: back-off 1, 2, 4, 4 s: a dial at every poll
		s = h.advance()
		if len(s.Readings) != 1 || s.Readings[0].Known || len(s.Events) > 1 || s.Hibernate {
			t.Fatalf("poll %d: %+v", i, s)
		}
	}
	if n := srv.conns.Load(); n < 3 {
		t.Fatalf("%d connections, want reconnections (3 or more)", n)
	}
	if n := h.log.count("reconnecting in"); n < 3 || h.log.count(wantErr) < 1 {
		t.Fatalf("%d reconnections logged, want 3 or more, with %q:\n%s", n, wantErr, h.log)
	}
	if h.actionCount() != 0 {
		t.Fatalf("hibernated on an unknown state")
	}
}

func TestNUTGarbageServer(t *testing.T) {
	t.Run("not the protocol", func(t *testing.T) {
		unknownServerTest(t, func(string) []byte { return []byte("220 smtp.example.com ESMTP ready\n") }, "not a NUT answer")
	})
	t.Run("an endless line", func(t *testing.T) {
		unknownServerTest(t, func(string) []byte { return []byte(strings.Repeat("A", 3*maxLine)) }, "longer than")
	})
	t.Run("a VAR of another UPS", func(t *testing.T) {
		unknownServerTest(t, func(string) []byte { return []byte("VAR other ups.status \"OL\"\n") }, "not a NUT answer")
	})
}

func TestNUTSilentServer(t *testing.T) {
	unknownServerTest(t, func(string) []byte { return nil }, "i/o timeout")
}

func TestNUTNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	src := &NUTSource{Addr: addr, UPS: []string{"ups"}, Timeout: time.Second, BackoffMin: time.Second, BackoffMax: 2 * time.Second}
	h := startService(t, []Source{src}, DefaultPolicy(), nil)
	h.next()
	for i := 0; i < 4; i++ {
		if s := h.advance(); s.Readings[0].Known || s.Hibernate {
			t.Fatalf("%+v", s)
		}
	}
	if h.log.count("connect: ") < 3 {
		t.Fatalf("connection attempts not logged:\n%s", h.log)
	}
}
