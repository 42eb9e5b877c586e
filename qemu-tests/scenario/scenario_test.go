package scenario

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// artifacts gives the scenario tests what `make build` and the kernel fetch made. These tests
// boot QEMU guests (about a minute each under TCG): `make e2e` (part of `make test`) sets
// HIBERNATE_E2E=1; plain `go test ./...` skips them, saying so.
func artifacts(t *testing.T) Artifacts {
	t.Helper()
	if os.Getenv("HIBERNATE_E2E") != "1" {
		t.Skip("end-to-end scenario: run with make e2e (HIBERNATE_E2E=1)")
	}
	root, err := FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Discover(root, DefaultFlavour)
	if err != nil {
		t.Fatalf("HIBERNATE_E2E=1 but the artifacts are not there: %v", err)
	}
	t.Cleanup(func() { dropGuestFiles(t, a.WorkDir) })
	return a
}

// dropGuestFiles removes the guest folders of a test that passed (build/guests/TEST and
// TEST-*: disks, variable stores, trees), after its guests were killed (cleanups run last
// first): a whole make test kept every disk and ran CI's machine out of space. A failed test's
// stay, to be looked at, and HIBERNATE_KEEP_GUESTS=1 keeps them all; the logs are elsewhere
// (build/test-logs) and stay.
func dropGuestFiles(t *testing.T, workDir string) {
	if t.Failed() || t.Skipped() || os.Getenv("HIBERNATE_KEEP_GUESTS") == "1" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(workDir, t.Name()+"-*"))
	for _, d := range append(dirs, filepath.Join(workDir, t.Name())) {
		if err := debroot.RemoveTree(d); err != nil {
			t.Logf("keeping the guest files of %s: %v", d, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// The steps for a test: each fails the test when the step fails, and a guest it powers on is
// killed when the test ends.

// timeout is a context for the rest of the test, at most d.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func killAtEnd(t *testing.T, vm *harness.VM) {
	if vm != nil {
		t.Cleanup(vm.Kill)
	}
}

// newMachine builds the test's guest (New), named after the test, its progress in the test's log.
func newMachine(t *testing.T, ctx context.Context, opts ...Option) *Machine {
	t.Helper()
	m, err := New(ctx, artifacts(t), t.Name(), append([]Option{Output(testWriter{t})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// boot powers m on (Machine.Boot).
func boot(t *testing.T, ctx context.Context, m *Machine, extra string) (*harness.VM, harness.AgentInfo) {
	t.Helper()
	vm, info, err := m.Boot(ctx, extra)
	killAtEnd(t, vm)
	if err != nil {
		t.Fatal(err)
	}
	return vm, info
}

// do runs steps on vm (Do).
func do(t *testing.T, ctx context.Context, vm *harness.VM, steps ...Step) {
	t.Helper()
	if err := Do(ctx, vm, steps...); err != nil {
		t.Fatal(err)
	}
}

// powerOff powers the guest off through its agent and waits until QEMU has exited, its disk
// written.
func powerOff(t *testing.T, ctx context.Context, vm *harness.VM) {
	t.Helper()
	if err := vm.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitExit(ctx); err != nil {
		t.Fatal(err)
	}
}

// resumeBoot powers m on to resume its image (Machine.Resume, which checks the job went on).
func resumeBoot(t *testing.T, ctx context.Context, m *Machine, extra string) *harness.VM {
	t.Helper()
	vm, err := m.Resume(ctx, extra)
	killAtEnd(t, vm)
	if err != nil {
		t.Fatalf("resume: %v\nlogs: %v", err, m.Summary.Logs)
	}
	return vm
}

// nowFinished waits, after a resume, for hibernate now to have put everything back and run the
// post hooks (they run after its kernel log line NowResumedKmsg; NowResumedOut is its last
// line of output, printed once they all have), and returns what it said.
func nowFinished(t *testing.T, ctx context.Context, vm *harness.VM) string {
	t.Helper()
	if _, err := vm.WaitConsole(ctx, NowResumedKmsg); err != nil {
		t.Fatal(err)
	}
	return waitOutput(t, ctx, vm, NowResumedOut)
}

// firstBoot builds and boots the test's guest, makes its swap and starts the job: a guest to
// act in, running.
func firstBoot(t *testing.T, ctx context.Context, opts ...Option) (*Machine, *harness.VM) {
	t.Helper()
	m := newMachine(t, ctx, opts...)
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	return m, vm
}

// hibernate is the first half of the round trip (Hibernate) for the test's guest.
func hibernate(t *testing.T, ctx context.Context, opts ...Option) *Machine {
	t.Helper()
	m, err := Hibernate(ctx, artifacts(t), t.Name(), append([]Option{Output(testWriter{t})}, opts...)...)
	if err != nil {
		t.Fatalf("hibernate: %v\nlogs: %v", err, m.Summary.Logs)
	}
	return m
}

// TestRoundTrip is the demo as a test: a job with 64 MiB of state survives hibernate and resume.
func TestRoundTrip(t *testing.T) {
	ctx := timeout(t, 5*time.Minute)
	m := hibernate(t, ctx)
	resumeBoot(t, ctx, m, m.Setup.KernelParams)
	s := m.Summary
	t.Logf("hibernate %s, resume %s, image %.1f MiB (%.1f MiB on disk)", s.HibernateTime, s.ResumeTime, mib(s.ImageBytes), mib(s.ImageDiskBytes))
}
