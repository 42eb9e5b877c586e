package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func removeAll(dir string) {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

func TestConsoleSplitsAndWaits(t *testing.T) {
	var log bytes.Buffer
	c := newConsole(&log)
	vm := &VM{con: c, paths: RunPaths{Dir: "/logs/t-1"}, exited: make(chan struct{})}
	c.Write([]byte("one\r\ntw"))
	c.Write([]byte("o\nlogin: "))
	if got := strings.Join(c.snapshot(), "|"); got != "one|two" {
		t.Errorf("lines %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if line, idx, err := vm.WaitConsoleAfter(ctx, -1, "login:"); err != nil || line != "login: " || idx != 2 {
		t.Errorf("partial line: %q %d %v", line, idx, err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Write([]byte("\nPM: Image saving done\n"))
	}()
	line, idx, err := vm.WaitConsoleAfter(ctx, 1, "Image saving")
	if err != nil || line != "PM: Image saving done" || idx != 3 {
		t.Errorf("WaitConsoleAfter = %q %d %v", line, idx, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, _, err := vm.WaitConsoleAfter(short, 0, "one\r"); err == nil {
		t.Errorf("line 0 found after mark 0")
	}
	if log.String() != "one\r\ntwo\nlogin: \nPM: Image saving done\n" {
		t.Errorf("log lost bytes: %q", log.String())
	}
}

func TestWaitConsoleErrorNamesLog(t *testing.T) {
	c := newConsole(&bytes.Buffer{})
	vm := &VM{con: c, paths: RunPaths{Dir: "/logs/t-1"}, exited: make(chan struct{})}
	for i := range 40 {
		c.Write([]byte("line " + string(rune('A'+i%26)) + "\n"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := vm.WaitConsole(ctx, "never")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "console log: /logs/t-1/console.log\n--- last 30 lines ---\n") ||
		strings.Count(msg, "\nline ") != 30 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error (%d lines, is deadline %v):\n%s", strings.Count(msg, "\nline "), errors.Is(err, context.DeadlineExceeded), msg)
	}
	c.close()
	if _, err := vm.WaitConsole(context.Background(), "never"); err == nil || !strings.Contains(err.Error(), "before the console ended") {
		t.Errorf("after EOF: %v", err)
	}
}

// Each line carries the time its end came, in order, and the lines are ConsoleLines'.
func TestConsoleTimedLines(t *testing.T) {
	c := newConsole(&bytes.Buffer{})
	vm := &VM{con: c, started: time.Now()}
	c.Write([]byte("[    1.000000] one\n[    1.5"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("00000] two\nprompt: "))
	tl := vm.ConsoleTimedLines()
	if len(tl) != 2 || tl[0].Text != "[    1.000000] one" || tl[1].Text != "[    1.500000] two" {
		t.Fatalf("timed lines %q", tl)
	}
	if tl[0].At <= 0 || tl[1].At-tl[0].At < 20*time.Millisecond {
		t.Errorf("times %v, %v: want the second line's end at least 20 ms after the first's", tl[0].At, tl[1].At)
	}
	c.close()
	if tl = vm.ConsoleTimedLines(); len(tl) != 3 || tl[2].Text != "prompt: " || tl[2].At < tl[1].At {
		t.Errorf("after close: %q", tl)
	}
}
