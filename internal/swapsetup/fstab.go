package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

const fstabName = "etc/fstab"

// fstabLine is the line that activates the swap at boot: a swap area by its UUID (a partition),
// a swap file by its path (space, tab, newline and backslash escaped as fstab(5) wants).
func fstabLine(res Result, priority int) string {
	spec := "UUID=" + res.UUID
	if res.File != "" {
		spec = sysfs.EscapeMountField(filepath.Clean(res.File))
	}
	opts := "defaults"
	if priority >= 0 {
		opts += fmt.Sprintf(",pri=%d", priority)
	}
	return spec + " none swap " + opts + " 0 0"
}

// fstabNames are the spellings of a swap's first fstab field that mean this swap.
func fstabNames(res Result) []string {
	if res.File != "" {
		return []string{filepath.Clean(res.File)}
	}
	names := []string{"UUID=" + res.UUID, "/dev/disk/by-uuid/" + res.UUID}
	if res.Device != "" {
		names = append(names, res.Device)
	}
	return names
}

// fstabEntry finds the line of fstab whose first field names this swap.
func fstabEntry(fstab string, res Result) (string, bool) {
	for _, line := range strings.Split(fstab, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		spec := sysfs.UnescapeMountField(f[0])
		for _, n := range fstabNames(res) {
			if spec == n || strings.HasPrefix(n, "UUID=") && strings.EqualFold(spec, n) {
				return line, true
			}
		}
	}
	return "", false
}

// planFstab adds the swap's line to /etc/fstab, unless a line there names it already.
func planFstab(p *Plan, priority int) error {
	line, res, have := fstabLine(*p.res, priority), p.res, ""
	a, err := planEdit(p.fs, &editConfig{name: fstabName, create: true, backup: true,
		what: func() string { return fmt.Sprintf("add %q to /etc/fstab", line) },
		edit: func(old string, _ bool) (string, error) {
			var ok bool
			if have, ok = fstabEntry(old, *res); ok {
				return old, nil
			}
			if old != "" && !strings.HasSuffix(old, "\n") {
				old += "\n"
			}
			return old + line + "\n", nil
		},
		done: func(r *work, _ string) { r.st.FstabLine = line },
	})
	switch {
	case err != nil:
		return err
	case a == nil:
		p.note("/etc/fstab already activates it: %q (kept)", strings.TrimSpace(have))
	default:
		p.add(a)
	}
	return nil
}

// planRemoveFstabLine takes the line setup added out of /etc/fstab (the first line equal to it).
func planRemoveFstabLine(p *Plan, line string) {
	a, err := planEdit(p.fs, &editConfig{name: fstabName,
		what: func() string { return fmt.Sprintf("remove %q from /etc/fstab", line) },
		edit: func(old string, _ bool) (string, error) {
			lines := strings.SplitAfter(old, "\n")
			for i, l := range lines {
				if strings.TrimRight(l, "\n") == line {
					return strings.Join(append(lines[:i:i], lines[i+1:]...), ""), nil
				}
			}
			return old, nil
		},
	})
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		p.problems = append(p.problems, err)
	case a != nil:
		p.add(a)
	}
}
