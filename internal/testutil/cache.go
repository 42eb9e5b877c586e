// Package testutil holds what the tests share: the cache of kernels and built roots (CacheDir),
// a Swapper that records its calls, and (in faketree) fake machine trees. Nothing here touches
// the machine the tests run on.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// CacheDir is where the tests keep what is slow to make and the same for every clone: unpacked
// Debian kernels (kernels/), debootstrapped roots (debroot/). It is $HIBERNATE_CACHE (the
// Makefile exports it), else $XDG_CACHE_HOME/hibernate, else $HOME/.cache/hibernate: outside the
// clone, so that a fresh clone on the same machine (CI's) reuses it.
func CacheDir() string {
	if d := os.Getenv("HIBERNATE_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "hibernate")
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/var/tmp"
	}
	return filepath.Join(home, ".cache", "hibernate")
}

// KernelCache is CacheDir's kernels/ folder: qemu-tests/scripts/fetch-kernel.sh unpacks each
// Debian kernel package into KernelCache()/<release>/.
func KernelCache() string { return filepath.Join(CacheDir(), "kernels") }

// Swapper records the swapon and swapoff calls made through it, in order ("swapon PATH",
// "swapoff PATH"), and fails the paths in Fail. It satisfies swapsetup.Swapper.
type Swapper struct {
	Calls []string
	On    []string
	Off   []string
	Fail  map[string]error
}

// Swapon records the call.
func (s *Swapper) Swapon(path string, priority int) error {
	s.Calls = append(s.Calls, "swapon "+path)
	s.On = append(s.On, path)
	return s.Fail[path]
}

// Swapoff records the call.
func (s *Swapper) Swapoff(path string) error {
	s.Calls = append(s.Calls, "swapoff "+path)
	s.Off = append(s.Off, path)
	return s.Fail[path]
}

// LockCache takes an exclusive flock on path (created), waiting for another holder (another
// test binary building the same cached thing: what says which) until ctx ends. The function
// returned releases it.
func LockCache(ctx context.Context, path, what string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s (another build of %s): %w", path, what, ctx.Err())
		case <-time.After(500 * time.Millisecond): // flock has no timeout; poll it
		}
	}
}
