package resume

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// readUntil reads the master side until want shows, or 5 s pass.
func readUntil(t *testing.T, m *os.File, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 256)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(got.String(), want) && time.Now().Before(deadline) {
		m.SetReadDeadline(deadline)
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(got.String(), want) {
		t.Fatalf("console shows %q, want %q in it", got.String(), want)
	}
	return got.String()
}

// The prompt shows on every console; the keys typed on one show as stars there, never as
// themselves; Backspace and Ctrl-U take keys back; the other console says where it was answered.
func TestAskSecretOnEveryConsole(t *testing.T) {
	serial, serialPath := testutil.OpenPTY(t)
	vt, vtPath := testutil.OpenPTY(t)
	type answer struct {
		line []byte
		on   string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, on, err := askSecret([]string{vtPath, serialPath}, "Passphrase for vda2_crypt: ")
		got <- answer{line, on, err}
	}()
	readUntil(t, vt, "Passphrase for vda2_crypt: ")
	readUntil(t, serial, "Passphrase for vda2_crypt: ")
	serial.WriteString("wrong\x15se\x7fecret word\r")
	a := <-got
	if a.err != nil || string(a.line) != "secret word" || a.on != serialPath {
		t.Fatalf("askSecret = %q on %s, %v; want \"secret word\" on %s", a.line, a.on, a.err, serialPath)
	}
	echo := readUntil(t, serial, "\r\n")
	if strings.ContainsAny(echo, "secrtwod") {
		t.Errorf("the serial console echoed the keys: %q", echo)
	}
	if !strings.Contains(echo, "*****") {
		t.Errorf("the serial console shows no stars for the keys: %q", echo)
	}
	readUntil(t, vt, "(answered on "+serialPath+")")
}

func TestAskSecretNoConsole(t *testing.T) {
	if _, _, err := askSecret([]string{t.TempDir() + "/tty9"}, "x: "); err == nil || !strings.Contains(err.Error(), "no console to ask on") {
		t.Errorf("askSecret without a console = %v", err)
	}
}

func TestConsolePaths(t *testing.T) {
	tr := faketree.New(t)
	fs := tr.FS()
	if got := consolePaths(fs); len(got) != 1 || got[0] != fs.Path("dev/console") {
		t.Errorf("consolePaths without the sysfs file = %v", got)
	}
	tr.Write("sys/class/tty/console/active", "tty0 ttyS0 ../x\n")
	if got := consolePaths(fs); len(got) != 2 || got[0] != fs.Path("dev/tty0") || got[1] != fs.Path("dev/ttyS0") {
		t.Errorf("consolePaths = %v", got)
	}
	// console=ttyS0 alone, on a machine with a screen: its keyboard is asked too.
	tr.Write("sys/class/tty/console/active", "ttyS0\n")
	tr.Write("sys/class/tty/tty0/dev", "4:0\n")
	if got := consolePaths(fs); len(got) != 2 || got[0] != fs.Path("dev/tty0") || got[1] != fs.Path("dev/ttyS0") {
		t.Errorf("consolePaths with console=ttyS0 and a tty0 = %v", got)
	}
}
