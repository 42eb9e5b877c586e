package guestagent

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a Server whose PowerOff and Reboot only record the call: nothing in these
// tests can act on the host.
func testServer(t *testing.T) (*Server, *[]string) {
	t.Helper()
	s := NewServer()
	var mu sync.Mutex
	calls := &[]string{}
	record := func(op string) func() error {
		return func() error { mu.Lock(); *calls = append(*calls, op); mu.Unlock(); return nil }
	}
	s.PowerOff, s.Reboot = record(OpPowerOff), record(OpReboot)
	s.Logf = t.Logf
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "sys/kernel/random"), 0o755)
	os.WriteFile(filepath.Join(proc, "sys/kernel/random/boot_id"), []byte("0f0f-boot\n"), 0o644)
	os.WriteFile(filepath.Join(proc, "uptime"), []byte("12.34 40.00\n"), 0o644)
	s.ProcRoot = proc
	return s, calls
}

func handle(t *testing.T, s *Server, req Request) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req.ID = 1
	resp, after := s.Handle(ctx, req)
	if after != nil {
		after()
	}
	return resp
}

func TestPing(t *testing.T) {
	s, _ := testServer(t)
	r := handle(t, s, Request{Op: OpPing})
	if r.BootID != "0f0f-boot" || r.Uptime != 12.34 || r.PID != os.Getpid() || r.ID != 1 {
		t.Errorf("ping = %+v", r)
	}
}

func TestExec(t *testing.T) {
	s, _ := testServer(t)
	tests := []struct {
		name                 string
		req                  Request
		exit                 int
		stdout, stderr, errs string
	}{
		{name: "echo", req: Request{Argv: []string{"echo", "hello"}}, stdout: "hello\n"},
		{name: "exit code and stderr", req: Request{Argv: []string{"sh", "-c", "echo oops >&2; exit 3"}}, exit: 3, stderr: "oops\n"},
		{name: "env", req: Request{Argv: []string{"sh", "-c", `echo "$FOO"`}, Env: []string{"FOO=bar"}}, stdout: "bar\n"},
		{name: "own PATH", req: Request{Argv: []string{"true"}, Env: []string{"PATH=/nonexistent"}}, exit: -1, errs: `"true": not found in PATH=/nonexistent`},
		{name: "dir", req: Request{Argv: []string{"pwd"}, Dir: "/"}, stdout: "/\n"},
		{name: "signal", req: Request{Argv: []string{"sh", "-c", "kill -9 $$"}}, exit: 137},
		{name: "empty argv", req: Request{}, exit: -1, errs: "empty argv"},
		{name: "timeout", req: Request{Argv: []string{"sh", "-c", "echo started; sleep 30"}, TimeoutMS: 300}, exit: 137, stdout: "started\n", errs: "timed out after 300ms, killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Op = OpExec
			start := time.Now()
			r := handle(t, s, tt.req)
			if r.Exit != tt.exit || r.Stdout != tt.stdout || r.Stderr != tt.stderr || !strings.Contains(r.Error, tt.errs) || (tt.errs == "" && r.Error != "") {
				t.Errorf("exec %q = %+v, want exit %d stdout %q stderr %q error containing %q", tt.req.Argv, r, tt.exit, tt.stdout, tt.stderr, tt.errs)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("exec %q took %v", tt.req.Argv, time.Since(start))
			}
		})
	}
}

func TestExecDoesNotWaitForDetachedChild(t *testing.T) {
	s, _ := testServer(t)
	start := time.Now()
	// the grandchild leaves the group and keeps stdout open; exec must not wait 30 s for it
	r := handle(t, s, Request{Op: OpExec, TimeoutMS: 1000,
		Argv: []string{"sh", "-c", "setsid sleep 30 & echo parent"}})
	if r.Stdout != "parent\n" || r.Exit != 0 {
		t.Errorf("exec = %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("exec took %v", d)
	}
}

func TestSpawnReadWrite(t *testing.T) {
	s, _ := testServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.log")
	os.WriteFile(out, []byte("before\n"), 0o644)
	r := handle(t, s, Request{Op: OpSpawn, Argv: []string{"sh", "-c", "echo out; echo err >&2; echo done > " + filepath.Join(dir, "done")}, Out: out})
	if r.Error != "" || r.PID <= 0 {
		t.Fatalf("spawn = %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "done")); string(b) == "done\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("spawned process did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(out); string(b) != "before\nout\nerr\n" {
		t.Errorf("spawn output %q, want appended out and err", b)
	}

	p := filepath.Join(dir, "f")
	if r := handle(t, s, Request{Op: OpWrite, Path: p, Data: []byte("a\x00b"), Mode: 0o600}); r.Error != "" {
		t.Fatalf("write = %+v", r)
	}
	if st, _ := os.Stat(p); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode after write: %v", st)
	}
	if r := handle(t, s, Request{Op: OpWrite, Path: p, Data: []byte("x"), Mode: 0o755}); r.Error != "" {
		t.Fatalf("rewrite = %+v", r)
	}
	if st, _ := os.Stat(p); st == nil || st.Mode().Perm() != 0o755 {
		t.Errorf("mode after rewrite: %v", st)
	}
	if r := handle(t, s, Request{Op: OpRead, Path: p}); string(r.Data) != "x" || r.Error != "" {
		t.Errorf("read = %+v", r)
	}
	if r := handle(t, s, Request{Op: OpRead, Path: filepath.Join(dir, "missing")}); !strings.Contains(r.Error, "no such file") || r.Exit != -1 {
		t.Errorf("read missing = %+v", r)
	}
	if r := handle(t, s, Request{Op: OpSpawn, Argv: []string{"true"}, Out: filepath.Join(dir, "no/such/dir/log")}); r.Error == "" {
		t.Errorf("spawn with bad out = %+v", r)
	}
}

func TestPowerOffNeedsHook(t *testing.T) {
	s := NewServer() // no PowerOff set: refused
	r, after := s.Handle(context.Background(), Request{ID: 1, Op: OpPowerOff})
	if after != nil || !strings.Contains(r.Error, "not enabled") {
		t.Errorf("poweroff without hook = %+v, after set: %v", r, after != nil)
	}
	if r, _ := s.Handle(context.Background(), Request{ID: 2, Op: "hibernate"}); !strings.Contains(r.Error, `unknown op "hibernate"`) {
		t.Errorf("unknown op = %+v", r)
	}
}

// TestServe drives Serve over pipes like the host does over the serial line: noise, a
// fragment, a slow exec that must not hold up a ping, and a poweroff that runs after its reply.
func TestServe(t *testing.T) {
	s, calls := testServer(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), inR, outW); outW.Close() }()
	replies := make(chan Response, 10)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if r, err := DecodeResponse(sc.Bytes()); err == nil {
				replies <- r
			}
		}
		close(replies)
	}()
	send := func(s string) {
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	next := func() Response {
		select {
		case r := <-replies:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no reply")
		}
		return Response{}
	}
	send("\x00\x00login: noise\n")
	send(`ing"}` + "\n")
	send(`{"id":10,"op":"exec","argv":["sleep","1"]}` + "\n")
	send(`{"id":11,"op":"ping"}` + "\n")
	if r := next(); r.ID != 11 {
		t.Fatalf("first reply %+v, want the ping (11) before the slow exec", r)
	}
	if r := next(); r.ID != 10 || r.Exit != 0 {
		t.Fatalf("second reply %+v, want exec 10", r)
	}
	send(`{"id":12,"op":"nope"}` + "\n")
	if r := next(); r.ID != 12 || r.Error == "" {
		t.Fatalf("reply %+v, want an error for 12", r)
	}
	send(`{"id":13,"op":"ping","mode":"bad"}` + "\n")
	if r := next(); r.ID != 13 || !strings.Contains(r.Error, "decode request") {
		t.Fatalf("reply %+v, want a decode error for 13", r)
	}
	send(`{"id":14,"op":"poweroff"}` + "\n")
	if r := next(); r.ID != 14 || r.Error != "" {
		t.Fatalf("reply %+v, want poweroff ack", r)
	}
	inW.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("Serve = %v, want io.EOF", err)
	}
	if len(*calls) != 1 || (*calls)[0] != OpPowerOff {
		t.Errorf("power calls = %q", *calls)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    Options
		wantErr bool
	}{
		{nil, Options{Device: "/dev/ttyS1"}, false},
		{[]string{"--device", "/dev/ttyS2"}, Options{Device: "/dev/ttyS2"}, false},
		{[]string{"--device=/dev/hvc0", "--version"}, Options{Device: "/dev/hvc0", Version: true}, false},
		{[]string{"--device="}, Options{}, true},
		{[]string{"extra"}, Options{}, true},
		{[]string{"--bogus"}, Options{}, true},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args, io.Discard)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v, error %v", tt.args, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := strings.Join(mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"}), " ")
	if want := "A=1 B=3 C=4 PATH=" + DefaultPath; got != want {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
	if got := mergeEnv([]string{"PATH=/x"}, nil); len(got) != 1 || got[0] != "PATH=/x" {
		t.Errorf("mergeEnv kept PATH? %q", got)
	}
}
