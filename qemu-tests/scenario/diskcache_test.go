package scenario

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A build that stalls past its limit is made once more, from an empty entry; one that fails
// otherwise, or stalls twice, or whose caller's time is up, is not.
func TestBuildBounded(t *testing.T) {
	old := toolsBuildLimit
	toolsBuildLimit = 50 * time.Millisecond
	defer func() { toolsBuildLimit = old }()
	stall := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	broken := errors.New("cryptsetup exited 1")
	for _, tc := range []struct {
		name     string
		attempts []func(ctx context.Context) error
		want     error // nil: built
		tries    int
	}{
		{"stalled once", []func(context.Context) error{stall, func(context.Context) error { return nil }}, nil, 2},
		{"stalled twice", []func(context.Context) error{stall, stall}, context.DeadlineExceeded, 2},
		{"failed", []func(context.Context) error{func(context.Context) error { return broken }}, broken, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entry := filepath.Join(t.TempDir(), "key")
			tries, said := 0, 0
			err := buildBounded(context.Background(), entry, func(ctx context.Context, e string) error {
				if names, _ := os.ReadDir(e); len(names) != 0 {
					t.Errorf("attempt %d began with %d files left in the entry", tries+1, len(names))
				}
				os.WriteFile(filepath.Join(e, "disk.img"), []byte("half"), 0o644)
				tries++
				return tc.attempts[tries-1](ctx)
			}, func(string, ...any) { said++ })
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) || tries != tc.tries || said != tc.tries-1 {
				t.Errorf("err %v after %d attempts, %d said; want %v after %d", err, tries, said, tc.want, tc.tries)
			}
		})
	}
	// The caller's own deadline: no second attempt.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tries := 0
	err := buildBounded(ctx, filepath.Join(t.TempDir(), "key"), func(ctx context.Context, _ string) error { tries++; return stall(ctx) }, func(string, ...any) {})
	if err == nil || tries != 1 {
		t.Errorf("with the caller's time up: %v after %d attempts, want an error after 1", err, tries)
	}
}
