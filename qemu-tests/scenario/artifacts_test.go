package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitFlavour(t *testing.T) {
	for _, tc := range []struct{ in, suite, flavour string }{
		{"amd64", "", "amd64"},
		{"cloud-amd64", "", "cloud-amd64"},
		{"rt-amd64", "", "rt-amd64"},
		{"trixie-amd64", "trixie", "amd64"},
		{"trixie-cloud-amd64", "trixie", "cloud-amd64"},
		{"-amd64", "", "-amd64"},
		{"trixie-arm64", "", "trixie-arm64"},
		{"", "", ""},
	} {
		if s, f := SplitFlavour(tc.in); s != tc.suite || f != tc.flavour {
			t.Errorf("SplitFlavour(%q) = %q, %q; want %q, %q", tc.in, s, f, tc.suite, tc.flavour)
		}
	}
}

// FindKernel finds this machine's kernels in the cache and a suite's in its folder, never one
// for the other (6.12 sorts after 6.1.0), and the modules where each package keeps them.
func TestFindKernel(t *testing.T) {
	cache := t.TempDir()
	kernel := func(dir, modules string) {
		rel := filepath.Base(dir)
		for p, data := range map[string]string{
			".done": "", ".version": "1.2-3\n", "boot/vmlinuz-" + rel: "bzImage",
			filepath.Join(modules, rel, "modules.builtin"): "kernel/fs/ext4/ext4.ko\n",
		} {
			p = filepath.Join(cache, dir, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	kernel("6.1.0-57-amd64", "lib/modules")
	kernel("6.1.0-57-cloud-amd64", "lib/modules")
	kernel("6.1.0-57-rt-amd64", "lib/modules")
	kernel("trixie/6.12.117+deb13-amd64", "usr/lib/modules")
	kernel("trixie/6.12.117+deb13-cloud-amd64", "usr/lib/modules")
	for _, tc := range []struct {
		flavour, dir, modules, suite string
	}{
		{"amd64", "6.1.0-57-amd64", "lib/modules", ""},
		{"cloud-amd64", "6.1.0-57-cloud-amd64", "lib/modules", ""},
		{"rt-amd64", "6.1.0-57-rt-amd64", "lib/modules", ""},
		{"trixie-amd64", "trixie/6.12.117+deb13-amd64", "usr/lib/modules", "trixie"},
		{"trixie-cloud-amd64", "trixie/6.12.117+deb13-cloud-amd64", "usr/lib/modules", "trixie"},
	} {
		k, err := FindKernel(cache, tc.flavour)
		rel := filepath.Base(tc.dir)
		want := Kernel{Release: rel, Suite: tc.suite, Version: "1.2-3", Image: filepath.Join(cache, tc.dir, "boot/vmlinuz-"+rel),
			ModulesDir: filepath.Join(cache, tc.dir, tc.modules, rel)}
		if err != nil || k != want {
			t.Errorf("FindKernel(%s) = %+v, %v\nwant %+v", tc.flavour, k, err, want)
		}
	}
	_, err := FindKernel(cache, "forky-amd64")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(cache, "forky")) || !strings.Contains(err.Error(), "fetch-kernel.sh forky-amd64") {
		t.Errorf("FindKernel(forky-amd64): %v; want where it looked and the command that fetches it", err)
	}
	// An unpacked package without its modules is named, not taken.
	if err := os.RemoveAll(filepath.Join(cache, "trixie/6.12.117+deb13-amd64/usr")); err != nil {
		t.Fatal(err)
	}
	if k, err := FindKernel(cache, "trixie-amd64"); err == nil || !strings.Contains(err.Error(), "no module folder of kernel 6.12.117+deb13-amd64") {
		t.Errorf("FindKernel without modules = %+v, %v; want the missing module folder said", k, err)
	}
}
