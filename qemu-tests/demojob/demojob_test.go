package demojob

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWritesConsecutiveLines(t *testing.T) {
	var log, con bytes.Buffer
	if err := Run(Options{StateBytes: 1 << 16, Interval: time.Millisecond, Log: &log, Console: &con, Seed: 7, Ticks: 5}); err != nil {
		t.Fatal(err)
	}
	last, err := Verify(&log)
	if err != nil {
		t.Fatalf("Verify: %v\n%s", err, log.String())
	}
	if last.Count != 5 {
		t.Fatalf("last count %d, want 5", last.Count)
	}
	if !strings.Contains(con.String(), "demo-job: count=5 pass=") || !strings.Contains(con.String(), "sum="+last.Sum) {
		t.Fatalf("console lacks the last line: %q", con.String())
	}
}

func TestVerifyCatchesRestartGapAndChange(t *testing.T) {
	for name, log := range map[string]string{
		"restart":  "start pid=1 state=1\ncount=1 sum=0000000a\nstart pid=2 state=1\ncount=1 sum=0000000a\n",
		"gap":      "start pid=1 state=1\ncount=1 sum=0000000a\ncount=3 sum=0000000a\n",
		"changed":  "start pid=1 state=1\ncount=1 sum=0000000a\ncount=2 sum=0000000b\n",
		"no start": "count=1 sum=0000000a\n",
		"garbage":  "start pid=1 state=1\nhello\n",
	} {
		if _, err := Verify(strings.NewReader(log)); err == nil {
			t.Errorf("%s: Verify accepted %q", name, log)
		}
	}
}

func TestFillIsDeterministicAndDense(t *testing.T) {
	a, b := make([]byte, 1<<16), make([]byte, 1<<16)
	Fill(a, 42)
	Fill(b, 42)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different state")
	}
	zeros := 0
	for _, c := range a {
		if c == 0 {
			zeros++
		}
	}
	if zeros > len(a)/100 {
		t.Fatalf("%d zero bytes in %d: state too compressible", zeros, len(a))
	}
}

func TestRunWithFileReadsItEveryPass(t *testing.T) {
	var log bytes.Buffer
	file := filepath.Join(t.TempDir(), "cache.dat")
	if err := Run(Options{StateBytes: 1 << 16, Interval: time.Millisecond, Log: &log, Seed: 7, Ticks: 3, File: file, FileBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("the job's file: %v, %v", fi, err)
	}
	if _, err := Verify(bytes.NewReader(log.Bytes())); err != nil {
		t.Fatalf("Verify: %v\n%s", err, log.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n")[1:] {
		if p, ok := ParseLine(l); !ok || p.Pass <= 0 {
			t.Errorf("line %q: no pass time (%+v)", l, p)
		}
	}
}

func TestParseLine(t *testing.T) {
	for in, want := range map[string]Line{
		"demo-job: count=7 pass=12.5ms sum=0a0b0c0d": {Count: 7, Sum: "0a0b0c0d", Pass: 12500 * time.Microsecond},
		"count=1 sum=0000000a":                       {Count: 1, Sum: "0000000a"},
		"count=9 paused sum=0a0b0c0d":                {Count: 9, Sum: "0a0b0c0d", Paused: true},
	} {
		if got, ok := ParseLine(in); !ok || got != want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"count=x sum=1", "count=7 pass=12.5ms sum=0a0b", "count=7 pass=12"} {
		if _, ok := ParseLine(bad); ok {
			t.Errorf("ParseLine accepted %q", bad)
		}
	}
}

func TestRunPausedTouchesNothing(t *testing.T) {
	var log bytes.Buffer
	pause := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(pause, []byte("pause\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Run(Options{StateBytes: 1 << 16, Interval: time.Millisecond, Log: &log, Seed: 7, Ticks: 3, PauseFile: pause}); err != nil {
		t.Fatal(err)
	}
	last, err := Verify(bytes.NewReader(log.Bytes()))
	if err != nil {
		t.Fatalf("Verify: %v\n%s", err, log.String())
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	first, _ := ParseLine(lines[1])
	if first.Paused || first.Pass <= 0 || !last.Paused || last.Sum != first.Sum {
		t.Fatalf("the first pass is whole, the rest paused with its sum:\n%s", log.String())
	}
}
