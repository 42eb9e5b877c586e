package harness

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentInitramfs builds the guest agent and a cpio with it as /init, once per test binary.
var agentInitramfs = sync.OnceValues(func() (string, error) {
	dir, err := tempDir()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := filepath.Join(dir, "hibernate-guest-agent")
	if err := BuildAgent(ctx, agent); err != nil {
		return "", err
	}
	img := filepath.Join(dir, "agent.cpio")
	return img, AgentInitramfs(agent, img)
})

func agentInitramfsT(t *testing.T) string {
	t.Helper()
	img, err := agentInitramfs()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBootAgent boots the Debian kernel with the agent as PID 1 and drives every agent op,
// ending with a guest power-off seen in QMP.
func TestBootAgent(t *testing.T) {
	t.Parallel()
	kernel := KernelT(t)
	initrd := agentInitramfsT(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	vm := StartT(t, Spec{Kernel: kernel, Initrd: initrd, Cmdline: "quiet", Agent: true})

	if _, err := vm.WaitConsole(ctx, "hibernate-guest-agent: ready on /dev/ttyS1"); err != nil {
		t.Fatal(err)
	}
	info, err := vm.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping after %v: %+v", time.Since(vm.Started()).Round(time.Millisecond), info)
	if info.PID != 1 || len(info.BootID) != 36 || info.UptimeSeconds <= 0 {
		t.Errorf("ping = %+v, want PID 1, a boot_id and an uptime", info)
	}

	r, err := vm.Run(ctx, "/init", "--version")
	if err != nil || r.Exit != 0 || !strings.HasPrefix(r.Stdout, "hibernate-guest-agent ") {
		t.Errorf("/init --version = %+v, %v", r, err)
	}
	r, err = vm.Run(ctx, "/nonexistent")
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "console log: ") {
		t.Errorf("running a missing binary: %+v, %v", r, err)
	}
	data := []byte("hello\x00from the host\n")
	if err := vm.WriteFile(ctx, "/tmp/greeting", data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := vm.ReadFile(ctx, "/tmp/greeting")
	if err != nil || string(got) != string(data) {
		t.Errorf("ReadFile = %q, %v; want %q", got, err, data)
	}
	// The agent is the only binary in this root: spawn it (a second, harmless --version) with
	// its output appended to a file, and read that back.
	pid, err := vm.Spawn(ctx, "/tmp/spawned.out", "/init", "--version")
	if err != nil || pid <= 1 {
		t.Fatalf("Spawn = %d, %v", pid, err)
	}
	for {
		b, err := vm.ReadFile(ctx, "/tmp/spawned.out")
		if err == nil && strings.HasPrefix(string(b), "hibernate-guest-agent ") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("spawned output never came: %q, %v", b, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := vm.ReadFile(ctx, "/proc/sys/kernel/random/boot_id"); err != nil {
		t.Error(err)
	}
	ret, err := vm.QMP(ctx, "query-status", nil)
	if err != nil || !strings.Contains(string(ret), `"running"`) {
		t.Errorf("query-status = %s, %v", ret, err)
	}

	if err := vm.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := vm.WaitExit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := json.Marshal(exit.Events)
	t.Logf("exit after %v: code %d, reason %q, events %s", exit.Duration.Round(time.Millisecond), exit.ExitCode, exit.Reason, evs)
	if !exit.GuestShutdown || exit.Reason != "guest-shutdown" || exit.ExitCode != 0 || exit.Killed {
		t.Errorf("exit = %+v, want a guest shutdown", exit)
	}
	if !strings.Contains(strings.Join(vm.ConsoleLines(), "\n"), "reboot: Power down") {
		t.Errorf("console has no \"reboot: Power down\"")
	}
}

// TestWaitFailsWithConsoleLog boots the kernel with no initramfs, so it panics, and checks that
// the wait ends when QEMU does (not at the timeout) with the console log path and its tail.
func TestWaitFailsWithConsoleLog(t *testing.T) {
	t.Parallel()
	kernel := KernelT(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	vm := StartT(t, Spec{Kernel: kernel, Cmdline: "panic=-1", NoReboot: true, MemoryMiB: 256})
	_, err := vm.WaitConsole(ctx, "this line never appears")
	if err == nil {
		t.Fatal("WaitConsole found a line that is never printed")
	}
	if ctx.Err() != nil {
		t.Errorf("wait ended by the timeout, not by QEMU's exit: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "console log: "+vm.ConsoleLogPath()+"\n--- last 30 lines ---\n") || !strings.Contains(msg, "Kernel panic") {
		t.Errorf("error lacks the log path or the panic:\n%s", msg)
	}
	exit, err := vm.WaitExit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.GuestShutdown || exit.Reason != "guest-reset" {
		t.Errorf("panic with -no-reboot: exit reason %q, GuestShutdown %v; want a guest-reset that is not a shutdown", exit.Reason, exit.GuestShutdown)
	}
	t.Logf("panic exit after %v: reason %q", exit.Duration.Round(time.Millisecond), exit.Reason)
}

// TestKillOnContextEnd checks that QEMU dies when Start's context ends.
func TestKillOnContextEnd(t *testing.T) {
	t.Parallel()
	kernel := KernelT(t)
	ctx, cancel := context.WithCancel(t.Context())
	vm, err := Start(ctx, Spec{Name: t.Name(), Kernel: kernel, Cmdline: "panic=-1", MemoryMiB: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	cancel()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	exit, err := vm.WaitExit(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if !exit.Killed || exit.ExitCode != -1 {
		t.Errorf("exit = %+v, want killed", exit)
	}
}
