package guestagent

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestRawTermios(t *testing.T) {
	// A cooked tty as the kernel sets it up: echo, canonical, CR/LF mapping, 9600 7E1, hw flow.
	cooked := unix.Termios{
		Iflag: unix.ICRNL | unix.IXON | unix.BRKINT | unix.ISTRIP,
		Oflag: unix.OPOST | unix.ONLCR,
		Lflag: unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN | unix.ECHONL,
		Cflag: unix.CS7 | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.B9600 | unix.HUPCL,
	}
	r := rawTermios(cooked)
	checks := []struct {
		what string
		ok   bool
	}{
		{"no echo", r.Lflag&(unix.ECHO|unix.ECHONL) == 0},
		{"not canonical", r.Lflag&unix.ICANON == 0},
		{"no signals", r.Lflag&(unix.ISIG|unix.IEXTEN) == 0},
		{"no CR/LF on input", r.Iflag&(unix.ICRNL|unix.INLCR|unix.IGNCR) == 0},
		{"no output processing", r.Oflag&unix.OPOST == 0},
		{"no xon/xoff", r.Iflag&(unix.IXON|unix.IXOFF) == 0},
		{"8 bits", r.Cflag&unix.CSIZE == unix.CS8},
		{"no parity", r.Cflag&unix.PARENB == 0 && r.Iflag&(unix.INPCK|unix.ISTRIP) == 0},
		{"1 stop bit", r.Cflag&unix.CSTOPB == 0},
		{"no hw flow control", r.Cflag&unix.CRTSCTS == 0},
		{"ignores carrier, receives", r.Cflag&(unix.CLOCAL|unix.CREAD) == unix.CLOCAL|unix.CREAD},
		{"115200 baud", r.Cflag&unix.CBAUD == unix.B115200 && r.Ispeed == unix.B115200 && r.Ospeed == unix.B115200},
		{"read returns per byte", r.Cc[unix.VMIN] == 1 && r.Cc[unix.VTIME] == 0},
		{"other flags kept", r.Cflag&unix.HUPCL != 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("rawTermios: %s: got %+v", c.what, r)
		}
	}
}
