package modules

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// realDir returns lib/modules/R of Debian 12's kernel unpacked in the test cache
// (testutil.KernelCache()/bookworm, filled by make kernels), or skips the test saying why.
func realDir(tb testing.TB, flavour string) string {
	tb.Helper()
	pattern := filepath.Join(testutil.KernelCache(), "bookworm", "*", "lib", "modules", "6.1.*-"+flavour)
	matches, _ := filepath.Glob(pattern)
	// "amd64" also matches nothing but itself: "cloud-amd64" dirs end in "-cloud-amd64".
	matches = slices.DeleteFunc(matches, func(m string) bool {
		return flavour == "amd64" && strings.HasSuffix(m, "-cloud-amd64")
	})
	if len(matches) == 0 {
		tb.Skipf("no unpacked Debian 6.1 %s kernel modules at %s (dpkg-deb -x a linux-image .deb there)", flavour, pattern)
	}
	slices.Sort(matches)
	return matches[len(matches)-1]
}

func TestRealClosureAMD64(t *testing.T) {
	dir := realDir(t, "amd64")
	t0 := time.Now()
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Scan(%s): %d modules in %v", dir, ix.Len(), time.Since(t0))

	mods, builtin, err := ix.Closure("virtio_pci", "virtio_blk", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
		if _, err := os.Stat(filepath.Join(dir, m.Path)); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	t.Logf("order: %s; built-in: %v", strings.Join(names, " "), builtin)
	pos := func(n string) int {
		i := slices.Index(names, n)
		if i < 0 {
			t.Fatalf("%s missing from %v", n, names)
		}
		return i
	}
	before := func(a, b string) {
		if pos(a) >= pos(b) {
			t.Errorf("%s must come before %s: %v", a, b, names)
		}
	}
	for _, d := range []string{"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev"} {
		before(d, "virtio_pci")
	}
	before("virtio_ring", "virtio_blk")
	before("virtio", "virtio_blk")
	for _, d := range []string{"jbd2", "mbcache", "crc16", "crc32c_generic"} {
		before(d, "ext4")
	}
	if slices.Contains(names, "crc32c_intel") {
		t.Errorf("crc32c_intel chosen for crypto-crc32c; want only crc32c_generic: %v", names)
	}
	if len(names) != len(slices.Compact(slices.Clone(names))) {
		t.Errorf("duplicates in %v", names)
	}

	// Same inputs, same order.
	again, _, err := ix.Closure("virtio_pci", "virtio_blk", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i].Name != mods[i].Name {
			t.Fatalf("second Closure differs at %d: %s vs %s", i, again[i].Name, mods[i].Name)
		}
	}
	ix2, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	third, _, _ := ix2.Closure("virtio_pci", "virtio_blk", "ext4")
	for i := range third {
		if third[i].Name != mods[i].Name {
			t.Fatalf("Closure after a second Scan differs at %d: %s vs %s", i, third[i].Name, mods[i].Name)
		}
	}

	// An alias that is not a module name, and a name spelt with '-'.
	if m, ok := ix.Lookup("crypto-crc32c"); !ok || m.Name != "crc32c_generic" {
		t.Errorf("Lookup(crypto-crc32c) = %v, %v; want crc32c_generic", m.Name, ok)
	}
	if m, ok := ix.Lookup("crc32c-intel"); !ok || m.Name != "crc32c_intel" {
		t.Errorf("Lookup(crc32c-intel) = %v, %v", m.Name, ok)
	}
	if _, _, err := ix.Closure("no_such_module_xyz"); err == nil || !strings.Contains(err.Error(), "no_such_module_xyz") || !strings.Contains(err.Error(), dir) {
		t.Errorf("unknown module: err = %v; want one naming the module and %s", err, dir)
	}
}

// Every module of the real tree has a closure: no cycles, no missing dependencies.
func TestRealClosureOfEveryModule(t *testing.T) {
	dir := realDir(t, "amd64")
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range ix.mods {
		if _, _, err := ix.Closure(name); err != nil {
			t.Errorf("%s (%s): %v", name, m.Path, err)
		}
	}
}

func TestRealCloudExt4Builtin(t *testing.T) {
	dir := realDir(t, "cloud-amd64")
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	mods, builtin, err := ix.Closure("virtio_pci", "virtio_blk", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	t.Logf("cloud order: %v; built-in: %v", names, builtin)
	if !slices.Contains(builtin, "ext4") {
		t.Errorf("ext4 not reported built-in: %v", builtin)
	}
	if slices.Contains(names, "ext4") {
		t.Errorf("ext4 in the load list although built in: %v", names)
	}
	if m, ok := ix.Lookup("ext4"); !ok || !m.Builtin || m.Path != "" {
		t.Errorf("Lookup(ext4) = %+v, %v; want Builtin", m, ok)
	}
}

// BenchmarkScan scans the real 6.1 tree, or the one named by
// $HIBERNATE_BENCH_MODULES_DIR (for example a copy with every module
// xz-compressed, as 6.12 ships them).
func BenchmarkScan(b *testing.B) {
	dir := os.Getenv("HIBERNATE_BENCH_MODULES_DIR")
	if dir == "" {
		dir = realDir(b, "amd64")
	}
	for b.Loop() {
		if _, err := Scan(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// Real modules compressed as Debian 12's 6.12 kernels ship them (.ko.xz) and as
// other distributions do (.ko.zst) read the same as the plain .ko.
func TestRealCompressedModules(t *testing.T) {
	dir := realDir(t, "amd64")
	plain, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(tmp, "modules.builtin"), nil, 0o644)
	want := map[string]Module{}
	for name, kind := range map[string]string{"virtio_ring": "xz", "virtio": "zst", "crc16": "xz"} {
		m, ok := plain.Lookup(name)
		if !ok {
			t.Fatalf("%s not in %s", name, dir)
		}
		raw, err := os.ReadFile(filepath.Join(dir, m.Path))
		if err != nil {
			t.Fatal(err)
		}
		rel := m.Path + "." + kind
		p := filepath.Join(tmp, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, compress(t, kind, raw), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Decompress(p)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("Decompress(%s): %v (equal %v)", rel, err, bytes.Equal(got, raw))
		}
		m.Path = rel
		want[name] = m
	}
	ix, err := Scan(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if got, ok := ix.Lookup(name); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %+v\nwant %+v", name, got, w)
		}
	}
}

// debian13Dir returns the module folder of Debian 13's kernel unpacked in the test cache
// (fetch-kernel.sh trixie-amd64: kernels/trixie/R, its modules in usr/lib/modules/R), or skips
// the test saying why.
func debian13Dir(tb testing.TB) string {
	tb.Helper()
	pattern := filepath.Join(testutil.KernelCache(), "trixie", "6.12.*-amd64")
	matches, _ := filepath.Glob(pattern)
	if len(matches) == 0 {
		tb.Skipf("no unpacked Debian 13 kernel at %s: run qemu-tests/scripts/fetch-kernel.sh trixie-amd64", pattern)
	}
	slices.Sort(matches)
	pkg := matches[len(matches)-1]
	dir, err := FindDir(pkg, filepath.Base(pkg))
	if err != nil {
		tb.Fatal(err)
	}
	if want := filepath.Join(pkg, "usr/lib/modules", filepath.Base(pkg)); dir != want {
		tb.Fatalf("FindDir(%s) = %s, want %s (merged /usr)", pkg, dir, want)
	}
	return dir
}

// Debian 13's 6.12 ships every module as .ko.xz, and virtio_pci built in: Scan reads them all,
// every one has its closure, and the storage set comes out in load order, each module
// decompressing to the ELF file its .modinfo names.
func TestRealDebian13Modules(t *testing.T) {
	dir := debian13Dir(t)
	t0 := time.Now()
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Scan(%s): %d modules in %v", dir, ix.Len(), time.Since(t0))
	xz, other := 0, []string{}
	for name, m := range ix.mods {
		switch {
		case m.Builtin:
		case strings.HasSuffix(m.Path, ".ko.xz"):
			xz++
		default:
			other = append(other, m.Path)
		}
		if _, _, err := ix.Closure(name); err != nil {
			t.Errorf("%s (%s): %v", name, m.Path, err)
		}
	}
	if xz < 1000 || len(other) > 0 {
		t.Errorf("%d .ko.xz modules; others: %v", xz, other)
	}
	mods, builtin, err := ix.Closure("virtio_pci", "virtio_blk", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(builtin, "virtio_pci") {
		t.Errorf("virtio_pci not built in: %v", builtin)
	}
	var order []string
	for _, m := range mods {
		for _, d := range ix.Needs(m) {
			if !slices.Contains(order, d) {
				t.Errorf("%s comes before %s, which it needs: %v", m.Name, d, order)
			}
		}
		order = append(order, m.Name)
		raw, err := Decompress(filepath.Join(dir, m.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte("\x7fELF")) || !bytes.Contains(raw, []byte("name="+m.Name+"\x00")) {
			t.Errorf("%s decompressed (%d bytes) is not the ELF module named %s", m.Path, len(raw), m.Name)
		}
	}
	for _, n := range []string{"virtio_blk", "ext4", "jbd2", "mbcache"} {
		if !slices.Contains(order, n) {
			t.Errorf("%s not in the load order %v", n, order)
		}
	}
	t.Logf("order: %s; built-in: %v", strings.Join(order, " "), builtin)
}
