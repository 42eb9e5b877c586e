package debroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// aptSource is one "deb" entry of apt's sources.
type aptSource struct {
	URIs, Suites, Components []string
}

// MirrorFromApt returns the archive URI that apt's sources (under etcApt: sources.list, and
// sources.list.d/*.list and *.sources) use for suite: the first "deb" entry naming the suite
// itself (not suite-updates or suite-security) with the main component; else, for another
// release than the machine's (a Debian 13 guest on a Debian 12 machine, or the reverse), the
// first naming a Debian release with main: a Debian mirror serves every release. debootstrap
// then downloads from the mirror this machine already uses.
func MirrorFromApt(etcApt, suite string) (string, error) {
	uri, err := mirrorFor(etcApt, func(srcs []aptSource) (string, bool) { return pickMirror(srcs, suite) })
	if err == nil {
		return uri, nil
	}
	if uri, err := mirrorFor(etcApt, pickDebianMirror); err == nil {
		return uri, nil
	}
	return "", fmt.Errorf("debroot: no deb entry for %s (or another Debian release) with main in %s/sources.list or sources.list.d: give Spec.Mirror", suite, etcApt)
}

// debianReleases are the codenames that mark an apt entry as the Debian archive's (a third
// party's repository may have a main component too).
var debianReleases = []string{"bullseye", "bookworm", "trixie", "forky", "sid"}

// pickDebianMirror is the first entry naming a Debian release (not -updates or -security) with
// main.
func pickDebianMirror(srcs []aptSource) (string, bool) {
	for _, r := range debianReleases {
		if uri, ok := pickMirror(srcs, r); ok {
			return uri, true
		}
	}
	return "", false
}

// mirrorFor reads apt's sources files in order and returns the first URI pick finds.
func mirrorFor(etcApt string, pick func([]aptSource) (string, bool)) (string, error) {
	files := []string{filepath.Join(etcApt, "sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob(filepath.Join(etcApt, "sources.list.d", pat))
		sort.Strings(m)
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var srcs []aptSource
		if strings.HasSuffix(f, ".sources") {
			srcs = parseDeb822(string(data))
		} else {
			srcs = parseOneLine(string(data))
		}
		if uri, ok := pick(srcs); ok {
			return uri, nil
		}
	}
	return "", errors.New("none found")
}

func pickMirror(srcs []aptSource, suite string) (string, bool) {
	for _, s := range srcs {
		if len(s.URIs) == 0 || !contains(s.Suites, suite) || !contains(s.Components, "main") {
			continue
		}
		return strings.TrimRight(s.URIs[0], "/"), true
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseOneLine reads the one-line format: "deb [options] uri suite component...".
func parseOneLine(data string) []aptSource {
	var out []aptSource
	for _, line := range strings.Split(data, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // [arch=amd64 signed-by=...]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URIs: f[:1], Suites: f[1:2], Components: f[2:]})
	}
	return out
}

// parseDeb822 reads the deb822 format: stanzas of "Field: value" separated by blank lines.
func parseDeb822(data string) []aptSource {
	var out []aptSource
	for _, stanza := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		last := ""
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" { // a continuation line
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if !contains(strings.Fields(fields["types"]), "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		out = append(out, aptSource{URIs: strings.Fields(fields["uris"]), Suites: strings.Fields(fields["suites"]),
			Components: strings.Fields(fields["components"])})
	}
	return out
}
