package debroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseOneLine(t *testing.T) {
	got := parseOneLine(`# comment
deb http://mirror.example/debian bookworm main contrib # trailing
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://other.example/debian bookworm-updates main
deb-src http://mirror.example/debian bookworm main
deb broken
`)
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(got), got)
	}
	if got[0].URIs[0] != "http://mirror.example/debian" || got[0].Suites[0] != "bookworm" || strings.Join(got[0].Components, ",") != "main,contrib" {
		t.Errorf("first entry %+v", got[0])
	}
	if got[1].URIs[0] != "http://other.example/debian" || got[1].Suites[0] != "bookworm-updates" {
		t.Errorf("options not skipped: %+v", got[1])
	}
}

func TestParseDeb822(t *testing.T) {
	got := parseDeb822(`Types: deb
# a snapshot, commented out
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no
`)
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1 (deb-src and Enabled: no left out): %+v", len(got), got)
	}
	if uri, ok := pickMirror(got, "bookworm"); !ok || uri != "http://mirror.example/debian" {
		t.Errorf("pickMirror = %q, %v", uri, ok)
	}
	if _, ok := pickMirror(got, "trixie"); ok {
		t.Error("pickMirror found a trixie mirror in bookworm entries")
	}
}

func TestMirrorFromApt(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sources.list.d", "a.sources"),
		[]byte("Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"+
			"Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n"), 0o644)
	got, err := MirrorFromApt(dir, "bookworm")
	if err != nil || got != "http://mirror.example/debian" {
		t.Fatalf("MirrorFromApt = %q, %v", got, err)
	}
	// Another release comes from the same Debian mirror, not from the security archive.
	if got, err := MirrorFromApt(dir, "trixie"); err != nil || got != "http://mirror.example/debian" {
		t.Errorf("MirrorFromApt(trixie) = %q, %v", got, err)
	}
	if _, err := MirrorFromApt(t.TempDir(), "bookworm"); err == nil {
		t.Error("no sources: no error")
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "sources.list"), []byte("deb http://repo.example/node nodistro main\n"), 0o644)
	if got, err := MirrorFromApt(other, "trixie"); err == nil {
		t.Errorf("a third party's main taken for Debian's: %q", got)
	}
}

func TestKeys(t *testing.T) {
	a := SystemdGuest()
	b := SystemdGuest()
	b.Include = append([]string(nil), b.Include...)
	for i, j := 0, len(b.Include)-1; i < j; i, j = i+1, j-1 { // the same packages in another order
		b.Include[i], b.Include[j] = b.Include[j], b.Include[i]
	}
	b.Mirror, b.CacheDir = "http://elsewhere.example/debian", "/elsewhere"
	if a.Key() != b.Key() || a.baseKey() != b.baseKey() {
		t.Errorf("package order, mirror or cache folder changed the key")
	}
	c := SystemdGuest()
	c.Files = append(c.Files, File{Path: "etc/motd", Data: "hi\n"})
	if c.Key() == a.Key() {
		t.Error("another file, the same key")
	}
	if c.baseKey() != a.baseKey() {
		t.Error("a file changed the base key: the packages would be downloaded again")
	}
	d := SystemdGuest()
	d.Include = append(d.Include, "procps")
	if d.baseKey() == a.baseKey() {
		t.Error("another package, the same base key")
	}
}

func TestWriteFileReplacesHardLink(t *testing.T) {
	dir := t.TempDir()
	base, tree := filepath.Join(dir, "base"), filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(base, "etc"), 0o755)
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(base, "etc/fstab"), []byte("old\n"), 0o644)
	if err := os.Link(filepath.Join(base, "etc/fstab"), filepath.Join(tree, "etc/fstab")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(tree, File{Path: "etc/fstab", Data: "new\n", Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "etc/fstab")); string(b) != "old\n" {
		t.Errorf("the base's file became %q", b)
	}
	st, err := os.Stat(filepath.Join(tree, "etc/fstab"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v, %v", st, err)
	}
	if err := WriteFile(tree, File{Path: "etc/x/link", Link: "/dev/null"}); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(tree, "etc/x/link")); l != "/dev/null" {
		t.Errorf("symlink to %q", l)
	}
}

func TestEmptyRootPassword(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/shadow"), []byte("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"), 0o640)
	if err := emptyRootPassword(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "etc/shadow"))
	if string(b) != "root::19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n" {
		t.Errorf("shadow is %q", b)
	}
}

func TestCheckRel(t *testing.T) {
	for _, p := range []string{"", "/etc/fstab", "../x", "etc/../../x", "etc//fstab"} {
		if checkRel(p) == nil {
			t.Errorf("checkRel(%q) accepted", p)
		}
	}
	if err := checkRel("etc/fstab"); err != nil {
		t.Error(err)
	}
}

// TestEnsureSystemdGuest builds (or finds) the systemd guest's root: a cold build runs
// debootstrap and downloads about 150 MiB of packages, so it runs only with HIBERNATE_E2E=1.
func TestEnsureSystemdGuest(t *testing.T) {
	start := time.Now()
	r := ensure(t, SystemdGuest())
	t.Logf("root %s (built %v, debootstrap %s, whole %s), kernels %v", r.Dir, r.Built, r.Took, time.Since(start), r.Kernels)
	if len(r.Kernels) == 0 {
		t.Error("no kernel under lib/modules")
	}
	for _, p := range []string{"lib/systemd/systemd", "etc/systemd/system/" + AgentUnit, "etc/systemd/system/multi-user.target.wants/" + DemoJobUnit} {
		if _, err := os.Lstat(filepath.Join(r.Dir, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.Dir, sysPlaceholder)); err == nil {
		t.Errorf("%s left in the root", sysPlaceholder)
	}
}

// TestEnsureSystemdMDGuest builds (or finds) the md RAID guest's root, as TestEnsureSystemdGuest.
func TestEnsureSystemdMDGuest(t *testing.T) {
	r := ensure(t, SystemdMDGuest())
	t.Logf("root %s (built %v, debootstrap %s), kernels %v", r.Dir, r.Built, r.Took, r.Kernels)
	for _, p := range []string{"sbin/mdadm", "usr/share/initramfs-tools/hooks/mdadm"} {
		if _, err := os.Lstat(filepath.Join(r.Dir, p)); err != nil {
			t.Error(err)
		}
	}
}

// ensure builds (or finds) the root of s, with HIBERNATE_E2E=1 and as root only.
func ensure(t *testing.T, s Spec) Root {
	t.Helper()
	if os.Getenv("HIBERNATE_E2E") != "1" {
		t.Skip("downloads Debian packages: run with HIBERNATE_E2E=1 (make e2e)")
	}
	if os.Getuid() != 0 {
		t.Skip("debootstrap needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	r, err := Ensure(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
