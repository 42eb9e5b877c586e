package modules

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// scanDepmod builds the index from what depmod wrote (modules.dep, modules.softdep,
// modules.alias) instead of reading every module's .modinfo: an installed Debian kernel has
// them, since its package runs depmod, and reading all 4,000 modules of a real system took
// 24-72 s in a QEMU guest (xz modules, cold cache), against milliseconds for these files.
// It returns (nil, nil) when the folder has no modules.dep.
func scanDepmod(dir string) (*Index, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ix := &Index{dir: dir, mods: map[string]*Module{}, aliases: map[string][]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		path, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			return nil, fmt.Errorf("%s/modules.dep line %d: no ':' in %q", dir, n, sc.Text())
		}
		m := &Module{Name: moduleBaseName(path), Path: path}
		for _, d := range strings.Fields(deps) {
			m.Depends = append(m.Depends, moduleBaseName(d))
		}
		if _, dup := ix.mods[m.Name]; !dup {
			ix.mods[m.Name] = m
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s/modules.dep: %w", dir, err)
	}
	if err := eachLine(filepath.Join(dir, "modules.softdep"), func(fields []string) {
		// softdep NAME pre: A B post: C
		if len(fields) < 3 || fields[0] != "softdep" {
			return
		}
		m, ok := ix.mods[Normalize(fields[1])]
		if !ok {
			return
		}
		var into *[]string
		for _, w := range fields[2:] {
			switch w {
			case "pre:":
				into = &m.SoftPre
			case "post:":
				into = &m.SoftPost
			default:
				if into != nil {
					*into = append(*into, Normalize(w))
				}
			}
		}
	}); err != nil {
		return nil, err
	}
	if err := eachLine(filepath.Join(dir, "modules.alias"), func(fields []string) {
		// alias PATTERN NAME
		if len(fields) == 3 && fields[0] == "alias" {
			if m, ok := ix.mods[Normalize(fields[2])]; ok {
				m.Aliases = append(m.Aliases, normalizeAlias(fields[1])) // '-' kept inside [...]
			}
		}
	}); err != nil {
		return nil, err
	}
	return ix, nil
}

// eachLine calls fn with the fields of every line of an optional file (absent: no lines).
func eachLine(path string, fn func([]string)) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			fn(strings.Fields(l))
		}
	}
	return sc.Err()
}
