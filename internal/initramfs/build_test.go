package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func writeBase(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.cpio")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := cpio.Newc.Writer(f)
	recs := []cpio.Record{cpio.Directory("bbin", 0o755), cpio.StaticFile("bbin/bb", "\x7fELF fake busybox", 0o755),
		cpio.Directory("bin", 0o755), cpio.StaticFile("bin/hibernate-init", "\x7fELF fake "+config.InitMark, 0o755), cpio.Symlink("init", "bin/hibernate-init")}
	if err := cpio.WriteRecords(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// splitHead splits an initramfs into its first archive (uncompressed: our config) and the
// compressed stream after it.
func splitHead(t *testing.T, b []byte) (head, rest []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("TRAILER!!!"))
	if !bytes.HasPrefix(b, []byte("070701")) || i < 0 {
		t.Fatalf("the initramfs does not start with an uncompressed archive: %q", b[:min(len(b), 16)])
	}
	j := i + len("TRAILER!!!")
	for j < len(b) && b[j] == 0 {
		j++
	}
	return b[:j], b[j:]
}

// readArchive reads both archives of a gzip initramfs (the config's, then the rest).
func readArchive(t *testing.T, img []byte) map[string]cpio.Record {
	t.Helper()
	head, gz := splitHead(t, img)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cpio.Record{}
	for _, a := range [][]byte{head, raw} {
		recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out[r.Name] = r
		}
	}
	return out
}

func TestBuildWithoutModulesIsReproducible(t *testing.T) {
	base := writeBase(t)
	o := Options{Base: base, KernelRelease: "6.1.0-test", Modules: []string{}, Compress: "gzip", Config: config.Config{Resume: "UUID=abc"}}
	var a, b bytes.Buffer
	if _, err := Build(o, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(o, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same inputs gave different bytes")
	}
	recs := readArchive(t, a.Bytes())
	if _, ok := recs["bbin/bb"]; !ok {
		t.Fatalf("base records missing: %v", recs)
	}
	r, ok := recs[config.Path]
	if !ok {
		t.Fatalf("no %s in the archive", config.Path)
	}
	data, _ := io.ReadAll(io.NewSectionReader(r, 0, int64(r.FileSize)))
	cfg, err := config.Parse(data)
	if err != nil || cfg.KernelRelease != "6.1.0-test" || cfg.Resume != "UUID=abc" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
}

func TestBuildCompressions(t *testing.T) {
	base := writeBase(t)
	for _, comp := range []string{"", "zstd", "gzip", "xz", "none"} {
		var out bytes.Buffer
		if _, err := Build(Options{Base: base, KernelRelease: "x", Modules: []string{}, Compress: comp}, &out); err != nil {
			t.Fatalf("%q: %v", comp, err)
		}
		magic := map[string]string{"": "\x28\xb5\x2f\xfd", "zstd": "\x28\xb5\x2f\xfd", "gzip": "\x1f\x8b", "xz": "\xfd7zXZ", "none": "070701"}[comp]
		head, rest := splitHead(t, out.Bytes())
		if !bytes.Contains(head, []byte(config.Path)) || !bytes.HasPrefix(rest, []byte(magic)) {
			t.Errorf("%q: the config's archive, then %q; want the config first, then %q", comp, rest[:6], magic)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(Options{Base: "/nonexistent/base.cpio", KernelRelease: "x", Modules: []string{}}, io.Discard); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("missing base: %v", err)
	}
	if _, err := Build(Options{Base: writeBase(t), KernelRelease: "x", Compress: "lzma"}, io.Discard); err == nil {
		t.Fatal("bad compression accepted")
	}
}

// realModules is Debian 12's 6.1 kernel unpacked by qemu-tests/scripts/fetch-kernel.sh.
func realModules(t *testing.T) (string, string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(testutil.KernelCache(), "bookworm/*-amd64/lib/modules/*"))
	for _, m := range matches {
		if !strings.Contains(m, "cloud") {
			return m, filepath.Base(m)
		}
	}
	t.Skip("no unpacked Debian kernel in " + testutil.KernelCache() + ": run qemu-tests/scripts/fetch-kernel.sh bookworm-amd64")
	return "", ""
}

func TestBuildWithRealModules(t *testing.T) {
	dir, rel := realModules(t)
	for _, comp := range []string{"zstd", "none"} {
		var out bytes.Buffer
		res, err := Build(Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: dir, Compress: comp}, &out)
		if err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		if int64(out.Len()) != res.Compressed || (comp != "none" && res.Compressed >= res.Uncompressed) {
			t.Fatalf("%s: sizes %d/%d, wrote %d", comp, res.Compressed, res.Uncompressed, out.Len())
		}
		pos := map[string]int{}
		for i, m := range res.Modules {
			pos[m.Name] = i
		}
		for _, pair := range [][2]string{{"virtio", "virtio_pci"}, {"virtio_ring", "virtio_blk"}, {"jbd2", "ext4"}, {"crc32c_generic", "ext4"}} {
			a, okA := pos[pair[0]]
			b, okB := pos[pair[1]]
			if !okA || !okB || a >= b {
				t.Fatalf("%s: %s must load before %s: order %v", comp, pair[0], pair[1], res.Modules)
			}
		}
	}
}

// The cloud flavour has no SATA driver: the default set goes without it, an explicit one fails.
func TestBuildDefaultSetOnCloudKernel(t *testing.T) {
	matches, _ := filepath.Glob(filepath.Join(testutil.KernelCache(), "bookworm/*-cloud-amd64/lib/modules/*"))
	if len(matches) == 0 {
		t.Skip("no unpacked cloud kernel in " + testutil.KernelCache() + ": run qemu-tests/scripts/fetch-kernel.sh bookworm-cloud-amd64")
	}
	dir, rel := matches[0], filepath.Base(matches[0])
	res, err := Build(Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Missing, " ") != "ahci" || !strings.Contains(strings.Join(res.Builtin, " "), "ext4") {
		t.Fatalf("missing %v builtin %v, want ahci missing and ext4 built in", res.Missing, res.Builtin)
	}
	if _, err := Build(Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: dir, AddModules: []string{"ahci"}}, io.Discard); err == nil {
		t.Fatal("an explicit --add-module ahci was accepted on a kernel without it")
	}
}

func TestMountedFSModules(t *testing.T) {
	tr := faketree.New(t)
	mounts := func(text string) []sysfs.Mount {
		tr.Write("proc/mounts", text)
		m, err := tr.FS().Mounts()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := strings.Join(MountedFSModules(mounts("sysfs /sys sysfs rw 0 0\n/dev/vda1 / btrfs rw,relatime 0 0\n/dev/vda3 /boot vfat rw 0 0\n/dev/vdb1 /srv xfs rw 0 0\n")), " "); got != "btrfs vfat nls_cp437 nls_iso8859_1" {
		t.Fatalf("MountedFSModules = %q", got)
	}
	// An EFI system partition holds kernels for systemd-boot: its driver goes in too.
	if got := strings.Join(MountedFSModules(mounts("/dev/vda2 / ext4 rw 0 0\n/dev/vda1 /boot/efi vfat rw 0 0\n")), " "); got != "ext4 vfat nls_cp437 nls_iso8859_1" {
		t.Fatalf("MountedFSModules = %q", got)
	}
}

// The config tells /init which modules drive which devices and what each needs first; a
// compressed module goes into the archive decompressed, under its .ko name.
func TestBuildLoadTablesAndDecompressedModules(t *testing.T) {
	dir, rel := realModules(t)
	tree := filepath.Join(t.TempDir(), rel)
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tree, f), b)
	}
	for _, m := range []string{"kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/block/virtio_blk.ko"} {
		b, err := os.ReadFile(filepath.Join(dir, m))
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b)
		zw.Close()
		writeFile(t, filepath.Join(tree, m+".gz"), gz.Bytes())
	}
	var out bytes.Buffer
	if _, err := Build(Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: tree, Modules: []string{"virtio_blk"}, Compress: "gzip"}, &out); err != nil {
		t.Fatal(err)
	}
	recs := readArchive(t, out.Bytes())
	blk := "/lib/modules/" + rel + "/kernel/drivers/block/virtio_blk.ko"
	r, ok := recs[strings.TrimPrefix(blk, "/")]
	if !ok {
		t.Fatalf("no %s in the archive", blk)
	}
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil || string(head) != "\x7fELF" {
		t.Fatalf("%s starts %q (%v), want the ELF magic", blk, head, err)
	}
	c := recs[config.Path]
	data := make([]byte, c.FileSize)
	if _, err := c.ReadAt(data, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Devices != nil || strings.Contains(string(data), "virtio:d") {
		t.Errorf("the config's JSON holds the devices table (format 3 has it in %s): %s", config.DevicesPath, data)
	}
	dr, ok := recs[config.DevicesPath]
	if !ok {
		t.Fatalf("no %s in the archive", config.DevicesPath)
	}
	dtab := make([]byte, dr.FileSize)
	if _, err := dr.ReadAt(dtab, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if devs := config.ParseDevices(dtab); strings.Join(devs[blk], " ") != "virtio:d00000002v*" {
		t.Errorf("devices of virtio_blk: %q (%s: %q)", devs[blk], config.DevicesPath, dtab)
	}
	needs := strings.Join(cfg.Needs[blk], " ")
	if !strings.Contains(needs, "/virtio.ko") || !strings.Contains(needs, "/virtio_ring.ko") {
		t.Errorf("virtio_blk needs %q, want virtio and virtio_ring", needs)
	}
	for _, m := range cfg.Modules {
		if !strings.HasSuffix(m, ".ko") {
			t.Errorf("config lists %s: want the decompressed .ko", m)
		}
	}
}

// An unpacked Debian 13 kernel package: its modules in usr/lib/modules/R (merged /usr), as
// .ko.xz, virtio_pci built in. Build finds them below the package given as ModulesDir, and puts
// each module in decompressed: the bytes xz itself gives.
func TestBuildDebian13Package(t *testing.T) {
	pkgs, _ := filepath.Glob(filepath.Join(testutil.KernelCache(), "trixie", "6.12.*-amd64"))
	if len(pkgs) == 0 {
		t.Skip("no unpacked Debian 13 kernel in " + filepath.Join(testutil.KernelCache(), "trixie") + ": run qemu-tests/scripts/fetch-kernel.sh trixie-amd64")
	}
	rel := filepath.Base(pkgs[0])
	src := filepath.Join(pkgs[0], "usr/lib/modules", rel)
	// A copy holding what the closure needs, not the 4,400 modules Scan would read for 17 s.
	pkg := t.TempDir()
	dst := filepath.Join(pkg, "usr/lib/modules", rel)
	files := []string{"modules.builtin", "modules.builtin.modinfo"}
	for _, n := range []string{"virtio_blk", "ext4", "jbd2", "mbcache", "crc16", "crc32c_generic"} {
		m, _ := filepath.Glob(filepath.Join(src, "kernel/*/"+n+".ko.xz"))    // kernel/lib/crc16.ko.xz
		m2, _ := filepath.Glob(filepath.Join(src, "kernel/*/*/"+n+".ko.xz")) // kernel/fs/ext4/ext4.ko.xz
		if m = append(m, m2...); len(m) != 1 {
			t.Fatalf("%s: found %v in %s", n, m, src)
		}
		r, _ := filepath.Rel(src, m[0])
		files = append(files, r)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, f), b)
	}
	var out bytes.Buffer
	res, err := Build(Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: pkg, Modules: []string{"virtio_pci", "virtio_blk", "ext4"}, Compress: "gzip"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Builtin, " ") != "virtio_pci" || len(res.Modules) != 6 {
		t.Fatalf("built in %v, modules %v: want virtio_pci built in and six modules", res.Builtin, res.Modules)
	}
	recs := readArchive(t, out.Bytes())
	for _, m := range res.Modules {
		name := path.Join("lib/modules", rel, strings.TrimSuffix(m.Path, ".xz"))
		r, ok := recs[name]
		if !ok {
			t.Fatalf("no %s in the archive", name)
		}
		got := make([]byte, r.FileSize)
		if _, err := r.ReadAt(got, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, []byte("\x7fELF")) {
			t.Errorf("%s starts %q, want the ELF magic", name, got[:min(4, len(got))])
		}
		if _, err := exec.LookPath("xz"); err != nil {
			continue
		}
		want, err := exec.Command("xz", "-dc", filepath.Join(dst, m.Path)).Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, xz -dc gives %d (%v): they differ", name, len(got), len(want), err)
		}
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A base whose /init cannot read the config this build writes (an older hibernate's) is
// refused, with nothing written; /init is found through its links as the kernel finds it.
func TestBuildRefusesABaseThatCannotReadItsConfig(t *testing.T) {
	newer := "\x7fELF hibernate-init " + config.InitMark
	older := "\x7fELF hibernate-init this /init reads format 1 to %d" // a format 2 /init's text
	for _, tc := range []struct {
		name string
		recs []cpio.Record
		want string // "" builds
	}{
		{"relative link", []cpio.Record{cpio.StaticFile("bin/hibernate-init", newer, 0o755), cpio.Symlink("init", "bin/hibernate-init")}, ""},
		{"absolute link", []cpio.Record{cpio.StaticFile("bin/hibernate-init", newer, 0o755), cpio.Symlink("init", "/bin/hibernate-init")}, ""},
		{"a file", []cpio.Record{cpio.StaticFile("init", newer, 0o755)}, ""},
		{"older init", []cpio.Record{cpio.StaticFile("bin/hibernate-init", older, 0o755), cpio.Symlink("init", "bin/hibernate-init")}, "does not read config format"},
		{"no init", []cpio.Record{cpio.StaticFile("bin/hibernate-init", newer, 0o755)}, "has no /init"},
		{"dangling link", []cpio.Record{cpio.Symlink("init", "bin/gone")}, "has no /bin/gone"},
		{"link loop", []cpio.Record{cpio.Symlink("init", "a"), cpio.Symlink("a", "init")}, "chain of more than 8 links"},
		{"init a folder", []cpio.Record{cpio.Directory("init", 0o755)}, "does not read config format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "base.cpio")
			if err := os.WriteFile(p, testutil.CPIO(t, tc.recs...), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			_, err := Build(Options{Base: p, KernelRelease: "x", Modules: []string{}, Compress: "none"}, &out)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Build: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrCannotBoot) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Build: %v, want ErrCannotBoot (the CLI's refusal, exit 3) with %q", err, tc.want)
			case tc.want != "" && out.Len() != 0:
				t.Fatalf("refused, but wrote %d bytes", out.Len())
			}
		})
	}
}
