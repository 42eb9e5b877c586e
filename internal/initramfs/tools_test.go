package initramfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
)

// noModules is a kernel's module folder with no module at all: every name is left out.
func noModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "modules.builtin"), nil)
	return dir
}

func recordData(t *testing.T, r cpio.Record) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, int64(r.FileSize)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func archiveConfig(t *testing.T, recs map[string]cpio.Record) config.Config {
	t.Helper()
	cfg, err := config.Parse(recordData(t, recs[config.Path]))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// For a LUKS volume with a key file and an LV, the archive carries this machine's cryptsetup
// and lvm with their loader and libraries at the paths the config names, the key file readable
// by root alone, and the same bytes twice.
func TestBuildCarriesToolsAndKeyFile(t *testing.T) {
	for _, p := range []string{"/usr/sbin/cryptsetup", "/usr/sbin/lvm"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed here: %v", p, err)
		}
	}
	key := filepath.Join(t.TempDir(), "root.key")
	writeFile(t, key, []byte("secret key bytes"))
	o := Options{Base: writeBase(t), KernelRelease: "6.1.0-test", ModulesDir: noModules(t), Modules: []string{}, Compress: "gzip",
		Config: config.Config{
			Volumes: []config.Volume{{Name: "vda3_crypt", Source: "UUID=5f2c1a3e-8d4b-4c6a-9e1f-0a1b2c3d4e5f", KeyFile: key, Discard: true}},
			LVs:     []string{"vg/root", "vg/swap_1"},
		}}
	var a, b bytes.Buffer
	res, err := Build(o, &a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(o, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same inputs gave different bytes")
	}
	recs := readArchive(t, a.Bytes())
	cfg := archiveConfig(t, recs)
	if cfg.Tools[Cryptsetup] != "/usr/sbin/cryptsetup" || cfg.Tools[LVM] != "/usr/sbin/lvm" || cfg.LibraryPath != "/lib/x86_64-linux-gnu" {
		t.Errorf("config tools %v, library path %q", cfg.Tools, cfg.LibraryPath)
	}
	for _, p := range []string{"/usr/sbin/cryptsetup", "/usr/sbin/lvm", "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libgcc_s.so.1", "/lib/x86_64-linux-gnu/libcryptsetup.so.12"} {
		r, ok := recs[strings.TrimPrefix(p, "/")]
		host, err := os.ReadFile(p)
		if !ok || err != nil || !bytes.Equal(recordData(t, r), host) {
			t.Errorf("%s: in the archive %v, not this machine's bytes (%v)", p, ok, err)
		}
	}
	if l := recs["lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"]; l.Mode&cpio.S_IFMT != cpio.S_IFLNK || string(recordData(t, l)) != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("the loader's other name: %+v", l.Info)
	}
	want := config.Volume{Name: "vda3_crypt", Source: "UUID=5f2c1a3e-8d4b-4c6a-9e1f-0a1b2c3d4e5f", KeyFile: "/" + KeyFileDir + "/vda3_crypt.key", Discard: true}
	if len(cfg.Volumes) != 1 || cfg.Volumes[0] != want || strings.Join(cfg.LVs, " ") != "vg/root vg/swap_1" {
		t.Errorf("volumes %+v, LVs %v", cfg.Volumes, cfg.LVs)
	}
	k, d := recs[KeyFileDir+"/vda3_crypt.key"], recs[KeyFileDir]
	if string(recordData(t, k)) != "secret key bytes" || k.Mode&0o777 != 0o600 || d.Mode != cpio.S_IFDIR|0o700 {
		t.Errorf("key file mode %o, its folder %o", k.Mode, d.Mode)
	}
	if !res.Private() || res.Libraries < 20 || len(res.Tools) != 2 {
		t.Errorf("result %+v", res)
	}
	for _, m := range CryptModules {
		if !slices.Contains(res.Missing, m) {
			t.Errorf("%s, which the kernel lacks, not said missing: %v", m, res.Missing)
		}
	}
}

// The modules of a LUKS volume and an LV from Debian 12's kernel: the crypto ones it has as
// modules, with their dependencies, those it has built in said so.
func TestBuildStackModules(t *testing.T) {
	dir, rel := realModules(t)
	o := Options{Base: writeBase(t), KernelRelease: rel, ModulesDir: dir, Modules: []string{}, Tools: []string{}, Compress: "none",
		Config: config.Config{Volumes: []config.Volume{{Name: "c", Source: "UUID=x"}}, LVs: []string{"vg/root"}}}
	res, err := Build(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range res.Modules {
		names = append(names, m.Name)
	}
	t.Logf("modules %v; built in %v; missing %v", names, res.Builtin, res.Missing)
	for _, m := range []string{"dm_mod", "dm_crypt", "aesni_intel", "xts", "af_alg", "algif_skcipher", "crypto_simd", "cryptd"} {
		if !slices.Contains(names, m) {
			t.Errorf("no %s among %v", m, names)
		}
	}
	for _, m := range []string{"aes_generic", "sha256_generic"} {
		if !slices.Contains(res.Builtin, m) {
			t.Errorf("%s not said built in: %v", m, res.Builtin)
		}
	}
	if len(res.Missing) > 0 || len(res.Tools) > 0 {
		t.Errorf("missing %v, tools %v", res.Missing, res.Tools)
	}
}

func TestBuildToolsRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	writeFile(t, key, []byte("k"))
	vol := func(name, source, keyFile string) config.Config {
		return config.Config{Volumes: []config.Volume{{Name: name, Source: source, KeyFile: keyFile}}}
	}
	for _, tc := range []struct {
		name     string
		cfg      config.Config
		tools    []string
		want     string
		cannotBe bool // ErrCannotBoot
	}{
		{"no cryptsetup below the root", vol("c", "UUID=x", ""), nil, "cryptsetup is not installed (no program cryptsetup below " + dir + " in /usr/sbin, /sbin, /usr/bin, /bin): install cryptsetup-bin", true},
		{"no lvm below the root", config.Config{LVs: []string{"vg/root"}}, nil, "install lvm2", true},
		{"a tool that is not there", config.Config{}, []string{"/usr/sbin/cryptsetup"}, "program /usr/sbin/cryptsetup below " + dir, false},
		{"a volume name with a slash", vol("a/b", "UUID=x", ""), []string{}, `volume "a/b": not a device-mapper name`, false},
		{"no source", vol("c", "", ""), []string{}, "volume c: no source device", false},
		{"a key file that is not there", vol("c", "UUID=x", filepath.Join(dir, "none")), []string{}, "key file " + filepath.Join(dir, "none") + " of volume c:", false},
		{"a key file that is a folder", vol("c", "UUID=x", dir), []string{}, "not a regular file", false},
		{"a volume twice", config.Config{Volumes: []config.Volume{{Name: "c", Source: "UUID=x"}, {Name: "c", Source: "UUID=y", KeyFile: key}}}, []string{}, "volume c named twice", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Base: writeBase(t), KernelRelease: "x", ModulesDir: noModules(t), Modules: []string{}, ToolsRoot: dir, Tools: tc.tools, Config: tc.cfg}
			_, err := Build(o, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrCannotBoot) != tc.cannotBe {
				t.Fatalf("Build = %v, want %q (ErrCannotBoot %v)", err, tc.want, tc.cannotBe)
			}
		})
	}
}

func TestNotInBase(t *testing.T) {
	base := []cpio.Record{cpio.Directory("lib64", 0o755), cpio.StaticFile("bin/sh", "", 0o755)}
	if err := notInBase(base, []cpio.Record{cpio.StaticFile("lib64/ld.so", "", 0o755)}); err != nil {
		t.Errorf("a file in a folder of the base: %v", err)
	}
	if err := notInBase(base, []cpio.Record{cpio.StaticFile("bin/sh", "", 0o755)}); err == nil || !strings.Contains(err.Error(), "bin/sh is in the base archive already") {
		t.Errorf("a file of the base: %v", err)
	}
}
