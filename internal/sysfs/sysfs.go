// Package sysfs reads and writes the kernel's interfaces (/sys, /proc, /dev) below a root
// prefix, so that every check and action of hibernate runs against a fake tree in unit tests.
//
// The root is a plain folder name, as in prometheus/procfs: "/" on a real machine,
// a t.TempDir() in tests. Nothing here holds global state.
package sysfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// FS is a root prefix for kernel interface files.
type FS string

// New returns an FS rooted at root ("" means "/").
func New(root string) FS {
	if root == "" {
		root = "/"
	}
	return FS(root)
}

// RootOwner is the uid that owns the root: root's (0) on a real machine, the test's user below a
// fake tree. What runs as root must belong to it.
func (fs FS) RootOwner() (uint32, error) {
	st, err := os.Stat(fs.Path())
	if err != nil {
		return 0, fmt.Errorf("owner of %s: %w", fs.Path(), err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("owner of %s: not known", fs.Path())
	}
	return sys.Uid, nil
}

// Root is the prefix itself.
func (fs FS) Root() string { return string(fs) }

// Path joins elements below the root: Path("sys/power/state") is /sys/power/state on a real machine.
func (fs FS) Path(elem ...string) string {
	return filepath.Join(append([]string{string(fs)}, elem...)...)
}

// ReadString reads a whole file below the root, with surrounding white space removed.
func (fs FS) ReadString(name string) (string, error) {
	b, err := readSmall(fs.Path(name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Exists reports whether name exists below the root.
func (fs FS) Exists(name string) bool {
	_, err := os.Stat(fs.Path(name))
	return err == nil
}

// WriteString writes value to an existing kernel attribute below the root, as `echo value > file`
// does: one write, no creation, no truncation semantics beyond what the kernel gives.
func (fs FS) WriteString(name, value string) error {
	p := fs.Path(name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return f.Close()
}

// Selected returns the bracketed choice of a kernel list attribute such as /sys/power/disk
// ("[platform] shutdown reboot" gives "platform") and every choice offered.
func Selected(value string) (selected string, choices []string) {
	for _, f := range strings.Fields(value) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			f = strings.Trim(f, "[]")
			selected = f
		}
		choices = append(choices, f)
	}
	return selected, choices
}
