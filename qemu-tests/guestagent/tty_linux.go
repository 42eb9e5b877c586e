package guestagent

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ttyBaud is the line speed set on the agent's port. The 8250 driver of a standard PC UART
// (1.8432 MHz clock) tops out at 115200; QEMU does not pace the bytes by it anyway.
const ttyBaud = unix.B115200

// rawTermios returns t set up as a raw 8N1 line, like cfmakeraw(3): no echo, no canonical mode,
// no signals, no CR/LF translation on input or output, no software or hardware flow control, and
// CLOCAL so that neither open nor read waits for a carrier that a virtual port never raises.
func rawTermios(t unix.Termios) unix.Termios {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR |
		unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | ttyBaud
	t.Ispeed = ttyBaud
	t.Ospeed = ttyBaud
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return t
}

// tty is the agent's serial port in raw mode.
type tty struct{ *os.File }

// openTTY opens path without becoming its controlling terminal and without waiting for carrier
// (O_NONBLOCK; the file then goes through Go's poller), and sets it raw.
func openTTY(path string) (*tty, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ioctl(%s, TCGETS): %w", path, err)
	}
	raw := rawTermios(*t)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ioctl(%s, TCSETS, raw 8N1): %w", path, err)
	}
	return &tty{os.NewFile(uintptr(fd), path)}, nil
}

// Drain waits until the output queued on the port has been sent (tcdrain), so a response is on
// the wire before the machine powers off.
func (t *tty) Drain() error {
	rc, err := t.SyscallConn() // not Fd(): that would switch the file back to blocking mode
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) { ioErr = unix.IoctlSetInt(int(fd), unix.TCSBRK, 1) }); err != nil {
		return err
	}
	if ioErr != nil {
		return fmt.Errorf("ioctl(%s, TCSBRK, 1): %w", t.Name(), ioErr)
	}
	return nil
}
