package elfdeps

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinks is how many symlinks one path may go through, as the kernel's limit (ELOOP).
const maxLinks = 40

// resolveIn follows the symlinks of p as if root were "/": an absolute target is read below
// root, and ".." never climbs above it. It returns the real path below root ("/usr/lib/…"),
// which need not be a file: the last component is only looked at.
func resolveIn(root, p string) (string, error) {
	done := "/"
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, c)
		st, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink == 0 {
			if len(rest) > 0 && !st.IsDir() {
				return "", fmt.Errorf("%s: %s is not a folder", p, next)
			}
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: more than %d symbolic links", p, maxLinks)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			done = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return done, nil
}

// ldSoConfDirs reads /etc/ld.so.conf below root, and the files it includes, for the folders it
// lists, in order: what ldconfig would put in ld.so.cache. Only the simple forms are read: a
// folder a line (or several, split as ldconfig splits them), "include" of paths whose last
// component may hold a pattern, comments; "hwcap" lines are passed over. A file that cannot be
// read names no folder.
func ldSoConfDirs(root string) []string {
	var dirs []string
	seen := map[string]bool{}
	var read func(p string, depth int)
	read = func(p string, depth int) {
		if depth > 8 {
			return
		}
		b, err := readIn(root, p)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			f := strings.Fields(line)
			switch {
			case len(f) == 0 || f[0] == "hwcap":
			case f[0] == "include":
				for _, pat := range f[1:] {
					if !path.IsAbs(pat) {
						pat = path.Join(path.Dir(p), pat)
					}
					for _, inc := range globIn(root, pat) {
						read(inc, depth+1)
					}
				}
			default:
				for _, d := range strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(" \t:,", r) }) {
					d, _, _ = strings.Cut(d, "=") // the old "DIR=TYPE"
					if d = path.Clean(d); path.IsAbs(d) && !seen[d] {
						seen[d] = true
						dirs = append(dirs, d)
					}
				}
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	return dirs
}

// readIn reads the file p below root, its symlinks followed there.
func readIn(root, p string) ([]byte, error) {
	real, err := resolveIn(root, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(root, real))
}

// globIn lists the paths below root that pat matches (a pattern in its last component only),
// sorted, as ldconfig's glob does.
func globIn(root, pat string) []string {
	dir, base := path.Split(pat)
	real, err := resolveIn(root, dir)
	if err != nil {
		return nil
	}
	ents, err := os.ReadDir(filepath.Join(root, real))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if ok, err := path.Match(base, e.Name()); err == nil && ok {
			out = append(out, path.Join(dir, e.Name()))
		} else if errors.Is(err, path.ErrBadPattern) {
			return nil
		}
	}
	return out
}
