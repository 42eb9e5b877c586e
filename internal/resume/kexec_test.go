package resume

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The record's kernel path is read inside the boot file system only: "..", absolute paths and
// symlinks out of it resolve within it.
func TestOpenInRootStaysInside(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "bootfs")
	if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "boot", "vmlinuz-R"), []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "secret"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ name, target string }{{"vmlinuz", "boot/vmlinuz-R"}, {"escape", "../secret"}, {"abs", filepath.Join(top, "secret")}} {
		if err := os.Symlink(l.target, filepath.Join(root, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"/boot/vmlinuz-R", true}, {"boot/vmlinuz-R", true}, {"/vmlinuz", true}, {"/../boot/vmlinuz-R", true},
		{"../secret", false}, {"/../../secret", false}, {"/escape", false}, {"/abs", false},
	} {
		f, err := openInRoot(dir, tc.name)
		if !tc.ok {
			if err == nil {
				b, _ := io.ReadAll(f)
				f.Close()
				t.Errorf("openInRoot(%q) opened %q, want an error", tc.name, b)
			}
			continue
		}
		if err != nil {
			t.Errorf("openInRoot(%q): %v", tc.name, err)
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "kernel" {
			t.Errorf("openInRoot(%q) read %q", tc.name, b)
		}
	}
}
