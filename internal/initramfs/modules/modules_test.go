package modules

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// elfWithModinfo returns a minimal ELF64 relocatable object (what a .ko is)
// with three sections: the null one, .modinfo holding entries ("key=value"
// each NUL-terminated, as modpost writes them), and .shstrtab.
func elfWithModinfo(entries ...string) []byte {
	var modinfo []byte
	for _, e := range entries {
		modinfo = append(append(modinfo, e...), 0)
	}
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modinfoOff := uint64(ehsize)
	shstrOff := modinfoOff + uint64(len(modinfo))
	shoff := (shstrOff + uint64(len(shstrtab)) + 7) &^ 7

	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(modinfo)
	b.Write(shstrtab)
	b.Write(make([]byte, shoff-uint64(b.Len())))
	secs := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: modinfoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	binary.Write(&b, binary.LittleEndian, secs)
	return b.Bytes()
}

func compress(t testing.TB, kind string, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch kind {
	case "":
		return raw
	case "xz":
		// The kernel's in-kernel xz decompressor wants CRC32 checks; so does kmod's output.
		w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case "zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case "gz":
		w := gzip.NewWriter(&b)
		w.Write(raw)
		w.Close()
	default:
		t.Fatalf("unknown compression %q", kind)
	}
	return b.Bytes()
}

// tree is a synthetic lib/modules/R: relative path -> .modinfo entries. A path
// "modules.builtin" or "modules.builtin.modinfo" is written as given (joined by
// "\n" or "\0").
type tree map[string][]string

func (tr tree) write(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := tr["modules.builtin"]; !ok {
		tr["modules.builtin"] = nil
	}
	for rel, entries := range tr {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var data []byte
		switch rel {
		case "modules.builtin":
			data = []byte(strings.Join(entries, "\n") + "\n")
		case "modules.builtin.modinfo":
			data = []byte(strings.Join(entries, "\x00") + "\x00")
		default:
			data = compress(t, compression(rel), elfWithModinfo(entries...))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(mods []Module) []string {
	var n []string
	for _, m := range mods {
		n = append(n, m.Name)
	}
	return n
}

func TestParseModinfo(t *testing.T) {
	data := []byte("softdep=pre: crypto-crc32c\x00license=GPL\x00alias=fs-ext4\x00\x00\x00alias=ext3\x00" +
		"depends=jbd2,mbcache,crc16\x00name=ext4\x00softdep=pre: a-b post: c\x00parm=x:y=z\x00")
	got, err := parseModinfo(data)
	if err != nil {
		t.Fatal(err)
	}
	want := modinfo{
		name:     "ext4",
		depends:  []string{"jbd2", "mbcache", "crc16"},
		softPre:  []string{"crypto_crc32c", "a_b"},
		softPost: []string{"c"},
		aliases:  []string{"fs_ext4", "ext3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := parseModinfo([]byte("name=x\x00garbage\x00")); err == nil {
		t.Error("entry without '=': no error")
	}
	if got, err := parseModinfo([]byte("depends=\x00")); err != nil || len(got.depends) != 0 {
		t.Errorf("empty depends: %+v, %v", got, err)
	}
}

func TestNormalizeAlias(t *testing.T) {
	for in, want := range map[string]string{
		"crypto-crc32c":              "crypto_crc32c",
		"pci:v*d*sv*sd*bc01sc[0-9]*": "pci:v*d*sv*sd*bc01sc[0-9]*",
		"a-b[x-y]c-d":                "a_b[x-y]c_d",
	} {
		if got := normalizeAlias(in); got != want {
			t.Errorf("normalizeAlias(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosureSynthetic(t *testing.T) {
	dir := tree{
		// No name= entry: the name comes from the file name, '-' -> '_'.
		"kernel/fs/top-fs.ko":          {"depends=mid_a,mid-b", "softdep=pre: crypto-foo missing-soft post: late", "alias=fs-top"},
		"kernel/lib/mid_a.ko.xz":       {"name=mid_a", "depends=leaf"},
		"kernel/lib/mid-b.ko.zst":      {"name=mid_b", "depends=leaf"},
		"kernel/lib/leaf.ko.gz":        {"name=leaf", "depends="},
		"kernel/crypto/foo_fast.ko":    {"name=foo_fast", "alias=crypto-foo", "alias=foo"},
		"kernel/crypto/foo_generic.ko": {"name=foo_generic", "alias=crypto-foo", "alias=foo"},
		"kernel/drivers/late.ko":       {"name=late"},
		"kernel/drivers/pcidrv.ko":     {"name=pcidrv", "alias=pci:v00001AF4d*sv*sd*bc*sc*i*", "softdep=pre: bar"},
		"modules.builtin":              {"kernel/lib/bar-core.ko"},
		"modules.builtin.modinfo":      {"bar_core.alias=bar", "bar_core.license=GPL", "notmod.alias=zzz"},
	}.write(t)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	mods, builtin, err := ix.Closure("top-fs")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"foo_generic", "leaf", "mid_a", "mid_b", "top_fs"}
	if got := names(mods); !reflect.DeepEqual(got, want) {
		t.Errorf("Closure(top-fs) = %v, want %v", got, want)
	}
	if len(builtin) != 0 {
		t.Errorf("built-in: %v, want none", builtin)
	}
	if mods[1].Path != "kernel/lib/leaf.ko.gz" || mods[4].Path != "kernel/fs/top-fs.ko" {
		t.Errorf("paths: %q %q", mods[1].Path, mods[4].Path)
	}

	// A modalias pattern, and a softdep that is built in.
	mods, builtin, err = ix.Closure("pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(mods); !reflect.DeepEqual(got, []string{"pcidrv"}) || !reflect.DeepEqual(builtin, []string{"bar_core"}) {
		t.Errorf("modalias closure = %v, built-in %v", got, builtin)
	}
	if m, ok := ix.Lookup("bar"); !ok || !m.Builtin || m.Name != "bar_core" {
		t.Errorf("Lookup(bar) = %+v, %v", m, ok)
	}
	if _, ok := ix.Lookup("zzz"); ok {
		t.Error("alias of a non-module in modules.builtin.modinfo was indexed")
	}
	if m, ok := ix.Lookup("foo"); !ok || m.Name != "foo_generic" {
		t.Errorf("Lookup(foo) = %v, want foo_generic", m.Name)
	}
	if m, ok := ix.Lookup("mid-b"); !ok || m.Name != "mid_b" {
		t.Errorf("Lookup(mid-b) = %v, %v", m.Name, ok)
	}

	_, _, err = ix.Closure("leaf", "nope-x")
	if err == nil || !strings.Contains(err.Error(), `"nope-x"`) || !strings.Contains(err.Error(), dir) {
		t.Errorf("unknown name: %v", err)
	}
}

func TestClosureCycle(t *testing.T) {
	dir := tree{
		"kernel/x.ko": {"name=x", "depends=y"},
		"kernel/y.ko": {"name=y", "depends=z"},
		"kernel/z.ko": {"name=z", "depends=x"},
		"kernel/s.ko": {"name=s", "softdep=pre: s"},
	}.write(t)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := ix.Closure("x"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cycle") || !strings.Contains(err.Error(), "x -> y -> z -> x") {
			t.Errorf("cycle: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Closure hangs on a dependency cycle")
	}
	if _, _, err := ix.Closure("s"); err == nil || !strings.Contains(err.Error(), "s -> s") {
		t.Errorf("softdep on itself: err = %v", err)
	}
}

func TestClosureMissingDependency(t *testing.T) {
	dir := tree{"kernel/a.ko": {"name=a", "depends=gone"}}.write(t)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ix.Closure("a")
	if err == nil || !strings.Contains(err.Error(), "depends on gone") {
		t.Errorf("missing dependency: err = %v", err)
	}
}

func TestScanPrefersUpdates(t *testing.T) {
	dir := tree{
		"kernel/drivers/dup.ko": {"name=dup"},
		"updates/dup.ko.xz":     {"name=dup"},
		"extra/other.ko":        {"name=other", "depends=dup"},
	}.write(t)
	ix, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	mods, _, err := ix.Closure("other")
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 2 || mods[0].Path != "updates/dup.ko.xz" || mods[1].Path != "extra/other.ko" {
		t.Errorf("got %+v", mods)
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "modules.builtin") {
		t.Errorf("no modules.builtin: err = %v", err)
	}
	dir = tree{"kernel/bad.ko": nil}.write(t)
	os.WriteFile(filepath.Join(dir, "kernel/bad.ko"), []byte("not an ELF"), 0o644)
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "bad.ko") {
		t.Errorf("bad ELF: err = %v", err)
	}
	dir = tree{"kernel/bad.ko.xz": nil}.write(t)
	os.WriteFile(filepath.Join(dir, "kernel/bad.ko.xz"), elfWithModinfo("name=bad"), 0o644)
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "xz") {
		t.Errorf("plain ELF named .ko.xz: err = %v", err)
	}
}

func TestDecompress(t *testing.T) {
	raw := elfWithModinfo("name=m", "depends=")
	dir := t.TempDir()
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		p := filepath.Join(dir, "m"+ext)
		if err := os.WriteFile(p, compress(t, compression(p), raw), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Decompress(p)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: decompressed bytes differ", ext)
		}
	}
}

func FuzzModinfo(f *testing.F) {
	f.Add([]byte("name=ext4\x00depends=jbd2,mbcache,crc16\x00softdep=pre: crypto-crc32c\x00alias=fs-ext4\x00"))
	f.Add([]byte("softdep=post: a pre: b-c d\x00\x00\x00alias=pci:v*d*sv*sd*bc01sc[0-9]*\x00"))
	f.Add([]byte("depends=,,a,,\x00name=\x00"))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := parseModinfo(data)
		if err != nil {
			return
		}
		if strings.Contains(mi.name, "-") {
			t.Errorf("name %q not normalised", mi.name)
		}
		for _, d := range mi.depends {
			if d == "" || strings.ContainsAny(d, "-,") || strings.TrimSpace(d) != d {
				t.Errorf("bad dependency %q", d)
			}
		}
		for _, l := range [][]string{mi.softPre, mi.softPost} {
			for _, s := range l {
				if s == "" || s == "pre:" || s == "post:" || strings.ContainsAny(s, " \t\n") {
					t.Errorf("bad softdep %q", s)
				}
			}
		}
		for _, a := range mi.aliases {
			if a == "" {
				t.Error("empty alias")
			}
		}
	})
}
