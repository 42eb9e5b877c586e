package modules

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// builtinList is the file every kernel's module folder has (Scan requires it): it tells a
// module folder from any other.
const builtinList = "modules.builtin"

// FindDir returns the module folder of kernel release rel that dir names: dir itself when it is
// one, else lib/modules/rel or usr/lib/modules/rel below it, as a root or an unpacked kernel
// package has it. Debian 13's kernel packages (merged /usr) keep their modules in
// usr/lib/modules/R, Debian 12's in lib/modules/R; an installed merged-/usr system has both
// through its /lib link, but an unpacked package, or a root without that link, has only the one
// it was given. lib/ is tried first, as kmod does.
func FindDir(dir, rel string) (string, error) {
	below := []string{"."}
	if rel != "" && !strings.ContainsRune(rel, '/') {
		below = append(below, filepath.Join("lib/modules", rel), filepath.Join("usr/lib/modules", rel))
	}
	for _, b := range below {
		c := filepath.Join(dir, b)
		if st, err := os.Stat(filepath.Join(c, builtinList)); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("no module folder of kernel %s in %s (no %s in %s): %w",
		rel, dir, builtinList, strings.Join(below, ", "), fs.ErrNotExist)
}
