package harness

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/guestagent"
)

// fakeGuest stands in for QEMU's agent socket: it swallows what arrives during the first
// `deaf` (a guest that has not opened its tty yet), sends noise and a reply to a request of a
// previous VM, then lets a real guestagent.Server answer.
func fakeGuest(t *testing.T, deaf time.Duration) *VM {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "hibagent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	vm := &VM{
		paths:   RunPaths{Dir: t.TempDir(), AgentSocket: filepath.Join(sockDir, "agent.sock")},
		con:     newConsole(&bytes.Buffer{}),
		exited:  make(chan struct{}),
		started: time.Now(),
	}
	t.Cleanup(func() { close(vm.exited) })
	vm.agent = newAgentClient(vm) // dials before the socket exists: must retry
	time.Sleep(30 * time.Millisecond)
	ln, err := net.Listen("unix", vm.paths.AgentSocket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		conn.SetReadDeadline(time.Now().Add(deaf))
		for {
			if _, err := br.ReadBytes('\n'); err != nil {
				break
			}
		}
		conn.SetReadDeadline(time.Time{})
		conn.Write([]byte("garbage \x00\x01 {not json\n"))
		stale, _ := guestagent.EncodeLine(guestagent.Response{ID: 42, Stdout: "stale"})
		conn.Write(stale)
		srv := guestagent.NewServer()
		srv.Serve(t.Context(), br, conn)
	}()
	return vm
}

func TestAgentSurvivesDeafStartAndStaleReplies(t *testing.T) {
	vm := fakeGuest(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	info, err := vm.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.PID != os.Getpid() || time.Since(start) < time.Second {
		t.Errorf("ping = %+v after %v; want this process's pid, after the deaf second", info, time.Since(start))
	}
	// No exec here: a command would start the agent's process-wide reaper in this test
	// process, which also waits for QEMU.
	p := filepath.Join(t.TempDir(), "f")
	if err := vm.WriteFile(ctx, p, []byte("fresh"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, err := vm.ReadFile(ctx, p); err != nil || string(b) != "fresh" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	log, _ := os.ReadFile(filepath.Join(vm.Dir(), "agent.log"))
	if n := strings.Count(string(log), `"op":"ping"`); n < 3 {
		t.Errorf("%d pings sent during a deaf second, want one every %v:\n%s", n, PingInterval, log)
	}
	if _, err := vm.Run(ctx, "no-such-command-anywhere"); err == nil || !strings.Contains(err.Error(), "not found in PATH") || !strings.Contains(err.Error(), "console log: ") {
		t.Errorf("error does not name the console log: %v", err)
	}
}

func TestAgentCallsNeedAgent(t *testing.T) {
	vm := &VM{con: newConsole(&bytes.Buffer{}), paths: RunPaths{Dir: "/logs/x-1"}}
	if _, err := vm.Run(context.Background(), "true"); err == nil || !strings.Contains(err.Error(), "without Spec.Agent") {
		t.Errorf("Run without agent: %v", err)
	}
}

func TestTimeoutMS(t *testing.T) {
	if got := timeoutMS(context.Background()); got != 0 {
		t.Errorf("no deadline: %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := timeoutMS(ctx); got < 9000 || got > 9500 {
		t.Errorf("10 s deadline: %d ms", got)
	}
}
