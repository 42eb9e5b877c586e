package debroot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Unused is how long a cached root (or base, or kernel root) may go without a run that uses it
// before Prune takes it away. Every change of a root's inputs makes a new one (a package, a unit
// file), and the old stayed for good: a CI machine's cache grew run after run until the disk was
// full (stop 29: no space left on device halfway through make test).
const Unused = 10 * 24 * time.Hour

// usedStamp is touched in an entry each time a run uses it: the entry's last use, for Prune.
const usedStamp = ".used"

// markUsed records that dir (a complete cache entry) is used now.
func markUsed(dir string) {
	if !done(dir) {
		return
	}
	p := filepath.Join(dir, usedStamp)
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, os.ErrNotExist) {
		os.WriteFile(p, nil, 0o644)
	}
}

// lastUse is when dir was last used: its stamp, else when it was made (.done).
func lastUse(dir string) (time.Time, bool) {
	for _, n := range []string{usedStamp, ".done"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return st.ModTime(), true
		}
	}
	return time.Time{}, false
}

// Prune removes the entries of the cache folder dir (roots, bases, kernel roots: folders with
// .done) that no run has used since before now-unused, and says which. An entry whose lock
// (ENTRY.lock) another process holds is left alone, as are folders being made (.partial, no
// .done: their maker removes them) and anything mounted below (RemoveTree).
func Prune(dir string, unused time.Duration, now time.Time) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".partial") {
			continue
		}
		entry := filepath.Join(dir, e.Name())
		used, ok := lastUse(entry)
		if !ok || now.Sub(used) < unused {
			continue
		}
		unlock, held := tryLock(entry + ".lock")
		if held {
			continue
		}
		err := RemoveTree(entry)
		if err == nil {
			os.Remove(entry + ".lock")
		}
		unlock()
		if err != nil {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// tryLock takes path's flock if no one holds it (held: someone does). A missing lock file is
// not made: no one can hold it.
func tryLock(path string) (unlock func(), held bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return func() {}, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return func() {}, true
	}
	return func() { f.Close() }, false
}
