package modules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FindDir takes a module folder as it is, or finds it below a root or an unpacked package:
// lib/modules/R (Debian 12) or usr/lib/modules/R (Debian 13, merged /usr).
func TestFindDir(t *testing.T) {
	const rel = "6.12.117+deb13-amd64"
	for _, tc := range []struct {
		name  string
		files []string // below the tree, each made with a modules.builtin
		dir   string   // what FindDir is given, below the tree
		rel   string
		want  string // below the tree; "" for an error
	}{
		{"Debian 12 package", []string{"lib/modules/" + rel}, "", rel, "lib/modules/" + rel},
		{"Debian 13 package (merged /usr)", []string{"usr/lib/modules/" + rel}, "", rel, "usr/lib/modules/" + rel},
		{"both: lib first, as kmod", []string{"lib/modules/" + rel, "usr/lib/modules/" + rel}, "", rel, "lib/modules/" + rel},
		{"the module folder itself", []string{"usr/lib/modules/" + rel}, "usr/lib/modules/" + rel, rel, "usr/lib/modules/" + rel},
		{"the module folder of another release, named", []string{"lib/modules/6.1.0-57-amd64"}, "lib/modules/6.1.0-57-amd64", rel, "lib/modules/6.1.0-57-amd64"},
		{"another release only", []string{"usr/lib/modules/6.1.0-57-amd64"}, "", rel, ""},
		{"nothing", nil, "", rel, ""},
		{"no release: the folder itself only", []string{"lib/modules/" + rel}, "", "", ""},
		{"a release that climbs out", []string{"lib/modules/x"}, "lib/modules/y", "../x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tc.files {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, d, "modules.builtin"), []byte("kernel/fs/ext4/ext4.ko\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := FindDir(filepath.Join(root, tc.dir), tc.rel)
			if tc.want == "" {
				if err == nil || !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("FindDir = %q, %v; want an error that wraps fs.ErrNotExist", got, err)
				}
				t.Logf("said: %v", err)
				return
			}
			if err != nil || got != filepath.Join(root, tc.want) {
				t.Fatalf("FindDir = %q, %v; want %s", got, err, filepath.Join(root, tc.want))
			}
		})
	}
}

// A folder named modules.builtin is no module folder.
func TestFindDirWantsAFile(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/modules/R/modules.builtin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindDir(root, "R"); err == nil {
		t.Fatalf("FindDir = %q, want an error", got)
	}
}
