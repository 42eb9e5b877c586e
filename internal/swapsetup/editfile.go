package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// backupSuffix names the copy of a configuration file as it was before setup first changed it.
// A later run keeps that first copy: it is the machine's own version.
const backupSuffix = ".hibernate-backup"

// removeFile removes a file below the root.
type removeFile struct {
	path string // as on the machine
	why  string // said after it: " (--force)"
	done func(r *work)
}

func (a removeFile) String() string { return "remove " + a.path + a.why }

func (a removeFile) apply(r *work) error {
	if err := os.Remove(r.fs.Path(strings.TrimPrefix(a.path, "/"))); err != nil {
		return fmt.Errorf("remove %s: %w", a.path, err)
	}
	if a.done != nil {
		a.done(r)
	}
	return nil
}

// editConfig changes one configuration file below the root: edit gives the new content from the
// old. It is planned on the file as it is (planEdit), and done on the file as it is when carried
// out: atomically, keeping the file's mode (0644 for a new one).
type editConfig struct {
	name   string // below the root: "etc/fstab"
	create bool   // a missing file is edited from "" and made
	backup bool   // the machine's own version is kept first, once, as NAME.hibernate-backup
	what   func() string
	edit   func(old string, exists bool) (string, error)
	done   func(r *work, backup string) // what the change adds to setup's record

	exists bool // as last read
}

func (a *editConfig) String() string {
	if b := a.backupName(); b != "" {
		return fmt.Sprintf("%s (backup %s)", a.what(), b)
	}
	return a.what()
}

func (a *editConfig) backupName() string {
	if a.backup && a.exists {
		return "/" + a.name + backupSuffix
	}
	return ""
}

// planEdit is the edit as the file is now: the action, or nil when the file needs no change.
func planEdit(fs sysfs.FS, a *editConfig) (*editConfig, error) {
	old, neu, err := a.read(fs)
	if err != nil || a.exists && neu == old {
		return nil, err
	}
	return a, nil
}

func (a *editConfig) read(fs sysfs.FS) (old, neu string, err error) {
	if old, a.exists, err = readConfig(fs, a.name, a.create); err != nil {
		return "", "", err
	}
	if neu, err = a.edit(old, a.exists); err != nil {
		return "", "", fmt.Errorf("%s: %w", fs.Path(a.name), err)
	}
	return old, neu, nil
}

func (a *editConfig) apply(r *work) error {
	old, neu, err := a.read(r.fs)
	if err != nil {
		return err
	}
	if a.exists && neu == old {
		return skipped(fmt.Sprintf("/%s needed no change after all", a.name))
	}
	if a.backup && a.exists {
		if err := backupConfig(r.fs, a.name, old); err != nil {
			return err
		}
	}
	if err := WriteConfig(r.fs, a.name, neu); err != nil {
		return err
	}
	if a.done != nil {
		a.done(r, a.backupName())
	}
	return nil
}

// readConfig reads a configuration file below the root; a missing one reads as "" if it may be
// created.
func readConfig(fs sysfs.FS, name string, create bool) (content string, exists bool, err error) {
	b, err := os.ReadFile(fs.Path(name))
	switch {
	case err == nil:
		return string(b), true, nil
	case create && errors.Is(err, os.ErrNotExist):
		return "", false, nil
	}
	return "", false, fmt.Errorf("read %s: %w", fs.Path(name), err)
}

// backupConfig keeps the machine's own version of a file, unless an earlier run kept it already.
func backupConfig(fs sysfs.FS, name, old string) error {
	p := fs.Path(name)
	if _, err := os.Stat(p + backupSuffix); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.WriteFile(p+backupSuffix, []byte(old), mode); err != nil {
		return fmt.Errorf("back up %s: %w", p, err)
	}
	return nil
}

// WriteConfig installs content as the file name below the root, atomically (a synced temporary
// file renamed over it), keeping its mode; a new file gets 0644.
func WriteConfig(fs sysfs.FS, name, content string) error {
	p := fs.Path(name)
	mode := os.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".hibernate-tmp"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("install %s: %w", p, err)
	}
	return nil
}
