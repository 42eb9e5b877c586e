package guestagent

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Askpass is `hibernate-guest-agent askpass TTY PROMPT OUT`: it asks for a line on the terminal
// TTY as a passphrase prompt does (the echo off before the prompt is written, so no keystroke is
// echoed), and writes the line, without its end, to OUT (mode 0600). The builder of the
// encrypted disk asks its passphrase this way on the serial console, and the harness answers
// (harness.VM.AnswerPrompt): the typing is proved on a real guest, as /init will need it.
func Askpass(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: askpass TTY PROMPT OUT")
	}
	tty, prompt, out := args[0], args[1], args[2]
	f, err := os.OpenFile(tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("ioctl(%s, TCGETS): %w", tty, err)
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ECHONL // a line at a time; the Enter still shows
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return fmt.Errorf("ioctl(%s, TCSETS, no echo): %w", tty, err)
	}
	line, err := askLine(f, prompt)
	if rerr := unix.IoctlSetTermios(fd, unix.TCSETS, old); err == nil && rerr != nil {
		err = fmt.Errorf("ioctl(%s, TCSETS, as it was): %w", tty, rerr)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, line, 0o600); err != nil {
		return err
	}
	return os.Chmod(out, 0o600)
}

// askLine writes prompt and reads one line, a byte at a time (nothing after it is taken from
// the terminal), ended by "\n" or "\r"; it returns the line without its end.
func askLine(rw io.ReadWriter, prompt string) ([]byte, error) {
	if _, err := io.WriteString(rw, prompt); err != nil {
		return nil, err
	}
	var line bytes.Buffer
	b := make([]byte, 1)
	for {
		n, err := rw.Read(b)
		if n == 1 {
			if b[0] == '\n' || b[0] == '\r' {
				return line.Bytes(), nil
			}
			line.WriteByte(b[0])
		}
		if err != nil {
			return nil, fmt.Errorf("reading the answer to %q: %w", prompt, err)
		}
	}
}
