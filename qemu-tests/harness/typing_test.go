package harness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeConsole is a VM whose console is fed by the test and whose console input is a pipe the
// test reads, as QEMU's stdin is.
func fakeConsole(t *testing.T) (*VM, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	vm := &VM{con: newConsole(&bytes.Buffer{}), paths: RunPaths{Dir: t.TempDir()}, exited: make(chan struct{}),
		started: time.Now(), stdin: w}
	return vm, r
}

func TestAnswerPromptTypesAfterThePromptAndLogsTheLabelOnly(t *testing.T) {
	vm, typed := fakeConsole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type answer struct {
		line string
		idx  int
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, idx, err := vm.AnswerPrompt(ctx, -1, "Passphrase for vda1_crypt", "s3cret words\n", "<passphrase>")
		done <- answer{line, idx, err}
	}()
	vm.con.Write([]byte("Begin: Running /scripts/local-top\n"))
	select {
	case a := <-done:
		t.Fatalf("answered before the prompt: %+v", a)
	case <-time.After(50 * time.Millisecond):
	}
	vm.con.Write([]byte("Passphrase for vda1_crypt (UUID=1234): ")) // no newline: a prompt
	a := <-done
	if a.err != nil || a.line != "Passphrase for vda1_crypt (UUID=1234): " || a.idx != 1 {
		t.Fatalf("AnswerPrompt = %+v", a)
	}
	got := make([]byte, 64)
	n, err := typed.Read(got)
	if err != nil || string(got[:n]) != "s3cret words\n" {
		t.Errorf("the console's input got %q, %v", got[:n], err)
	}
	if err := vm.Type("ls\n", "a command"); err != nil {
		t.Fatal(err)
	}
	if n, _ = typed.Read(got); string(got[:n]) != "ls\n" {
		t.Errorf("Type wrote %q", got[:n])
	}
	log, err := os.ReadFile(vm.TypedLogPath())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "typed <passphrase> (13 bytes) at the prompt \"Passphrase for vda1_crypt (UUID=1234): \"") ||
		!strings.Contains(lines[1], "typed a command (3 bytes)") {
		t.Errorf("typed.log:\n%s", log)
	}
	if strings.Contains(string(log), "s3cret") {
		t.Errorf("typed.log holds the secret:\n%s", log)
	}
}

func TestTypeAfterExitFails(t *testing.T) {
	vm, typed := fakeConsole(t)
	typed.Close() // QEMU gone: nobody reads the pipe
	if err := vm.Type("x\n", "x"); err == nil || !strings.Contains(err.Error(), "type x") {
		t.Errorf("typing to a closed console: %v", err)
	}
	close(vm.exited)
	if err := vm.Type("x\n", "x"); !errors.Is(err, ErrConsoleClosed) {
		t.Errorf("typing after the exit: %v, want ErrConsoleClosed", err)
	}
	vm.closeStdin()
	if err := vm.Type("x\n", "x"); !errors.Is(err, ErrConsoleClosed) {
		t.Errorf("typing after the input was closed: %v", err)
	}
	// The prompt never comes: the wait ends with the context, nothing typed.
	vm2, typed2 := fakeConsole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := vm2.AnswerPrompt(ctx, -1, "Passphrase", "x\n", "<passphrase>"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no prompt: %v", err)
	}
	vm2.stdin.Close()
	if b, _ := io.ReadAll(typed2); len(b) != 0 {
		t.Errorf("typed without a prompt: %q", b)
	}
}
