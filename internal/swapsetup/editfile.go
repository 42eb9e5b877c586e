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

// editFile rewrites the file name (below fs) through edit, atomically and keeping its mode. A
// missing file is edited from "" and created with mode 0644 when create is set. It returns
// whether the file changed, and the backup made (when backup is set and the file existed).
func editFile(fs sysfs.FS, name string, create, backup, dryRun bool, edit func(old string) (string, error)) (changed bool, backupName string, err error) {
	p := fs.Path(name)
	old, err := os.ReadFile(p)
	exists := err == nil
	if err != nil && !(create && errors.Is(err, os.ErrNotExist)) {
		return false, "", fmt.Errorf("read %s: %w", p, err)
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		mode = st.Mode().Perm()
	}
	neu, err := edit(string(old))
	if err != nil {
		return false, "", fmt.Errorf("%s: %w", p, err)
	}
	if exists && neu == string(old) {
		return false, "", nil
	}
	if dryRun {
		if backup && exists {
			backupName = "/" + name + backupSuffix
		}
		return true, backupName, nil
	}
	if backup && exists {
		backupName = "/" + name + backupSuffix
		if _, err := os.Stat(p + backupSuffix); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(p+backupSuffix, old, mode); err != nil {
				return false, "", fmt.Errorf("back up %s: %w", p, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, "", err
	}
	tmp := p + ".hibernate-tmp"
	if err := os.WriteFile(tmp, []byte(neu), mode); err != nil {
		return false, "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return false, "", err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return false, "", fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return false, "", fmt.Errorf("install %s: %w", p, err)
	}
	return true, backupName, nil
}

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
