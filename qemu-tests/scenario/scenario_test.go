package scenario

import (
	"context"
	"os"
	"testing"
	"time"
)

// artifacts gives the scenario tests what `make build` and the kernel fetch made. These tests
// boot QEMU guests (about a minute each under TCG): `make e2e` (part of `make test`) sets
// HIBERNATE_E2E=1; plain `go test ./...` skips them, saying so.
func artifacts(t *testing.T) Artifacts {
	t.Helper()
	if os.Getenv("HIBERNATE_E2E") != "1" {
		t.Skip("end-to-end scenario: run with make e2e (HIBERNATE_E2E=1)")
	}
	root, err := FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Discover(root, "amd64")
	if err != nil {
		t.Fatalf("HIBERNATE_E2E=1 but the artifacts are not there: %v", err)
	}
	return a
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// TestRoundTrip is the demo as a test: a job with 64 MiB of state survives hibernate and resume.
func TestRoundTrip(t *testing.T) {
	a := artifacts(t)
	s, err := RoundTrip(context.Background(), a, RoundTripOptions{Name: t.Name(), Out: testWriter{t}, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatalf("round trip: %v\nlogs: %v", err, s.Logs)
	}
	t.Logf("hibernate %s, resume %s, image %.1f MiB (%.1f MiB on disk)", s.HibernateTime, s.ResumeTime, mib(s.ImageBytes), mib(s.ImageDiskBytes))
}
