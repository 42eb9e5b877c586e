// Package postupdate runs the boot loaders' hooks after an initramfs is written, as Debian's
// update-initramfs does: every program of /etc/initramfs/post-update.d, in run-parts' order, with
// the kernel release and the initramfs's path. A boot loader that keeps its own copy of the
// initramfs learns of the new one there: systemd-boot's hook (Debian's systemd-boot package)
// runs kernel-install add, which copies it to the EFI system partition; without it the ESP's
// copy stays the old one and the next boot never runs what was just built.
//
// update-initramfs calls run-parts for this; run-parts is not called here because the hooks'
// order, the names it skips and what failed must be known to say them (and run-parts differs
// between debianutils versions in what --arg order and --report print).
package postupdate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
)

// Dir is where Debian's boot loaders put their hooks.
const Dir = "etc/initramfs/post-update.d"

// validName is run-parts' default rule (no --lsbsysinit): ASCII letters, digits, _ and -; so
// dpkg's leftovers (hook.dpkg-old, hook.dpkg-dist) and editors' backups are never run.
var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Runner runs one hook program with its arguments.
type Runner interface {
	Run(path string, args ...string) error
}

// Hook is one program of the folder and why it is or is not run.
type Hook struct {
	Path    string
	Skipped string // why it is not run ("" when it is)
}

// Find lists the folder dir's entries in run-parts' order (by name, bytewise), each with why it
// is skipped: a name run-parts skips, not a regular file, not executable. A missing folder is
// no hooks.
func Find(dir string) ([]Hook, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the boot loaders' hooks in %s: %w", dir, err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var hooks []Hook
	for _, n := range names {
		h := Hook{Path: filepath.Join(dir, n)}
		st, err := os.Stat(h.Path) // a symlink's target, as run-parts follows it
		switch {
		case !validName.MatchString(n):
			h.Skipped = "a name run-parts skips"
		case err != nil:
			h.Skipped = err.Error()
		case !st.Mode().IsRegular():
			h.Skipped = "not a regular file"
		case st.Mode().Perm()&0o111 == 0:
			h.Skipped = "not executable"
		}
		hooks = append(hooks, h)
	}
	return hooks, nil
}

// Run runs the hooks of dir that are to run, in order, with release and initrd (the path as the
// machine names it), and stops at the first that fails, as update-initramfs does. It returns the
// hooks it found, each run or skipped.
func Run(dir, release, initrd string, r Runner) ([]Hook, error) {
	hooks, err := Find(dir)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		if h.Skipped != "" {
			continue
		}
		if err := r.Run(h.Path, release, initrd); err != nil {
			return hooks, fmt.Errorf("the boot loader's hook %s %s %s: %w", h.Path, release, initrd, err)
		}
	}
	return hooks, nil
}

// Exec runs hooks as programs, their output to Stdout and Stderr (os.Stdout and os.Stderr when
// nil).
type Exec struct {
	Stdout, Stderr io.Writer
}

// Run runs path with args and waits for it.
func (e Exec) Run(path string, args ...string) error {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = e.Stdout, e.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	return cmd.Run()
}
