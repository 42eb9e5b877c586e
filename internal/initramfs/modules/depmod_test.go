package modules

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// writeDepmod writes modules.dep, modules.softdep and modules.alias for ix, as depmod would,
// into a copy of ix's folder (the module tree and the built-in lists linked, not copied).
func writeDepmod(t *testing.T, ix *Index) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Abs(ix.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"kernel", "modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		if _, err := os.Stat(filepath.Join(src, n)); err == nil {
			if err := os.Symlink(filepath.Join(src, n), filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var names []string
	for n, m := range ix.mods {
		if !m.Builtin {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var dep, soft, alias strings.Builder
	for _, n := range names {
		m := ix.mods[n]
		var deps []string
		for _, d := range m.Depends {
			if dm, ok := ix.mods[d]; ok && !dm.Builtin {
				deps = append(deps, dm.Path)
			}
		}
		fmt.Fprintf(&dep, "%s: %s\n", m.Path, strings.Join(deps, " "))
		if len(m.SoftPre)+len(m.SoftPost) > 0 {
			fmt.Fprintf(&soft, "softdep %s pre: %s post: %s\n", n, strings.Join(m.SoftPre, " "), strings.Join(m.SoftPost, " "))
		}
		for _, a := range m.Aliases {
			fmt.Fprintf(&alias, "alias %s %s\n", a, n)
		}
	}
	for name, b := range map[string]string{"modules.dep": dep.String(), "modules.softdep": soft.String(), "modules.alias": alias.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// With depmod's files present, Scan reads them and gives the same load order as reading every
// module's .modinfo.
func TestDepmodFilesGiveTheSameClosure(t *testing.T) {
	dir := realDir(t, "amd64")
	full, err := ScanModinfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := Scan(writeDepmod(t, full))
	if err != nil {
		t.Fatal(err)
	}
	if fast.Len() != full.Len() {
		t.Fatalf("%d modules from modules.dep, %d from .modinfo", fast.Len(), full.Len())
	}
	for _, set := range [][]string{{"virtio_pci", "virtio_blk", "ext4"}, {"ahci", "sd_mod", "nvme"}, {"btrfs"}, {"dm_crypt"}} {
		a, ab, err := full.Closure(set...)
		if err != nil {
			t.Fatal(err)
		}
		b, bb, err := fast.Closure(set...)
		if err != nil {
			t.Fatalf("%v from modules.dep: %v", set, err)
		}
		if !reflect.DeepEqual(names(a), names(b)) || !reflect.DeepEqual(ab, bb) {
			t.Errorf("%v:\n .modinfo    %v %v\n modules.dep %v %v", set, names(a), ab, names(b), bb)
		}
	}
}

func TestDepmodErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.builtin"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("kernel/a.ko kernel/b.ko\n"), 0o644)
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Scan of a bad modules.dep = %v, want the line named", err)
	}
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.softdep"), []byte("# comment\nsoftdep a pre: c\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.alias"), []byte("alias c-alias b\n"), 0o644)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := ix.Closure("c-alias", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(ms), " "); got != "b a" {
		t.Fatalf("closure %q, want b a", got)
	}
}

// An alias of modules.alias is normalised as kmod does: '-' stays inside a [...] class, so a
// device pattern keeps its range (usb quirk tables have them).
func TestDepmodAliasKeepsRanges(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.builtin"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("kernel/b.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.alias"), []byte("alias usb:v05ACp*d01[0-9]*dc*-x b\n"), 0o644)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ix.Lookup("b")
	if got := strings.Join(DeviceAliases(m), " "); got != "usb:v05ACp*d01[0-9]*dc*_x" {
		t.Errorf("device aliases %q, want the range kept and the '-' outside it made '_'", got)
	}
}
