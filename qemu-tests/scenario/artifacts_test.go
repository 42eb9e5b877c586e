package scenario

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// fetch-kernel.sh's prune_older leaves one release of the flavour fetched (and its package),
// and the other flavours' kernels as they were (a .tmp is another fetch's, perhaps running). Its functions are run alone (sed cuts them out
// of the script), on a fake cache: the script itself would run apt.
func TestFetchKernelPrunesOlderReleases(t *testing.T) {
	root, err := FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	for _, p := range []string{
		"6.1.0-41-amd64/.done", "6.1.0-50-amd64/.done", "6.1.0-57-amd64.tmp/x", "6.1.0-41-cloud-amd64/.done",
		"6.1.0-50-cloud-amd64/.done", "debs/linux-image-6.1.0-41-amd64_6.1.158-1_amd64.deb",
		"debs/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb", "debs/linux-image-6.1.0-41-cloud-amd64_6.1.158-1_amd64.deb",
		"apt/lists/x",
	} {
		p = filepath.Join(base, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(root, "qemu-tests/scripts/fetch-kernel.sh")
	sh := `set -euo pipefail; source <(sed -n '/^flavour_of() {/,/^}/p; /^prune_older() {/,/^}/p' "$1"); ` +
		`base=$2 flavour=amd64 release=6.1.0-50-amd64; prune_older`
	out, err := exec.Command("bash", "-c", sh, "bash", script, base).CombinedOutput()
	if err != nil {
		t.Fatalf("prune_older: %v: %s", err, out)
	}
	var left []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			left = append(left, rel)
		}
		return nil
	})
	want := []string{
		"6.1.0-41-cloud-amd64/.done", "6.1.0-50-amd64/.done", "6.1.0-50-cloud-amd64/.done", "6.1.0-57-amd64.tmp/x", "apt/lists/x",
		"debs/linux-image-6.1.0-41-cloud-amd64_6.1.158-1_amd64.deb", "debs/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb",
	}
	if !slices.Equal(left, want) {
		t.Errorf("left in the cache:\n%s\nwant:\n%s\n(prune_older said: %s)", strings.Join(left, "\n"), strings.Join(want, "\n"), out)
	}
	if !strings.Contains(string(out), "removing 6.1.0-41-amd64") {
		t.Errorf("prune_older did not say what it removed: %q", out)
	}
}
