package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// VM is one running QEMU process.
type VM struct {
	spec    Spec
	paths   RunPaths
	sockDir string // short folder for the sockets when Dir() is too long for a unix socket path
	cmd     *exec.Cmd
	started time.Time

	con     *console
	conLog  *os.File
	conDone chan struct{} // the console pipe has reached EOF

	typeMu sync.Mutex
	stdin  *os.File // the write end of QEMU's stdin: the console's input (typing.go)

	qmp *qmpClient

	evMu   sync.Mutex
	events []Event
	evLog  *os.File

	agent *agentClient

	exited    chan struct{} // closed once QEMU has been waited for
	exitState *os.ProcessState
	exitTime  time.Time
	killOnce  sync.Once
	killed    atomic.Bool
}

// Exit is how QEMU ended.
type Exit struct {
	// GuestShutdown: the guest powered itself off (or hibernated): a QMP SHUTDOWN event with
	// guest=true and reason "guest-shutdown". A guest reboot under -no-reboot (a panic with
	// panic=N, say) also has guest=true, but reason "guest-reset", and does not count.
	GuestShutdown bool
	Reason        string // the SHUTDOWN event's reason ("guest-shutdown", "guest-reset", "host-signal" ...); "" if none
	SuspendDisk   bool   // a SUSPEND_DISK event came first: the guest entered ACPI S4 (hibernation in platform mode)
	Killed        bool   // Kill was called
	Events        []Event
	ExitCode      int // QEMU's exit status; -1 if it died of a signal
	Duration      time.Duration
}

// Result is the outcome of a command run in the guest.
type Result struct {
	Stdout, Stderr string
	Exit           int
}

// AgentInfo is the guest agent's answer to a ping. BootID stays the same across a hibernation
// and resume (the restored kernel is the one that booted), and changes on a fresh boot.
type AgentInfo struct {
	BootID        string
	PID           int
	UptimeSeconds float64
}

// boots counts the boots of each Spec.Name in this process, for the log folder names.
var boots = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// logName makes a Name usable as a folder name (subtest names hold '/').
func logName(name string) string {
	if name == "" {
		name = "vm"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, name)
}

// maxSocketPath leaves room under the 108 bytes of sockaddr_un.sun_path.
const maxSocketPath = 100

// prepare makes this boot's log folder (emptying what an earlier run left there) and picks the
// socket paths.
func (s Spec) prepare() (RunPaths, string, error) {
	root, err := s.logRoot()
	if err != nil {
		return RunPaths{}, "", err
	}
	name := logName(s.Name)
	boots.Lock()
	boots.n[name]++
	n := boots.n[name]
	boots.Unlock()
	dir := filepath.Join(root, fmt.Sprintf("%s-%d", name, n))
	if err := os.RemoveAll(dir); err != nil {
		return RunPaths{}, "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return RunPaths{}, "", err
	}
	p := RunPaths{Dir: dir, QMPSocket: filepath.Join(dir, "qmp.sock"), AgentSocket: filepath.Join(dir, "agent.sock")}
	var sockDir string
	if len(p.AgentSocket) > maxSocketPath {
		if sockDir, err = os.MkdirTemp("", "hibqemu-"); err != nil {
			return RunPaths{}, "", err
		}
		p.QMPSocket = filepath.Join(sockDir, "qmp.sock")
		p.AgentSocket = filepath.Join(sockDir, "agent.sock")
	}
	return p, sockDir, nil
}

// Start spawns QEMU and returns once QMP is connected. ctx bounds the life of the VM, as with
// exec.CommandContext: when it ends, QEMU is killed.
func Start(ctx context.Context, s Spec) (*VM, error) {
	paths, sockDir, err := s.prepare()
	if err != nil {
		return nil, fmt.Errorf("harness: %s: %w", s.Name, err)
	}
	vm := &VM{spec: s, paths: paths, sockDir: sockDir, conDone: make(chan struct{}), exited: make(chan struct{})}
	if err := vm.start(ctx); err != nil {
		vm.Kill()
		return nil, err
	}
	return vm, nil
}

func (vm *VM) start(ctx context.Context) error {
	dir := vm.paths.Dir
	var err error
	if vm.conLog, err = os.Create(filepath.Join(dir, "console.log")); err != nil {
		return err
	}
	vm.con = newConsole(vm.conLog)
	if vm.evLog, err = os.Create(filepath.Join(dir, "qmp-events.jsonl")); err != nil {
		return err
	}
	stderr, err := os.Create(filepath.Join(dir, "qemu-stderr.log"))
	if err != nil {
		return err
	}
	defer stderr.Close()
	args := vm.spec.Args(vm.paths)
	bin := vm.spec.qemuBinary()
	if err := os.WriteFile(filepath.Join(dir, "qemu-cmdline.txt"), []byte(shellQuote(append([]string{bin}, args...))+"\n"), 0o644); err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	// QEMU's stdin is the console's input: a pipe held open until QEMU exits, so the stdio
	// chardev never reads an end of file, and Type can write to it.
	inR, inW, err := os.Pipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return err
	}
	vm.stdin = inW
	vm.cmd = exec.Command(bin, args...)
	vm.cmd.Stdin = inR
	vm.cmd.Stdout = pw
	vm.cmd.Stderr = stderr
	// QEMU must not outlive the test binary, whatever kills it.
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	vm.started = time.Now()
	err = vm.cmd.Start()
	pw.Close()
	inR.Close()
	if err != nil {
		pr.Close()
		vm.closeStdin()
		close(vm.conDone)
		close(vm.exited)
		return fmt.Errorf("harness: start %s: %w", bin, err)
	}
	go func() {
		io.Copy(vm.con, pr)
		pr.Close()
		vm.con.close()
		close(vm.conDone)
	}()
	go func() {
		vm.cmd.Wait()
		vm.exitState = vm.cmd.ProcessState
		vm.exitTime = time.Now()
		close(vm.exited)
		vm.closeStdin()
		if vm.sockDir != "" {
			os.RemoveAll(vm.sockDir)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			vm.Kill()
		case <-vm.exited:
		}
	}()

	conn, err := vm.dialUnix(ctx, vm.paths.QMPSocket)
	if err != nil {
		return vm.Fail("harness: QMP socket %s: %w", vm.paths.QMPSocket, err)
	}
	if vm.qmp, err = dialQMP(ctx, conn, vm.addEvent); err != nil {
		conn.Close()
		return vm.Fail("harness: %w", err)
	}
	if vm.spec.Agent {
		vm.agent = newAgentClient(vm)
	}
	return nil
}

// dialUnix connects to a socket QEMU creates, retrying until it exists, QEMU exits or ctx ends.
// There is nothing to wait on for a socket to appear, so this polls every 10 ms.
// closeStdin closes the console's input once QEMU cannot read it.
func (vm *VM) closeStdin() {
	vm.typeMu.Lock()
	defer vm.typeMu.Unlock()
	if vm.stdin != nil {
		vm.stdin.Close()
		vm.stdin = nil
	}
}

func (vm *VM) dialUnix(ctx context.Context, path string) (net.Conn, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-vm.exited:
			return nil, fmt.Errorf("QEMU exited (%s) before %s could be connected", vm.exitStatus(), path)
		case <-tick.C:
		}
	}
}

func (vm *VM) addEvent(ev Event) {
	vm.evMu.Lock()
	defer vm.evMu.Unlock()
	vm.events = append(vm.events, ev)
	if b, err := json.Marshal(ev); err == nil {
		vm.evLog.Write(append(b, '\n'))
	}
}

// Dir is this boot's log folder.
func (vm *VM) Dir() string { return vm.paths.Dir }

// Paths are this boot's host paths.
func (vm *VM) Paths() RunPaths { return vm.paths }

// ConsoleLogPath is the serial console (ttyS0) log, every byte kept.
func (vm *VM) ConsoleLogPath() string { return filepath.Join(vm.paths.Dir, "console.log") }

// Started is when QEMU was started.
func (vm *VM) Started() time.Time { return vm.started }

// ConsoleLines returns the console's complete lines so far, without line ends.
func (vm *VM) ConsoleLines() []string { return vm.con.snapshot() }

// TimedLine is a console line and when the harness read its end, since Started: the host's
// clock, to set beside the guest's timestamps (a benchmark).
type TimedLine struct {
	Text string
	At   time.Duration
}

// ConsoleTimedLines is ConsoleLines with the time each line's end came.
func (vm *VM) ConsoleTimedLines() []TimedLine {
	lines, at := vm.con.timed()
	out := make([]TimedLine, len(lines))
	for i, l := range lines {
		out[i] = TimedLine{Text: l, At: at[i].Sub(vm.started)}
	}
	return out
}

// Events returns all QMP events so far (also in Dir()/qmp-events.jsonl).
func (vm *VM) Events() []Event {
	vm.evMu.Lock()
	defer vm.evMu.Unlock()
	return append([]Event(nil), vm.events...)
}

// WaitConsole returns the first console line, from the start of the boot, containing substr.
func (vm *VM) WaitConsole(ctx context.Context, substr string) (string, error) {
	line, _, err := vm.WaitConsoleAfter(ctx, -1, substr)
	return line, err
}

// WaitConsoleAfter returns the first console line after line index mark containing substr, and
// its index (pass it as the next mark). mark -1 searches from the start. A line still being
// received (a prompt) matches too.
func (vm *VM) WaitConsoleAfter(ctx context.Context, mark int, substr string) (string, int, error) {
	for {
		line, idx, ok, wait, eof := vm.con.find(mark, substr)
		if ok {
			return line, idx, nil
		}
		if eof {
			return "", 0, vm.Fail("console: %q not seen before the console ended (%s)", substr, vm.exitStatus())
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return "", 0, vm.Fail("console: %q not seen: %w", substr, ctx.Err())
		}
	}
}

// QMP runs a QMP command and returns its "return" value.
func (vm *VM) QMP(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	ret, err := vm.qmp.execute(ctx, cmd, args)
	if err != nil {
		return nil, vm.Fail("%w", err)
	}
	return ret, nil
}

// Kill kills QEMU (a power cut: the guest gets no chance to flush; the host file keeps what
// QEMU had written). It can be called any number of times.
func (vm *VM) Kill() {
	vm.killOnce.Do(func() {
		select {
		case <-vm.exited:
			return
		default:
		}
		vm.killed.Store(true)
		if vm.cmd != nil && vm.cmd.Process != nil {
			vm.cmd.Process.Kill()
		}
	})
}

// WaitExit waits until QEMU has exited and its console and QMP output are read to the end.
func (vm *VM) WaitExit(ctx context.Context) (Exit, error) {
	for _, ch := range []<-chan struct{}{vm.exited, vm.conDone, vm.qmpDone()} {
		select {
		case <-ch:
		case <-ctx.Done():
			return Exit{}, vm.Fail("waiting for QEMU to exit: %w", ctx.Err())
		}
	}
	ex := Exit{Events: vm.Events(), ExitCode: vm.exitState.ExitCode(), Duration: vm.exitTime.Sub(vm.started), Killed: vm.killed.Load()}
	for _, ev := range ex.Events {
		switch ev.Name {
		case "SUSPEND_DISK":
			ex.SuspendDisk = true
		case "SHUTDOWN":
			var d struct {
				Guest  bool   `json:"guest"`
				Reason string `json:"reason"`
			}
			json.Unmarshal(ev.Data, &d)
			ex.GuestShutdown, ex.Reason = d.Guest && d.Reason == "guest-shutdown", d.Reason
		}
	}
	if vm.evLog != nil {
		vm.evLog.Sync()
	}
	return ex, nil
}

// exitStatus describes QEMU's state for messages.
func (vm *VM) exitStatus() string {
	select {
	case <-vm.exited:
		if vm.exitState == nil {
			return "not started"
		}
		return "QEMU " + vm.exitState.String()
	default:
		return "QEMU still running"
	}
}

func (vm *VM) qmpDone() <-chan struct{} {
	if vm.qmp == nil {
		return vm.exited
	}
	return vm.qmp.done
}

// Error is a harness error: what failed, then QEMU's stderr if it said anything, then the
// console log path and its last lines.
type Error struct {
	Err        error
	Stderr     string
	ConsoleLog string
	Tail       []string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Stderr != "" {
		fmt.Fprintf(&b, "\n--- qemu stderr ---\n%s", strings.TrimRight(e.Stderr, "\n"))
	}
	fmt.Fprintf(&b, "\nconsole log: %s\n--- last %d lines ---\n%s", e.ConsoleLog, len(e.Tail), strings.Join(e.Tail, "\n"))
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// TailLines is how many console lines an Error shows.
const TailLines = 30

// Fail returns an *Error for this VM; format and args are as for fmt.Errorf (%w wraps).
func (vm *VM) Fail(format string, args ...any) error {
	e := &Error{Err: fmt.Errorf(format, args...), ConsoleLog: vm.ConsoleLogPath()}
	if vm.con != nil {
		e.Tail = vm.con.tail(TailLines)
	}
	if b, err := os.ReadFile(filepath.Join(vm.paths.Dir, "qemu-stderr.log")); err == nil {
		if len(b) > 4096 {
			b = b[len(b)-4096:]
		}
		e.Stderr = string(b)
	}
	return e
}

// StartT starts a VM for a test: Name defaults to the test's name, QEMU is killed when the test
// ends, and a failed test logs the console log path and its last lines.
func StartT(t testing.TB, s Spec) *VM {
	t.Helper()
	if s.Name == "" {
		s.Name = t.Name()
	}
	vm, err := Start(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		if t.Failed() {
			t.Logf("console log: %s\n--- last %d lines ---\n%s", vm.ConsoleLogPath(), TailLines, strings.Join(vm.con.tail(TailLines), "\n"))
		}
	})
	return vm
}

// shellQuote renders argv so that it can be pasted into a shell.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:@+") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
