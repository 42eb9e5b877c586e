package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/guestagent"
)

// PingInterval is how often an unanswered ping is sent again. Bytes sent before the guest has
// opened its tty are lost (or arrive cut), so readiness is a ping that got an answer.
const PingInterval = 300 * time.Millisecond

// requestIDs are unique in the test process, not per VM: a reply to a request sent to a VM that
// then hibernated can come back on the resumed VM's channel and must not match a new request.
var requestIDs atomic.Int64

func init() { requestIDs.Store(time.Now().UnixNano() / 1000 % 1e12 * 1000) }

// agentClient is the host end of the guest agent's serial line. Every line sent and received
// is kept in Dir()/agent.log, with the time since Start.
type agentClient struct {
	vm  *VM
	log *os.File // Dir()/agent.log: every line sent and received

	connected chan struct{} // closed when conn is set
	closed    chan struct{} // closed when the channel has ended (or never came up)
	conn      net.Conn
	err       error // why it closed

	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[int64]chan guestagent.Response
	ready   atomic.Bool
}

func newAgentClient(vm *VM) *agentClient {
	a := &agentClient{vm: vm, connected: make(chan struct{}), closed: make(chan struct{}), pending: map[int64]chan guestagent.Response{}}
	a.log, _ = os.Create(filepath.Join(vm.Dir(), "agent.log"))
	go a.run()
	return a
}

func (a *agentClient) logf(format string, args ...any) {
	if a.log != nil {
		fmt.Fprintf(a.log, "%s "+format+"\n", append([]any{time.Since(a.vm.started).Round(time.Millisecond)}, args...)...)
	}
}

// run connects (retrying until the socket exists) and reads replies until the channel ends.
func (a *agentClient) run() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-a.vm.exited; cancel() }()
	conn, err := a.vm.dialUnix(ctx, a.vm.paths.AgentSocket)
	if err != nil {
		a.finish(fmt.Errorf("agent socket %s: %w", a.vm.paths.AgentSocket, err))
		return
	}
	a.conn = conn
	close(a.connected)
	go func() { <-ctx.Done(); conn.Close() }()
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			a.logf("< %.2000s", t)
			if resp, derr := guestagent.DecodeResponse(line); derr == nil {
				a.deliver(resp)
			}
		}
		if err != nil {
			a.finish(fmt.Errorf("agent channel closed: %w (%s)", err, a.vm.exitStatus()))
			return
		}
	}
}

func (a *agentClient) finish(err error) {
	a.mu.Lock()
	a.err = err
	a.mu.Unlock()
	a.logf("closed: %v", err)
	close(a.closed)
	if a.log != nil {
		a.log.Close()
	}
}

// deliver hands a reply to its waiter; replies nobody waits for (stale, from before a
// hibernation, or to a ping already answered) are dropped.
func (a *agentClient) deliver(resp guestagent.Response) {
	a.mu.Lock()
	ch, ok := a.pending[resp.ID]
	delete(a.pending, resp.ID)
	a.mu.Unlock()
	if !ok {
		return
	}
	select {
	case ch <- resp:
	default:
	}
}

func (a *agentClient) closeErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// send registers req under a new id with reply channel ch and writes it.
func (a *agentClient) send(ctx context.Context, req guestagent.Request, ch chan guestagent.Response) (int64, error) {
	select {
	case <-a.connected:
	case <-a.closed:
		return 0, a.closeErr()
	case <-ctx.Done():
		return 0, fmt.Errorf("agent socket not connected: %w", ctx.Err())
	}
	req.ID = requestIDs.Add(1)
	line, err := guestagent.EncodeLine(req)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	a.pending[req.ID] = ch
	a.mu.Unlock()
	a.logf("> %.2000s", bytes.TrimSpace(line))
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		a.conn.SetWriteDeadline(dl)
	} else {
		a.conn.SetWriteDeadline(time.Time{})
	}
	if _, err := a.conn.Write(line); err != nil {
		a.forget(req.ID)
		return 0, fmt.Errorf("agent: send %s: %w", req.Op, err)
	}
	return req.ID, nil
}

func (a *agentClient) forget(ids ...int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		delete(a.pending, id)
	}
}

// ping sends a ping every PingInterval until one is answered.
func (a *agentClient) ping(ctx context.Context) (guestagent.Response, error) {
	replies := make(chan guestagent.Response, 1)
	var ids []int64
	defer func() { a.forget(ids...) }()
	tick := time.NewTicker(PingInterval)
	defer tick.Stop()
	for {
		id, err := a.send(ctx, guestagent.Request{Op: guestagent.OpPing}, replies)
		if err != nil {
			return guestagent.Response{}, err
		}
		ids = append(ids, id)
		select {
		case r := <-replies:
			a.ready.Store(true)
			return r, nil
		case <-a.closed:
			return guestagent.Response{}, a.closeErr()
		case <-ctx.Done():
			return guestagent.Response{}, fmt.Errorf("agent did not answer %d pings: %w", len(ids), ctx.Err())
		case <-tick.C:
		}
	}
}

// call waits for the agent to be ready, then sends req once and waits for its reply. A request
// is not sent again: exec and spawn are not idempotent.
func (a *agentClient) call(ctx context.Context, req guestagent.Request) (guestagent.Response, error) {
	if !a.ready.Load() {
		if _, err := a.ping(ctx); err != nil {
			return guestagent.Response{}, err
		}
	}
	ch := make(chan guestagent.Response, 1)
	id, err := a.send(ctx, req, ch)
	if err != nil {
		return guestagent.Response{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-a.closed:
		return guestagent.Response{}, fmt.Errorf("agent: %s: %w", req.Op, a.closeErr())
	case <-ctx.Done():
		a.forget(id)
		return guestagent.Response{}, fmt.Errorf("agent: %s: no reply: %w", req.Op, ctx.Err())
	}
}

var errNoAgent = errors.New("agent: this VM was started without Spec.Agent")

// do sends a request and turns transport failures and agent errors into VM errors.
func (vm *VM) do(ctx context.Context, req guestagent.Request) (guestagent.Response, error) {
	if vm.agent == nil {
		return guestagent.Response{}, vm.Fail("%s %q: %w", req.Op, req.Argv, errNoAgent)
	}
	r, err := vm.agent.call(ctx, req)
	if err != nil {
		return r, vm.Fail("%w", err)
	}
	if r.Error != "" {
		return r, vm.Fail("agent: %s", r.Error)
	}
	return r, nil
}

// timeoutMS is the guest-side timeout for an exec under ctx: a little before ctx's deadline,
// so that the agent's kill and its reply come back before the host gives up.
func timeoutMS(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	ms := time.Until(dl).Milliseconds() - 500
	return max(ms, 1)
}

// Ping waits until the agent answers (sending a ping every PingInterval).
func (vm *VM) Ping(ctx context.Context) (AgentInfo, error) {
	if vm.agent == nil {
		return AgentInfo{}, vm.Fail("ping: %w", errNoAgent)
	}
	r, err := vm.agent.ping(ctx)
	if err != nil {
		return AgentInfo{}, vm.Fail("%w", err)
	}
	return AgentInfo{BootID: r.BootID, PID: r.PID, UptimeSeconds: r.Uptime}, nil
}

// Run runs argv in the guest and waits for it. A non-zero exit is not an error (see
// Result.Exit); not starting, a timeout, or a lost channel is.
func (vm *VM) Run(ctx context.Context, argv ...string) (Result, error) {
	return vm.RunEnv(ctx, nil, argv...)
}

// RunEnv is Run with KEY=VALUE entries added to the agent's environment.
func (vm *VM) RunEnv(ctx context.Context, env []string, argv ...string) (Result, error) {
	r, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpExec, Argv: argv, Env: env, TimeoutMS: timeoutMS(ctx)})
	return Result{Stdout: r.Stdout, Stderr: r.Stderr, Exit: r.Exit}, err
}

// Spawn starts argv detached in the guest (own session, stdin /dev/null), its stdout and stderr
// appended to outFile in the guest, and returns its pid. Use it for what must outlive the
// request, such as "hibernate now": its reply would be lost with the first VM.
func (vm *VM) Spawn(ctx context.Context, outFile string, argv ...string) (int, error) {
	r, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpSpawn, Argv: argv, Out: outFile})
	return r.PID, err
}

// ReadFile returns the contents of a guest file.
func (vm *VM) ReadFile(ctx context.Context, path string) ([]byte, error) {
	r, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpRead, Path: path})
	return r.Data, err
}

// WriteFile writes a guest file with the permission bits of mode.
func (vm *VM) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	_, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpWrite, Path: path, Data: data, Mode: uint32(mode.Perm())})
	return err
}

// PowerOff asks the agent to sync and power the guest off, and returns once the agent has
// acknowledged; then WaitExit sees the guest's SHUTDOWN.
func (vm *VM) PowerOff(ctx context.Context) error {
	_, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpPowerOff})
	return err
}

// Reboot asks the agent to sync and reboot the guest (QEMU exits instead with NoReboot).
func (vm *VM) Reboot(ctx context.Context) error {
	_, err := vm.do(ctx, guestagent.Request{Op: guestagent.OpReboot})
	return err
}
