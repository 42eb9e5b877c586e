package demojob

import (
	"bytes"
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
	if !strings.Contains(con.String(), "demo-job: count=5 sum="+last.Sum) {
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
