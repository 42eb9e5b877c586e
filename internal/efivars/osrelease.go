package efivars

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// OSRelease is an os-release file, parsed.
type OSRelease struct {
	Path   string            // the file read, below the root
	Fields map[string]string // KEY → value; an empty value is no value ("" here, as unset)
}

// ReadOSRelease reads the os-release of the system below root as systemd does
// (open_os_release_at in src/basic/os-util.c): /etc/os-release, or, when that does not exist
// (a dangling link included), /usr/lib/os-release. Links are followed inside root, as
// systemd's CHASE_AT_RESOLVE_IN_ROOT does: an absolute /etc/os-release -> /usr/lib/os-release
// stays below root. systemd's $SYSTEMD_OS_RELEASE override is not read.
func ReadOSRelease(root string) (OSRelease, error) {
	var tried []string
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		p, err := resolveInRoot(root, name)
		if err == nil {
			var b []byte
			if b, err = os.ReadFile(p); err == nil {
				fields, err := ParseOSRelease(b)
				if err != nil {
					return OSRelease{}, fmt.Errorf("%s: %w", p, err)
				}
				return OSRelease{Path: p, Fields: fields}, nil
			}
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return OSRelease{}, err
		}
		tried = append(tried, filepath.Join(root, name))
	}
	return OSRelease{}, fmt.Errorf("no os-release (%s): %w", strings.Join(tried, ", "), fs.ErrNotExist)
}

// ParseOSRelease parses os-release text by the rules of os-release(5), as systemd's
// parse_env_file (src/basic/env-file.c) applies them:
//   - one KEY=VALUE a line; white space around the key and before the value is dropped;
//     a line without '=' is skipped; a line whose first non-blank is '#' or ';' is a comment;
//   - unquoted, a value ends at the line's end, trailing white space dropped, and a
//     backslash takes the next character as it is (a backslash-newline joins lines);
//   - in '...' everything is literal; in "..." a backslash before one of " \ ` $ gives that
//     character, before a newline joins lines, and before anything else stays, as in sh;
//   - pieces join ("a"'b'c is abc), nothing is expanded;
//   - a later assignment of a key replaces an earlier one; an empty value is no value.
//
// Text that is not UTF-8 is refused, as systemd refuses the file (it then knows no ID at
// all). The text ends at a NUL byte, as systemd reads it as a C string.
func ParseOSRelease(b []byte) (map[string]string, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	p := envParser{fields: map[string]string{}, line: 1}
	for _, c := range b {
		p.step(c)
		if p.err != nil {
			return nil, p.err
		}
	}
	p.end()
	return p.fields, p.err
}

type envState int

const (
	preKey envState = iota
	inKey
	preValue
	inValue
	valueEscape
	singleQuote
	doubleQuote
	doubleQuoteEscape
	comment
	commentEscape
)

// envParser is the state machine of systemd's parse_env_file_internal, one byte at a time.
type envParser struct {
	state      envState
	key, value []byte
	keyEnd     int // where trailing white space of the key starts, or -1
	valueEnd   int // the same for an unquoted value
	fields     map[string]string
	line       int
	err        error
}

func isWhite(c byte) bool   { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isNewline(c byte) bool { return c == '\n' || c == '\r' }

func (p *envParser) step(c byte) {
	switch p.state {
	case preKey:
		switch {
		case c == '#' || c == ';':
			p.state = comment
		case !isWhite(c):
			p.state, p.key, p.keyEnd = inKey, append(p.key[:0], c), -1
		}
	case inKey:
		switch {
		case isNewline(c):
			p.state, p.key = preKey, p.key[:0]
			p.line++
		case c == '=':
			p.state, p.value, p.valueEnd = preValue, p.value[:0], -1
		default:
			if !isWhite(c) {
				p.keyEnd = -1
			} else if p.keyEnd < 0 {
				p.keyEnd = len(p.key)
			}
			p.key = append(p.key, c)
		}
	case preValue:
		switch {
		case isNewline(c):
			p.push()
			p.state = preKey
			p.line++
		case c == '\'':
			p.state = singleQuote
		case c == '"':
			p.state = doubleQuote
		case c == '\\':
			p.state = valueEscape
		case !isWhite(c):
			p.state, p.value = inValue, append(p.value, c)
		}
	case inValue:
		switch {
		case isNewline(c):
			if p.valueEnd >= 0 {
				p.value = p.value[:p.valueEnd]
			}
			p.push()
			p.state = preKey
			p.line++
		case c == '\\':
			p.state, p.valueEnd = valueEscape, -1
		default:
			if !isWhite(c) {
				p.valueEnd = -1
			} else if p.valueEnd < 0 {
				p.valueEnd = len(p.value)
			}
			p.value = append(p.value, c)
		}
	case valueEscape:
		p.state = inValue
		if !isNewline(c) {
			p.value = append(p.value, c)
		}
	case singleQuote:
		if c == '\'' {
			p.state = preValue
		} else {
			p.value = append(p.value, c)
		}
	case doubleQuote:
		switch c {
		case '"':
			p.state = preValue
		case '\\':
			p.state = doubleQuoteEscape
		default:
			p.value = append(p.value, c)
		}
	case doubleQuoteEscape:
		p.state = doubleQuote
		switch {
		case strings.IndexByte("\"\\`$", c) >= 0:
			p.value = append(p.value, c)
		case c != '\n':
			p.value = append(p.value, '\\', c)
		}
	case comment:
		switch {
		case c == '\\':
			p.state = commentEscape
		case isNewline(c):
			p.state = preKey
			p.line++
		}
	case commentEscape:
		// Since systemd 254 a backslash at the end of a comment no longer continues it.
		if isNewline(c) {
			p.state = preKey
			p.line++
		} else {
			p.state = comment
		}
	}
}

// end takes the last line when the text does not end in a newline.
func (p *envParser) end() {
	switch p.state {
	case inValue:
		if p.valueEnd >= 0 {
			p.value = p.value[:p.valueEnd]
		}
		p.push()
	case preValue, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		p.push()
	}
}

func (p *envParser) push() {
	key := p.key
	if p.keyEnd >= 0 {
		key = key[:p.keyEnd]
	}
	if !utf8.Valid(key) || !utf8.Valid(p.value) {
		p.err = fmt.Errorf("line %d: not UTF-8", p.line)
		return
	}
	p.fields[string(key)] = string(p.value)
	p.key, p.value = p.key[:0], p.value[:0]
}

// resolveInRoot follows name (relative to root) and every link on its way inside root: an
// absolute link target starts again at root, and ".." never climbs above it. It returns the
// real path of the file, which need not exist.
func resolveInRoot(root, name string) (string, error) {
	todo := strings.Split(path.Clean("/"+name), "/")[1:]
	var done []string
	for links := 0; len(todo) > 0; {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(append([]string{root}, append(done, elem)...)...)
		st, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			done = append(done, elem)
			continue
		}
		if links++; links > 40 {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: errors.New("too many levels of symbolic links")}
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

// MismatchError says why a HibernateLocation is not this system's.
type MismatchError struct {
	Field    string // the os-release key compared: ID or IMAGE_ID
	Location string // what the variable says ("" absent)
	System   string // what the system's os-release says ("" absent)
	Path     string // the os-release read
	Empty    bool   // the variable has the field with an empty value
}

func (e *MismatchError) Error() string {
	show := func(s string) string {
		if s == "" {
			return "none"
		}
		return fmt.Sprintf("%q", s)
	}
	loc := show(e.Location)
	if e.Empty {
		loc = `"" (present but empty, which systemd never writes and never matches)`
	}
	return fmt.Sprintf("HibernateLocation was written by another system: its %s is %s, %s has %s; "+
		"systemd's initrd would not resume from it, and systemd-hibernate-clear would leave it in place",
		e.Field, loc, e.Path, show(e.System))
}

// MatchSystem says whether h was written by the system whose os-release is osr, as systemd's
// initrd decides it (validate_efi_hibernate_location, systemd ≥ 255): ID and IMAGE_ID must be
// equal, an absent field equal only to an absent one. It returns nil on a match and a
// *MismatchError otherwise. VERSION_ID, IMAGE_VERSION and the kernel release are not
// compared: the kernel that made the image replaces the one that loads it. (systemd 254
// also required those three to be equal.)
func (h HibernateLocation) MatchSystem(osr OSRelease) error {
	for _, f := range []struct {
		key, have string
		empty     bool
	}{
		{"ID", h.OSReleaseID, h.emptyID},
		{"IMAGE_ID", h.OSReleaseImageID, h.emptyImageID},
	} {
		sys := osr.Fields[f.key]
		if f.empty || f.have != sys {
			return &MismatchError{Field: f.key, Location: f.have, System: sys, Path: osr.Path, Empty: f.empty}
		}
	}
	return nil
}

// CheckSystem reads the os-release below root and matches h against it (MatchSystem).
// An os-release that cannot be read is an error of its own, not a mismatch.
func CheckSystem(root string, h HibernateLocation) error {
	osr, err := ReadOSRelease(root)
	if err != nil {
		return fmt.Errorf("check HibernateLocation against this system: %w", err)
	}
	return h.MatchSystem(osr)
}

// LocationFor is the HibernateLocation systemd-sleep would write for the system below root,
// hibernating to the device of file system UUID uuid at offset pages: the kernel release
// from ROOT/proc/sys/kernel/osrelease, ID, IMAGE_ID, VERSION_ID and IMAGE_VERSION from its
// os-release. systemd writes the variable without what it cannot read; here that is an error,
// because a variable without the ID of a system that has one never matches it.
func LocationFor(root, uuid string, offset uint64) (HibernateLocation, error) {
	u, err := parseUUID(uuid)
	if err != nil {
		return HibernateLocation{}, fmt.Errorf("HibernateLocation: uuid: %w", err)
	}
	rel, err := os.ReadFile(filepath.Join(root, "proc", "sys", "kernel", "osrelease"))
	if err != nil {
		return HibernateLocation{}, fmt.Errorf("HibernateLocation: kernel release: %w", err)
	}
	osr, err := ReadOSRelease(root)
	if err != nil {
		return HibernateLocation{}, fmt.Errorf("HibernateLocation: %w", err)
	}
	return HibernateLocation{
		UUID:                  u,
		Offset:                offset,
		KernelVersion:         strings.TrimSpace(string(rel)),
		OSReleaseID:           osr.Fields["ID"],
		OSReleaseImageID:      osr.Fields["IMAGE_ID"],
		OSReleaseVersionID:    osr.Fields["VERSION_ID"],
		OSReleaseImageVersion: osr.Fields["IMAGE_VERSION"],
	}, nil
}
