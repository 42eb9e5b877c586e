package debroot

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	entry := func(name string, made, used time.Duration, complete bool) string {
		e := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(e, "root", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(e, "root", "etc", "hostname"), []byte("x\n"), 0o644)
		if complete {
			stamp(t, filepath.Join(e, ".done"), now.Add(-made))
		}
		if used > 0 {
			stamp(t, filepath.Join(e, usedStamp), now.Add(-used))
		}
		return e
	}
	day := 24 * time.Hour
	entry("systemd-old", 30*day, 11*day, true)            // unused for 11 days: goes
	entry("base-old", 12*day, 0, true)                    // made 12 days ago, never stamped: goes
	entry("systemd-fresh", 30*day, 2*day, true)           // used 2 days ago: stays
	entry("base-new", 1*day, 0, true)                     // made yesterday: stays
	entry("systemd-making", 30*day, 0, false)             // no .done: being made, stays
	entry("systemd-x.partial", 30*day, 0, true)           // its maker's: stays
	locked := entry("systemd-busy", 30*day, 20*day, true) // old but its lock is held: stays
	os.WriteFile(filepath.Join(dir, "systemd-old.lock"), nil, 0o644)
	f, err := os.Create(locked + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	removed, err := Prune(dir, Unused, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{"base-old", "systemd-old"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, n := range []string{"systemd-fresh", "base-new", "systemd-making", "systemd-x.partial", "systemd-busy"} {
		if _, err := os.Stat(filepath.Join(dir, n, "root", "etc", "hostname")); err != nil {
			t.Errorf("%s: %v (should have stayed)", n, err)
		}
	}
	for _, n := range []string{"systemd-old", "base-old", "systemd-old.lock"} {
		if _, err := os.Lstat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", n, err)
		}
	}
}

func TestMarkUsed(t *testing.T) {
	dir := t.TempDir()
	markUsed(dir) // not complete: nothing stamped
	if _, ok := lastUse(dir); ok {
		t.Fatal("an entry without .done has a last use")
	}
	old := time.Now().Add(-20 * 24 * time.Hour)
	stamp(t, filepath.Join(dir, ".done"), old)
	if u, _ := lastUse(dir); !u.Equal(old) {
		t.Errorf("last use %v, want .done's %v", u, old)
	}
	markUsed(dir)
	if u, _ := lastUse(dir); time.Since(u) > time.Minute {
		t.Errorf("last use %v after markUsed, want now", u)
	}
}

func stamp(t *testing.T, p string, at time.Time) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}
