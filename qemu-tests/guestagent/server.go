package guestagent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultExecTimeout bounds an exec whose request gives no timeout_ms.
const DefaultExecTimeout = 5 * time.Minute

// Server answers requests. Its zero value is not usable; use NewServer.
//
// The first exec or spawn starts a process-wide reaper that waits for every child of the
// process (wait4(-1)), as PID 1 must. Do not run commands through a Server in a process that
// also uses os/exec: the reaper would take those children's exit statuses.
type Server struct {
	// PowerOff and Reboot end the machine. Nil refuses the op: only Main sets them, and only to
	// the reboot(2) calls, so a Server in a unit test can never act on the host.
	PowerOff func() error
	Reboot   func() error
	// Logf reports problems (bad lines, failed writes); nil discards them.
	Logf func(format string, args ...any)
	// ExecTimeout is the exec timeout when a request sets none.
	ExecTimeout time.Duration
	// Environ is the environment commands start from (os.Environ() by default).
	Environ []string
	// ProcRoot is where boot_id and uptime are read ("/proc").
	ProcRoot string

	wmu sync.Mutex // one response line at a time on the wire
}

// NewServer returns a Server with its reaper running.
func NewServer() *Server {
	return &Server{
		ExecTimeout: DefaultExecTimeout,
		Environ:     os.Environ(),
		ProcRoot:    "/proc",
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// drainer is a writer whose queued output can be waited for (a tty: tcdrain).
type drainer interface{ Drain() error }

// Serve reads requests from r until it fails and answers each on w in its own goroutine, so a
// long exec does not hold up a ping. It returns the read error (io.EOF at the end of r) after
// the requests in flight have been answered, or ctx.Err().
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			req, derr := DecodeRequest(line)
			switch {
			case errors.Is(derr, errNoJSON):
				// noise on the line: nothing to answer
			case derr != nil && req.ID != 0:
				s.reply(w, Response{ID: req.ID, Exit: -1, Error: derr.Error()}, nil)
			case derr != nil:
				s.logf("ignoring line: %v", derr)
			default:
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, after := s.Handle(ctx, req)
					s.reply(w, resp, after)
				}()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// reply writes one response line; after, if set, runs once the line has left (poweroff).
func (s *Server) reply(w io.Writer, resp Response, after func()) {
	line, err := EncodeLine(resp)
	if err != nil {
		line, _ = EncodeLine(Response{ID: resp.ID, Exit: -1, Error: "encode response: " + err.Error()})
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := w.Write(line); err != nil {
		s.logf("write response %d: %v", resp.ID, err)
	}
	if after == nil {
		return
	}
	if d, ok := w.(drainer); ok {
		if err := d.Drain(); err != nil {
			s.logf("drain before %d: %v", resp.ID, err)
		}
	}
	after()
}

// Handle carries out one request. The returned func, if not nil, must run after the response
// was sent (it ends the machine).
func (s *Server) Handle(ctx context.Context, req Request) (Response, func()) {
	var resp Response
	var after func()
	switch req.Op {
	case OpPing:
		resp = s.ping()
	case OpExec:
		resp = s.exec(ctx, req)
	case OpSpawn:
		resp = s.spawn(req)
	case OpRead:
		resp = s.read(req)
	case OpWrite:
		resp = s.write(req)
	case OpPowerOff, OpReboot:
		resp, after = s.end(req.Op)
	default:
		resp = Response{Exit: -1, Error: fmt.Sprintf("unknown op %q (want %s)", req.Op,
			strings.Join([]string{OpPing, OpExec, OpSpawn, OpRead, OpWrite, OpPowerOff, OpReboot}, ", "))}
	}
	resp.ID = req.ID
	return resp, after
}

func fail(err error) Response { return Response{Exit: -1, Error: err.Error()} }

func (s *Server) ping() Response {
	resp := Response{PID: os.Getpid()}
	if b, err := os.ReadFile(s.ProcRoot + "/sys/kernel/random/boot_id"); err == nil {
		resp.BootID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(s.ProcRoot + "/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			resp.Uptime, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return resp
}

func (s *Server) end(op string) (Response, func()) {
	fn := s.PowerOff
	if op == OpReboot {
		fn = s.Reboot
	}
	if fn == nil {
		return fail(fmt.Errorf("%s: not enabled in this agent", op)), nil
	}
	return Response{}, func() {
		if err := fn(); err != nil {
			s.logf("%s: %v", op, err)
		}
	}
}

func (s *Server) read(req Request) Response {
	b, err := os.ReadFile(req.Path)
	if err != nil {
		return fail(err)
	}
	return Response{Data: b}
}

func (s *Server) write(req Request) Response {
	mode := os.FileMode(req.Mode).Perm()
	if req.Mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(req.Path, req.Data, mode); err != nil {
		return fail(err)
	}
	if err := os.Chmod(req.Path, mode); err != nil { // WriteFile keeps the mode of a file that exists
		return fail(err)
	}
	return Response{}
}

// command resolves argv[0] and the environment of a request.
func (s *Server) command(req Request) (string, []string, error) {
	if len(req.Argv) == 0 || req.Argv[0] == "" {
		return "", nil, fmt.Errorf("%s: empty argv", req.Op)
	}
	env := mergeEnv(s.Environ, req.Env)
	argv0, err := lookPath(req.Argv[0], envValue(env, "PATH"))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	return argv0, env, nil
}

func (s *Server) spawn(req Request) Response {
	argv0, env, err := s.command(req)
	if err != nil {
		return fail(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer devnull.Close()
	outPath := req.Out
	if outPath == "" {
		outPath = os.DevNull
	}
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail(fmt.Errorf("spawn: %w", err))
	}
	defer out.Close()
	pid, _, err := processReaper().start(argv0, req.Argv, &os.ProcAttr{
		Dir:   req.Dir,
		Env:   env,
		Files: []*os.File{devnull, out, out},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}, false)
	if err != nil {
		return fail(fmt.Errorf("spawn %q: %w", req.Argv, err))
	}
	return Response{PID: pid}
}

func (s *Server) exec(ctx context.Context, req Request) Response {
	argv0, env, err := s.command(req)
	if err != nil {
		return fail(err)
	}
	timeout := s.ExecTimeout
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return fail(err)
	}
	defer errR.Close()
	pid, status, err := processReaper().start(argv0, req.Argv, &os.ProcAttr{
		Dir:   req.Dir,
		Env:   env,
		Files: []*os.File{devnull, outW, errW},
		Sys:   &syscall.SysProcAttr{Setpgid: true}, // a group, so a timeout kills its children too
	}, true)
	outW.Close()
	errW.Close()
	if err != nil {
		return fail(fmt.Errorf("exec %q: %w", req.Argv, err))
	}

	var stdout, stderr bytes.Buffer
	copied := make(chan struct{}, 2)
	go func() { io.Copy(&stdout, outR); copied <- struct{}{} }()
	go func() { io.Copy(&stderr, errR); copied <- struct{}{} }()

	var resp Response
	var ws unix.WaitStatus
	select {
	case ws = <-status:
	case <-deadline.C:
		_ = unix.Kill(-pid, unix.SIGKILL)
		ws = <-status
		resp.Error = fmt.Sprintf("exec %q: timed out after %v, killed", req.Argv, timeout)
	case <-ctx.Done():
		_ = unix.Kill(-pid, unix.SIGKILL)
		ws = <-status
		resp.Error = fmt.Sprintf("exec %q: %v, killed", req.Argv, ctx.Err())
	}
	// A child that left the group (setsid) may still hold the pipes: wait for them only until
	// the deadline (or briefly after a kill), then close the read ends and take what came.
	grace := deadline.C
	if resp.Error != "" {
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		grace = t.C
	}
	for n := 0; n < 2; {
		select {
		case <-copied:
			n++
		case <-grace:
			outR.Close()
			errR.Close()
			grace = nil
		}
	}
	resp.Exit = exitCode(ws)
	resp.PID = pid
	resp.Stdout = stdout.String()
	resp.Stderr = stderr.String()
	return resp
}
