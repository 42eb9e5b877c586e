package resume

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// maxSecret bounds a typed passphrase (cryptsetup's own interactive limit is 512 bytes).
const maxSecret = 1024

// consolePaths are the terminals to ask on, as paths below fs: those the kernel writes its
// console to, from /sys/class/tty/console/active ("tty0 ttyS0": every console= of the command
// line, the last being /dev/console), and the screen's (tty0) when the machine has one but the
// command line sent the console elsewhere (a laptop booted with console=ttyS0 still has its
// keyboard); /dev/console alone when neither is there.
func consolePaths(fs sysfs.FS) []string {
	active, _ := fs.ReadString("sys/class/tty/console/active")
	names := strings.Fields(active)
	if !slices.Contains(names, "tty0") && fs.Exists("sys/class/tty/tty0") {
		names = append([]string{"tty0"}, names...)
	}
	var paths []string
	for _, name := range names {
		if strings.ContainsAny(name, "/.") {
			continue
		}
		paths = append(paths, fs.Path("dev", name))
	}
	if len(paths) == 0 {
		paths = []string{fs.Path("dev/console")}
	}
	return paths
}

// askSecret writes prompt on every console and returns the first line typed on any of them, and
// the console it came from. What is typed is not echoed: each key shows as '*'; Backspace takes
// the last one back, Ctrl-U the whole line. It waits as long as it takes (no timeout: a machine
// waiting for its passphrase has lost nothing yet). The caller wipes the answer after use.
func askSecret(paths []string, prompt string) ([]byte, string, error) {
	var ttys []*secretTTY
	var errs []error
	for _, p := range paths {
		t, err := openSecretTTY(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		defer t.close()
		ttys = append(ttys, t)
		t.write(prompt)
	}
	if len(ttys) == 0 {
		return nil, "", fmt.Errorf("no console to ask on: %w", errors.Join(errs...))
	}
	fds := make([]unix.PollFd, len(ttys))
	for i, t := range ttys {
		fds[i] = unix.PollFd{Fd: int32(t.f.Fd()), Events: unix.POLLIN}
	}
	buf := make([]byte, 64)
	defer wipe(buf)
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, "", fmt.Errorf("poll the consoles: %w", err)
		}
		for i, t := range ttys {
			if fds[i].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) == 0 {
				continue
			}
			n, err := t.f.Read(buf)
			if err != nil || n == 0 {
				fds[i].Fd = -1 // this console is gone; the others still ask
				continue
			}
			if line, done := t.take(buf[:n]); done {
				for _, o := range ttys {
					if o != t {
						o.wipe()
						o.write("\r\n(answered on " + t.path + ")\r\n")
					}
				}
				t.write("\r\n")
				return line, t.path, nil
			}
		}
		if allGone(fds) {
			return nil, "", errors.New("every console closed before a passphrase was typed")
		}
	}
}

func allGone(fds []unix.PollFd) bool {
	for _, f := range fds {
		if f.Fd >= 0 {
			return false
		}
	}
	return true
}

// secretTTY is one console in raw mode while a secret is typed on it.
type secretTTY struct {
	path string
	f    *os.File
	old  *unix.Termios
	line []byte
}

func openSecretTTY(path string) (*secretTTY, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open console %s: %w", path, err)
	}
	t := &secretTTY{path: path, f: f, line: make([]byte, 0, maxSecret)} // no growth: no stray copies
	if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		raw := *old
		// Byte by byte, no echo, no signals from the keys: a ^C is a key like the others here.
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Iflag |= unix.ICRNL
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &raw); err == nil {
			t.old = old
		}
	}
	return t, nil
}

func (t *secretTTY) write(s string) { _, _ = t.f.WriteString(s) }

// take reads keys typed; it says done at Enter, with the line.
func (t *secretTTY) take(keys []byte) ([]byte, bool) {
	for _, k := range keys {
		switch {
		case k == '\r' || k == '\n':
			line := bytes.Clone(t.line)
			t.wipe()
			return line, true
		case k == 0x7f || k == 0x08: // Backspace, Delete
			if len(t.line) > 0 {
				t.line[len(t.line)-1] = 0
				t.line = t.line[:len(t.line)-1]
				t.write("\b \b")
			}
		case k == 0x15: // Ctrl-U
			t.write(strings.Repeat("\b \b", len(t.line)))
			t.wipe()
		case k < 0x20: // other control keys are not part of a passphrase
		case len(t.line) < maxSecret:
			t.line = append(t.line, k)
			t.write("*")
		}
	}
	return nil, false
}

// wipe forgets what was typed so far.
func (t *secretTTY) wipe() {
	wipe(t.line)
	t.line = t.line[:0]
}

func (t *secretTTY) close() {
	t.wipe()
	if t.old != nil {
		_ = unix.IoctlSetTermios(int(t.f.Fd()), unix.TCSETS, t.old)
	}
	t.f.Close()
}

// wipe overwrites a secret in memory.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
