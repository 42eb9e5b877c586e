package guestagent

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// TestAskpassEchoesNothing asks on a pseudo-terminal left as the kernel sets one up (echo on):
// the answer is written to the file, and nothing of it comes back on the terminal.
func TestAskpassEchoesNothing(t *testing.T) {
	master, slave := testutil.OpenPTY(t)
	out := filepath.Join(t.TempDir(), "passphrase")
	done := make(chan error, 1)
	go func() { done <- Askpass([]string{slave, "Passphrase for vda1_crypt: ", out}) }()

	var seen bytes.Buffer
	buf := make([]byte, 256)
	for !strings.Contains(seen.String(), "Passphrase for vda1_crypt: ") {
		master.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("no prompt (%q): %v", seen.String(), err)
		}
		seen.Write(buf[:n])
	}
	if _, err := master.Write([]byte("two words\r")); err != nil { // Enter, as a terminal sends it
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		n, err := master.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if strings.Contains(seen.String(), "two") {
		t.Errorf("the terminal echoed the answer: %q", seen.String())
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != "two words" {
		t.Errorf("answer file %q, %v; want %q", got, err, "two words")
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("answer file mode %v, %v", st.Mode(), err)
	}
}

// terminal is what askLine reads from and writes to, in a test.
type terminal struct {
	in  *strings.Reader
	out bytes.Buffer
}

func (t *terminal) Read(p []byte) (int, error)  { return t.in.Read(p) }
func (t *terminal) Write(p []byte) (int, error) { return t.out.Write(p) }

func TestAskLineEnds(t *testing.T) {
	for _, in := range []string{"abc\n", "abc\r", "abc\r\n", "abc\nrest"} {
		rw := &terminal{in: strings.NewReader(in)}
		got, err := askLine(rw, "? ")
		if err != nil || string(got) != "abc" || rw.out.String() != "? " {
			t.Errorf("askLine(%q) = %q, %v (wrote %q)", in, got, err, rw.out.String())
		}
	}
	if _, err := askLine(&terminal{in: strings.NewReader("no end")}, "? "); err == nil {
		t.Errorf("a line without an end was taken")
	}
}
