package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "initrd.img-R")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(p, []byte("new initramfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new initramfs" {
		t.Fatalf("%s holds %q", p, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %v in the folder, want the file alone", ents)
	}
	// A file left beside by a crash, readable by all, does not pass its mode on to a private one.
	if err := os.WriteFile(p+".hibernate-new", []byte("left"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(p, []byte("with a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", p, st.Mode(), err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "no", "such"), []byte("x"), 0o644); err == nil {
		t.Fatal("wrote into a folder that does not exist")
	}
}

// cliBase is a base archive for initramfs build: a folder and a file.
func cliBase(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecords(w, []cpio.Record{cpio.Directory("bbin", 0o755), cpio.StaticFile("bbin/bb", "\x7fELF fake busybox", 0o755),
		cpio.StaticFile("init", "\x7fELF fake "+config.InitMark, 0o755)}); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "base.cpio")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// builtConfig is the config of the initramfs at p, as hibernate check reads it.
func builtConfig(t *testing.T, p string) config.Config {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ic, err := initramfs.Inspect(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(ic.Files[config.Path])
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const luksUUID = "5f2c1a3e-8d4b-4c6a-9e1f-0a1b2c3d4e5f"

// encryptedMachine is Debian's guided encrypted LVM on a fake tree: vda3 a LUKS2 volume
// (vda3_crypt) holding the VG guest-vg with root and swap_1, /boot on vda1, the resume device
// swap_1, the kernel's module folder with ext4 built in and no module.
func encryptedMachine(t *testing.T) *faketree.Tree {
	tr := faketree.New(t)
	tr.Write("proc/sys/kernel/osrelease", "6.1.0-57-amd64\n")
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20, Content: faketree.LUKSHeader(2, luksUUID, "")})
	tr.Mapper(0, "vda3_crypt", "CRYPT-LUKS2-5f2c1a3e8d4b4c6a9e1f0a1b2c3d4e5f-vda3_crypt", "vda3")
	tr.Mapper(1, "guest--vg-root", "LVM-"+strings.Repeat("v", 32)+strings.Repeat("r", 32), "dm-0")
	tr.Mapper(2, "guest--vg-swap_1", "LVM-"+strings.Repeat("v", 32)+strings.Repeat("s", 32), "dm-0")
	tr.Write("proc/mounts", "/dev/dm-1 / ext4 rw 0 0\n/dev/vda1 /boot ext4 rw 0 0\n")
	tr.Write("sys/power/resume", "253:2\n")
	tr.Write("lib/modules/6.1.0-57-amd64/modules.builtin", "kernel/fs/ext4/ext4.ko\n") // built in: what mounts / and /boot
	return tr
}

// For this machine, initramfs build takes what its stacks need: the LUKS volume named and
// sourced as the machine has it, with crypttab's discard and key file, the LVs root and swap
// sit on, cryptsetup and lvm; an initramfs holding a key file is written 0600. What /init cannot
// do is refused: exit 3, the reason said, the distribution's initramfs byte for byte as it was.
func TestInitramfsBuildForThisMachine(t *testing.T) {
	haveTools := true
	for _, p := range []string{"/usr/sbin/cryptsetup", "/usr/sbin/lvm"} {
		if _, err := os.Stat(p); err != nil {
			haveTools = false
		}
	}
	keyed := func(tr *faketree.Tree) {
		tr.Write("etc/crypttab", "vda3_crypt UUID="+luksUUID+" /etc/keys/root.key luks,discard\n")
		tr.Write("etc/keys/root.key", "the key")
	}
	for _, tc := range []struct {
		name   string
		change func(tr *faketree.Tree)
		flags  []string
		code   int
		say    string // in stdout (exit 0) or stderr
		mode   os.FileMode
		volume config.Volume
		tools  bool // needs cryptsetup and lvm on this machine
	}{
		{"a key file", keyed, []string{"--tools-root", "/"}, 0, "written mode 0600, readable by root alone", 0o600,
			config.Volume{Name: "vda3_crypt", Source: "UUID=" + luksUUID, KeyFile: "/etc/hibernate/keys/vda3_crypt.key", Discard: true}, true},
		{"the passphrase", nil, []string{"--tools-root", "/"}, 0, "unlocks vda3_crypt (UUID=" + luksUUID + ", asks for the passphrase)\nthen activates guest-vg/root guest-vg/swap_1", 0o644,
			config.Volume{Name: "vda3_crypt", Source: "UUID=" + luksUUID}, true},
		{"no cryptsetup below the root", nil, nil, 3, "cryptsetup is not installed (no program cryptsetup below ", 0, config.Volume{}, false},
		{"keyscript", func(tr *faketree.Tree) {
			tr.Write("etc/crypttab", "vda3_crypt UUID="+luksUUID+" none luks,keyscript=decrypt_keyctl\n")
		}, []string{"--tools-root", "/"}, 3, "keyscript=decrypt_keyctl runs a program of initramfs-tools at boot; hibernate's /init does not run it", 0, config.Volume{}, false},
		{"md RAID under the volume", func(tr *faketree.Tree) {
			tr.MD(0, "raid1", "vda2", "vda3")
			os.Remove(filepath.Join(tr.Root, "sys/devices/virtual/block/dm-0/slaves/vda3"))
			if err := os.Symlink("../../../../class/block/md0", filepath.Join(tr.Root, "sys/devices/virtual/block/dm-0/slaves/md0")); err != nil {
				t.Fatal(err)
			}
		}, []string{"--tools-root", "/"}, 3, "md raid1 md0: it does not assemble md RAID", 0, config.Volume{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tools && !haveTools {
				t.Skip("cryptsetup or lvm is not installed here")
			}
			tr := encryptedMachine(t)
			if tc.change != nil {
				tc.change(tr)
			}
			out := filepath.Join(t.TempDir(), "initrd.img-6.1.0-57-amd64")
			if err := os.WriteFile(out, []byte("the distribution's initramfs"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"initramfs", "build", "--root", tr.Root, "--base", cliBase(t), "--out", out, "--compress", "none"}, tc.flags...)
			code := Run(Env{Stdout: &stdout, Stderr: &stderr}, args)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tc.code, stdout.String(), stderr.String())
			}
			if tc.code != 0 {
				b, _ := os.ReadFile(out)
				ents, _ := os.ReadDir(filepath.Dir(out))
				if !strings.Contains(stderr.String(), "refusing, nothing written") || !strings.Contains(stderr.String(), tc.say) || string(b) != "the distribution's initramfs" || len(ents) != 1 {
					t.Fatalf("stderr %q, want the refusal saying %q; %s holds %q, beside it %v", stderr.String(), tc.say, out, b, ents)
				}
				return
			}
			if !strings.Contains(stdout.String(), tc.say) {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.say)
			}
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != tc.mode {
				t.Errorf("%s: %v, %v; want mode %o", out, st.Mode(), err, tc.mode)
			}
			cfg := builtConfig(t, out)
			if len(cfg.Volumes) != 1 || cfg.Volumes[0] != tc.volume || strings.Join(cfg.LVs, " ") != "guest-vg/root guest-vg/swap_1" ||
				cfg.Tools["cryptsetup"] != "/usr/sbin/cryptsetup" || cfg.Tools["lvm"] != "/usr/sbin/lvm" || cfg.LibraryPath == "" {
				t.Errorf("config: volumes %+v, LVs %v, tools %v, library path %q", cfg.Volumes, cfg.LVs, cfg.Tools, cfg.LibraryPath)
			}
		})
	}
}

// A cross build names its volumes and LVs on the command line.
func TestInitramfsBuildLUKSAndLVMFlags(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/cryptsetup"); err != nil {
		t.Skip("cryptsetup is not installed here")
	}
	dir := t.TempDir()
	mods := filepath.Join(dir, "modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "modules.builtin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "initrd")
	var stdout, stderr bytes.Buffer
	code := Run(Env{Stdout: &stdout, Stderr: &stderr}, []string{"initramfs", "build", "--kernel-release", "6.1.0-57-amd64", "--modules", mods,
		"--base", cliBase(t), "--out", out, "--compress", "none", "--tools-root", "/", "--luks", "swap_crypt=PARTUUID=0123,discard", "--luks", "root_crypt=/dev/vda3", "--lvm", "vg/root"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	cfg := builtConfig(t, out)
	want := []config.Volume{{Name: "swap_crypt", Source: "PARTUUID=0123", Discard: true}, {Name: "root_crypt", Source: "/dev/vda3"}}
	if !reflect.DeepEqual(cfg.Volumes, want) || strings.Join(cfg.LVs, " ") != "vg/root" || cfg.Tools["lvm"] == "" {
		t.Fatalf("config: volumes %+v, LVs %v, tools %v", cfg.Volumes, cfg.LVs, cfg.Tools)
	}
	if code := Run(Env{Stdout: &stdout, Stderr: &stderr}, []string{"initramfs", "build", "--kernel-release", "x", "--modules", mods, "--out", out, "--lvm", "root"}); code != 2 {
		t.Fatalf("--lvm root: exit %d, want 2", code)
	}
}

func TestParseLUKSFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.Volume
		err  string
	}{
		{"vda3_crypt=UUID=5f2c", config.Volume{Name: "vda3_crypt", Source: "UUID=5f2c"}, ""},
		{"c=PARTUUID=ab,discard,keyfile=/etc/k", config.Volume{Name: "c", Source: "PARTUUID=ab", Discard: true, KeyFile: "/etc/k"}, ""},
		{"c=/dev/vda3,keyfile=rel/k", config.Volume{Name: "c", Source: "/dev/vda3", KeyFile: "rel/k"}, ""},
		{"c", config.Volume{}, "no NAME="},
		{"=UUID=x", config.Volume{}, "no NAME="},
		{"a/b=UUID=x", config.Volume{}, "no NAME="},
		{"c=LABEL=x", config.Volume{}, "SOURCE is not UUID="},
		{"c=UUID=", config.Volume{}, "SOURCE is not UUID="},
		{"c=UUID=x,nofail", config.Volume{}, "unknown option nofail"},
		{"c=UUID=x,keyfile=", config.Volume{}, "unknown option keyfile="},
	} {
		v, err := parseLUKSFlag(tc.in)
		if v != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseLUKSFlag(%q) = %+v, %v; want %+v, %q", tc.in, v, err, tc.want, tc.err)
		}
	}
}

// The kernel's module folder is found as lib/modules/R or usr/lib/modules/R (Debian 13's
// packages, merged /usr), below the --root or below the --modules an unpacked package is, or
// is the --modules folder itself; without one, the build says where it looked.
func TestInitramfsBuildFindsTheModuleFolder(t *testing.T) {
	const rel = "6.12.117+deb13-amd64"
	for _, tc := range []struct {
		name   string
		folder string // where modules.builtin is, below the tree; "" for none
		root   bool   // --root the tree (a machine), else --modules the tree (or modules)
		flag   string // --modules, below the tree, when not root
		code   int
	}{
		{"machine, merged /usr without the /lib link", "usr/lib/modules/" + rel, true, "", 0},
		{"machine, /lib", "lib/modules/" + rel, true, "", 0},
		{"unpacked Debian 13 package", "usr/lib/modules/" + rel, false, ".", 0},
		{"unpacked Debian 12 package", "lib/modules/" + rel, false, ".", 0},
		{"the folder itself", "usr/lib/modules/" + rel, false, "usr/lib/modules/" + rel, 0},
		{"machine without it", "", true, "", 1},
		{"package without it", "usr/lib/modules/6.1.0-57-amd64", false, ".", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := faketree.New(t)
			tr.Write("proc/sys/kernel/osrelease", rel+"\n")
			tr.Disk("vda", 254, faketree.Part{Size: 8 << 20})
			tr.Write("proc/mounts", "/dev/vda1 / ext4 rw 0 0\n")
			if tc.folder != "" {
				tr.Write(tc.folder+"/modules.builtin", "kernel/fs/ext4/ext4.ko\n")
			}
			out := filepath.Join(t.TempDir(), "initrd.img-"+rel)
			args := []string{"initramfs", "build", "--base", cliBase(t), "--out", out, "--compress", "none"}
			if tc.root {
				args = append(args, "--root", tr.Root)
			} else {
				args = append(args, "--kernel-release", rel, "--modules", filepath.Join(tr.Root, tc.flag))
			}
			var stdout, stderr bytes.Buffer
			code := Run(Env{Stdout: &stdout, Stderr: &stderr}, args)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tc.code, stdout.String(), stderr.String())
			}
			if tc.code != 0 {
				if !strings.Contains(stderr.String(), "no module folder of kernel "+rel) || !strings.Contains(stderr.String(), "usr/lib/modules/"+rel) {
					t.Fatalf("stderr %q, want where it looked", stderr.String())
				}
				if _, err := os.Stat(out); err == nil {
					t.Fatalf("%s written", out)
				}
				return
			}
			if !strings.Contains(stdout.String(), "built into the kernel, not needed: ext4") {
				t.Fatalf("stdout %q: want ext4 found built in, from %s", stdout.String(), tc.folder)
			}
		})
	}
}

// The config carries the ID and IMAGE_ID of the root's os-release (etc, else usr/lib), which
// /init compares with systemd's HibernateLocation EFI variable; without an os-release it carries
// none, and the output says that /init will not use the variable.
func TestInitramfsBuildCarriesOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  *config.OSRelease
		say   string
	}{
		{"etc", map[string]string{"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n", "usr/lib/os-release": "ID=other\n"},
			&config.OSRelease{ID: "debian"}, "os-release ID=debian IMAGE_ID=(none)"},
		{"usr/lib, with IMAGE_ID", map[string]string{"usr/lib/os-release": "ID=fedora\nIMAGE_ID='workstation'\n"},
			&config.OSRelease{ID: "fedora", ImageID: "workstation"}, "os-release ID=fedora IMAGE_ID=workstation"},
		{"none", nil, nil, "will not resume from systemd's HibernateLocation EFI variable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := faketree.New(t)
			for name, content := range tc.files {
				tr.Write(name, content)
			}
			cfg, stdout := buildForTree(t, tr)
			if got := cfg.OSRelease; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("config os_release %+v, want %+v", got, tc.want)
			}
			if !strings.Contains(stdout, tc.say) {
				t.Errorf("stdout %q, want %q", stdout, tc.say)
			}
		})
	}
}

// Built for a machine whose resume device is a hibernation file (setup --hibernate-only), the
// config names the file and the build says so; without one, nothing is said.
func TestInitramfsBuildNamesHibernationFile(t *testing.T) {
	for _, hibernateOnly := range []bool{true, false} {
		tr := faketree.New(t)
		tr.Write("etc/hibernate/resume.json", `{"resume": "UUID=abc", "resume_offset": 34816}`)
		tr.Write("var/lib/hibernate/setup.json", fmt.Sprintf(`{"format": 1, "file": "/hibfile", "devt": "254:1", "swap_uuid": "x", "hibernate_only": %v}`, hibernateOnly))
		cfg, stdout := buildForTree(t, tr)
		said := strings.Contains(stdout, "is the hibernation file /hibfile")
		if (cfg.HibernationFile == "/hibfile") != hibernateOnly || said != hibernateOnly || cfg.ResumeOffset != 34816 {
			t.Errorf("hibernate_only %v: config %+v, said %v:\n%s", hibernateOnly, cfg, said, stdout)
		}
	}
}

// buildForTree runs `hibernate initramfs build` for the machine tr (no modules of its own, kernel
// release R, no compression) and returns the config in what it wrote, and what it printed.
func buildForTree(t *testing.T, tr *faketree.Tree) (config.Config, string) {
	t.Helper()
	tr.Write("modules/modules.builtin", "")
	out := filepath.Join(t.TempDir(), "initrd")
	var stdout, stderr bytes.Buffer
	code := Run(Env{Stdout: &stdout, Stderr: &stderr}, []string{"initramfs", "build", "--root", tr.Root, "--kernel-release", "R",
		"--modules", filepath.Join(tr.Root, "modules"), "--base", cliBase(t), "--out", out, "--compress", "none"})
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	return builtConfig(t, out), stdout.String()
}

type hookRecorder struct {
	ran  []string
	fail bool
}

func (r *hookRecorder) Run(path string, args ...string) error {
	r.ran = append(r.ran, filepath.Base(path)+" "+strings.Join(args, " "))
	if r.fail {
		return errors.New("exit status 1")
	}
	return nil
}

// After /boot/initrd.img-R, the boot loaders' hooks run as update-initramfs runs them, and the
// output says which ran and which were skipped; a failing one fails the build and says that the
// file is written and the boot loader may read the old one.
func TestRunBootHooks(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"systemd-boot": 0o755, "old.dpkg-old": 0o755} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	var r hookRecorder
	if err := runBootHooks(Env{Stdout: &out}, dir, "6.12.57+deb13-amd64", "/boot/initrd.img-6.12.57+deb13-amd64", &r); err != nil {
		t.Fatal(err)
	}
	if len(r.ran) != 1 || r.ran[0] != "systemd-boot 6.12.57+deb13-amd64 /boot/initrd.img-6.12.57+deb13-amd64" {
		t.Errorf("ran %q", r.ran)
	}
	for _, want := range []string{"old.dpkg-old: skipped (a name run-parts skips)", "ran the boot loaders' hooks for /boot/initrd.img-6.12.57+deb13-amd64: " + filepath.Join(dir, "systemd-boot")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	r = hookRecorder{fail: true}
	err := runBootHooks(Env{Stdout: &out}, dir, "6.12.57+deb13-amd64", "/boot/initrd.img-6.12.57+deb13-amd64", &r)
	if err == nil || !strings.Contains(err.Error(), "/boot/initrd.img-6.12.57+deb13-amd64 is written, but the boot loader's hook") {
		t.Errorf("a failing hook: %v", err)
	}
}
