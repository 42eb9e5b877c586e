package swapsetup

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

const fstabName = "etc/fstab"

// fstabLine is the line that activates the swap at boot: a swap area by its UUID (a partition),
// a swap file by its path (spaces as \040, as fstab(5) wants).
func fstabLine(res Result, priority int) string {
	spec := "UUID=" + res.UUID
	if res.File != "" {
		spec = strings.ReplaceAll(filepath.Clean(res.File), " ", `\040`)
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
		spec := strings.ReplaceAll(f[0], `\040`, " ")
		for _, n := range fstabNames(res) {
			if spec == n || strings.HasPrefix(n, "UUID=") && strings.EqualFold(spec, n) {
				return line, true
			}
		}
	}
	return "", false
}

// ensureFstab adds the swap's line to /etc/fstab unless a line there names it already. It
// returns the line added ("" when none was).
func ensureFstab(fs sysfs.FS, res *Result, priority int, dryRun bool) (string, error) {
	line := fstabLine(*res, priority)
	added := ""
	_, _, err := editFile(fs, fstabName, true, true, dryRun, func(old string) (string, error) {
		if have, ok := fstabEntry(old, *res); ok {
			res.Notes = append(res.Notes, fmt.Sprintf("/etc/fstab already activates it: %q (kept)", strings.TrimSpace(have)))
			return old, nil
		}
		added = line
		if old != "" && !strings.HasSuffix(old, "\n") {
			old += "\n"
		}
		return old + line + "\n", nil
	})
	if err != nil {
		return "", err
	}
	if added != "" {
		res.Actions = append(res.Actions, fmt.Sprintf("add %q to /etc/fstab", added))
	}
	return added, nil
}

// removeFstabLine takes line out of /etc/fstab (the first line equal to it).
func removeFstabLine(fs sysfs.FS, line string, dryRun bool) (bool, error) {
	changed, _, err := editFile(fs, fstabName, false, false, dryRun, func(old string) (string, error) {
		lines := strings.SplitAfter(old, "\n")
		for i, l := range lines {
			if strings.TrimRight(l, "\n") == line {
				return strings.Join(append(lines[:i:i], lines[i+1:]...), ""), nil
			}
		}
		return old, nil
	})
	return changed, err
}
