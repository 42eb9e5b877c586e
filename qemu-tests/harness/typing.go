package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Typing on the serial console. QEMU's stdin is a pipe from the harness (Spec.Args puts the
// first serial port on the stdio chardev), so what Type writes arrives at the guest's ttyS0 as
// if a person typed it at the machine's console: a passphrase prompt of /init is answered this
// way, as a user would.
//
// What is typed is never written to console.log, which holds the guest's output only (a guest
// that echoes puts its echo there, as a terminal would show it). Each typing is a line of
// typed.log in Dir() instead: the time since Start, the label the caller gave and the byte
// count; for a passphrase the caller labels it "<passphrase>", so the secret is in no log.

// TypedLogPath is the record of what was typed at the console (labels, not the text).
func (vm *VM) TypedLogPath() string { return filepath.Join(vm.paths.Dir, "typed.log") }

// ErrConsoleClosed says that QEMU no longer reads the console (it has exited).
var ErrConsoleClosed = errors.New("the console's input is closed (QEMU has exited)")

// Type writes text to the guest's serial console (ttyS0) and records label in typed.log. The
// text goes as it is: end a line with "\n" (a terminal in canonical mode takes it as Enter,
// as it does "\r" with ICRNL).
func (vm *VM) Type(text, label string) error {
	return vm.typeAfter(text, label, "")
}

func (vm *VM) typeAfter(text, label, prompt string) error {
	if label == "" {
		label = "(unlabelled)"
	}
	vm.typeMu.Lock()
	defer vm.typeMu.Unlock()
	if vm.stdin == nil {
		return vm.Fail("type %s: %w", label, ErrConsoleClosed)
	}
	select {
	case <-vm.exited:
		return vm.Fail("type %s: %w (%s)", label, ErrConsoleClosed, vm.exitStatus())
	default:
	}
	_, err := io.WriteString(vm.stdin, text)
	vm.logTyped(label, len(text), prompt, err)
	if err != nil {
		return vm.Fail("type %s: %w", label, err)
	}
	return nil
}

// logTyped appends one line to typed.log: when, what (the label), how many bytes, and the
// prompt line it answered, if any.
func (vm *VM) logTyped(label string, n int, prompt string, err error) {
	f, ferr := os.OpenFile(vm.TypedLogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s typed %s (%d bytes)", time.Since(vm.started).Round(time.Millisecond), label, n)
	if prompt != "" {
		fmt.Fprintf(&b, " at the prompt %q", prompt)
	}
	if err != nil {
		fmt.Fprintf(&b, ": %v", err)
	}
	b.WriteByte('\n')
	f.WriteString(b.String())
}

// AnswerPrompt waits for the first console line after line index mark containing prompt (a
// prompt is a line still being received: it has no newline yet), then types text as Type does.
// It returns the prompt line and its index: pass the index as mark to answer the next prompt.
func (vm *VM) AnswerPrompt(ctx context.Context, mark int, prompt, text, label string) (string, int, error) {
	line, idx, err := vm.WaitConsoleAfter(ctx, mark, prompt)
	if err != nil {
		return "", 0, err
	}
	return line, idx, vm.typeAfter(text, label, line)
}
