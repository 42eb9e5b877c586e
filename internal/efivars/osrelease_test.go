package efivars

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// debianOSRelease is Debian 13's /usr/lib/os-release.
const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.1
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`

func TestParseOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
	}{
		{"Debian 13", debianOSRelease, map[string]string{
			"PRETTY_NAME": "Debian GNU/Linux 13 (trixie)", "NAME": "Debian GNU/Linux", "VERSION_ID": "13",
			"VERSION": "13 (trixie)", "VERSION_CODENAME": "trixie", "DEBIAN_VERSION_FULL": "13.1", "ID": "debian",
			"HOME_URL": "https://www.debian.org/", "SUPPORT_URL": "https://www.debian.org/support",
			"BUG_REPORT_URL": "https://bugs.debian.org/",
		}},
		{"comments and blank lines", "# ID=no\n\n  ; ID=no either\nID=yes\n", map[string]string{"ID": "yes"}},
		{"single quotes are literal", `A='a "b" \$c'` + "\n", map[string]string{"A": `a "b" \$c`}},
		{"double-quote escapes as sh", `A="\"\\\$\` + "`" + `\x"` + "\n", map[string]string{"A": `"\$` + "`" + `\x`}},
		{"unquoted backslash takes the next byte", `A=a\ b\\c\"` + "\n", map[string]string{"A": `a b\c"`}},
		{"unquoted: trailing white space dropped, inner kept", "A=  a b \t \n", map[string]string{"A": "a b"}},
		{"an escaped space is kept at the end", "A=a\\ \n", map[string]string{"A": "a "}},
		{"white space around the key", "  A \t=1\n", map[string]string{"A": "1"}},
		{"white space after a quoted value", `A="a b"   ` + "\n", map[string]string{"A": "a b"}},
		{"pieces join", `A="a"'b'c` + "\n", map[string]string{"A": "abc"}},
		{"a quote in an unquoted value is a character", `A=a"b"` + "\n", map[string]string{"A": `a"b"`}},
		{"continuation lines", "A=a\\\nb\nB=\"c\\\nd\"\n", map[string]string{"A": "ab", "B": "cd"}},
		{"a quoted value over two lines", "A=\"a\nb\"\n", map[string]string{"A": "a\nb"}},
		{"the last assignment wins", "ID=a\nID=b\n", map[string]string{"ID": "b"}},
		{"an empty value is no value", "ID=\nIMAGE_ID=\"\"\n", map[string]string{"ID": "", "IMAGE_ID": ""}},
		{"no newline at the end", "ID=x", map[string]string{"ID": "x"}},
		{"open quote at the end", `ID="x`, map[string]string{"ID": "x"}},
		{"a line without '=' is skipped", "garbage\nID=x\n", map[string]string{"ID": "x"}},
		{"CRLF", "ID=x\r\nVERSION_ID=\"1\"\r\n", map[string]string{"ID": "x", "VERSION_ID": "1"}},
		{"a NUL ends the text", "ID=x\n\x00ID=y\n", map[string]string{"ID": "x"}},
		{"a comment's trailing backslash does not continue it (systemd ≥ 254)", "# a \\\nID=x\n", map[string]string{"ID": "x"}},
		{"UTF-8", "NAME=\"Café 🚀\"\n", map[string]string{"NAME": "Café 🚀"}},
	} {
		got, err := ParseOSRelease([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	if _, err := ParseOSRelease([]byte("ID=x\nNAME=\"\xff\"\n")); err == nil || !strings.Contains(err.Error(), "line 2: not UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		wantID   string
		wantPath string // below the root
	}{
		{"etc first", map[string]string{"etc/os-release": "ID=etc\n", "usr/lib/os-release": "ID=usr\n"}, "etc", "etc/os-release"},
		{"usr/lib when etc has none", map[string]string{"usr/lib/os-release": "ID=usr\n"}, "usr", "usr/lib/os-release"},
		{"relative link", map[string]string{"etc/os-release": "->../usr/lib/os-release", "usr/lib/os-release": "ID=usr\n"}, "usr", "usr/lib/os-release"},
		// The host's own /usr/lib/os-release must not be read: the link is followed inside root.
		{"absolute link stays in the root", map[string]string{"etc/os-release": "->/usr/lib/os-release", "usr/lib/os-release": "ID=fakeos\n"}, "fakeos", "usr/lib/os-release"},
		{"link through a linked folder", map[string]string{"etc/os-release": "->/lib/os-release", "lib": "->usr/lib", "usr/lib/os-release": "ID=x\n"}, "x", "usr/lib/os-release"},
		{"'..' does not climb out", map[string]string{"etc/os-release": "->../../../../usr/lib/os-release", "usr/lib/os-release": "ID=x\n"}, "x", "usr/lib/os-release"},
		{"dangling link falls back", map[string]string{"etc/os-release": "->/nowhere", "usr/lib/os-release": "ID=usr\n"}, "usr", "usr/lib/os-release"},
	} {
		root := t.TempDir()
		writeTree(t, root, tc.files)
		osr, err := ReadOSRelease(root)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if osr.Fields["ID"] != tc.wantID || osr.Path != filepath.Join(root, tc.wantPath) {
			t.Errorf("%s: read %s ID=%q, want %s ID=%q", tc.name, osr.Path, osr.Fields["ID"], tc.wantPath, tc.wantID)
		}
	}

	root := t.TempDir()
	if _, err := ReadOSRelease(root); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no os-release") {
		t.Errorf("no os-release: %v", err)
	}
	writeTree(t, root, map[string]string{"etc/os-release": "->os-release"})
	if _, err := ReadOSRelease(root); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("link loop: %v", err)
	}
	root = t.TempDir()
	writeTree(t, root, map[string]string{"etc/os-release": "ID=\"\xff\"\n"})
	if _, err := ReadOSRelease(root); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "etc/os-release")) {
		t.Errorf("bad os-release: %v, want an error naming it", err)
	}
}

func TestMatchSystem(t *testing.T) {
	osr := func(fields map[string]string) OSRelease { return OSRelease{Path: "/etc/os-release", Fields: fields} }
	debian := osr(map[string]string{"ID": "debian", "VERSION_ID": "13"})
	for _, tc := range []struct {
		name    string
		h       HibernateLocation
		sys     OSRelease
		wantErr string
	}{
		{"same system", debian13, debian, ""},
		{"another VERSION_ID, another kernel: still a match (systemd ≥ 255)",
			HibernateLocation{UUID: debian13.UUID, OSReleaseID: "debian", OSReleaseVersionID: "12", KernelVersion: "6.1.0-1-amd64"}, debian, ""},
		{"neither has an ID", HibernateLocation{UUID: debian13.UUID}, osr(map[string]string{}), ""},
		{"an empty ID is no ID", HibernateLocation{UUID: debian13.UUID}, osr(map[string]string{"ID": ""}), ""},
		{"another ID", fedoraSwapfile, debian, `its ID is "fedora", /etc/os-release has "debian"`},
		{"the variable has no ID", HibernateLocation{UUID: debian13.UUID}, debian, `its ID is none, /etc/os-release has "debian"`},
		{"the system has no ID", debian13, osr(map[string]string{}), `its ID is "debian", /etc/os-release has none`},
		{"IMAGE_ID differs", imageBased, osr(map[string]string{"ID": "particle", "IMAGE_ID": "particleos-server"}),
			`its IMAGE_ID is "particleos-desktop", /etc/os-release has "particleos-server"`},
		{"IMAGE_ID missing on the system", imageBased, osr(map[string]string{"ID": "particle"}), `its IMAGE_ID is "particleos-desktop"`},
		{"an empty osReleaseId matches nothing", HibernateLocation{UUID: debian13.UUID, emptyID: true}, osr(map[string]string{}), "present but empty"},
	} {
		err := tc.h.MatchSystem(tc.sys)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr != "":
			var m *MismatchError
			if !errors.As(err, &m) {
				t.Errorf("%s: %T is not a *MismatchError", tc.name, err)
			}
		}
	}
}

func TestCheckSystemAndLocationFor(t *testing.T) {
	root := t.TempDir()
	if err := CheckSystem(root, debian13); err == nil || !strings.Contains(err.Error(), "no os-release") {
		t.Errorf("no os-release: %v", err)
	}
	if _, err := LocationFor(root, debian13.UUID, 0); err == nil {
		t.Error("LocationFor without a kernel release or os-release succeeded")
	}
	writeTree(t, root, map[string]string{
		"usr/lib/os-release":        debianOSRelease,
		"etc/os-release":            "->../usr/lib/os-release",
		"proc/sys/kernel/osrelease": "6.12.48+deb13-amd64\n",
	})
	if err := CheckSystem(root, debian13); err != nil {
		t.Errorf("CheckSystem: %v", err)
	}
	if err := CheckSystem(root, fedoraSwapfile); err == nil {
		t.Error("a Fedora location matched a Debian system")
	}
	h, err := LocationFor(root, strings.ToUpper(debian13.UUID), 0)
	if err != nil || !reflect.DeepEqual(h, debian13) {
		t.Errorf("LocationFor = %+v, %v; want %+v", h, err, debian13)
	}
	if _, err := LocationFor(root, "nope", 0); err == nil {
		t.Error("LocationFor took a bad UUID")
	}
}

// FuzzParseOSRelease: the os-release parser never panics, and what it returns is UTF-8.
func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte(debianOSRelease))
	f.Add([]byte("A='x'\"y\\\"\\q\"z\\\n# c \\\nB=\r\nC= d \\ \x00E=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := ParseOSRelease(b)
		if err != nil {
			return
		}
		for k, v := range fields {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("%q=%q from %q is not UTF-8", k, v, b)
			}
		}
	})
}
