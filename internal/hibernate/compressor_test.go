package hibernate

import (
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

const lz4Path = "/lib/modules/" + testRelease + "/kernel/crypto/lz4.ko"

// ourInitramfsModules writes our initramfs, its config listing mods.
func ourInitramfsModules(t *testing.T, tr *faketree.Tree, mods ...string) {
	cfg := `{"format": 2, "kernel_release": "` + testRelease + `", "modules": ["` + strings.Join(mods, `","`) + `"]}` + "\n"
	writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "zstd", testutil.CPIO(t,
		cpio.Symlink("init", "bbin/hibernate-init"), cpio.StaticFile("etc/hibernate/initramfs.json", cfg, 0o644))))
}

func TestCompressorCheck(t *testing.T) {
	for _, c := range []struct {
		name, param, builtin string
		mods                 []string
		ok                   bool
		detail               string
	}{
		{"no choice (6.1)", "", "", nil, true, "lzo: this kernel has no choice of compressor"},
		{"lzo", "lzo", "", nil, true, "lzo"},
		{"lzo, lz4 in ours", "lzo", "", []string{"/lib/modules/R/kernel/lib/lz4/lz4_compress.ko", lz4Path}, true, "lzo (lz4 possible: hibernate now --compressor lz4)"},
		{"lz4 set, not at boot", "lz4", "", []string{"/lib/modules/R/kernel/crypto/lz4hc.ko"}, false, "the kernel stores the image with lz4, and the next boot could not read it: our initramfs has no lz4 module"},
		{"lz4 set, in ours", "lz4", "", []string{lz4Path}, true, "lz4; the next boot reads it: lz4's module is in the initramfs"},
		{"lz4 set, built in", "lz4", "kernel/crypto/lzo.ko\nkernel/crypto/lz4.ko\n", nil, true, "lz4; the next boot reads it: lz4 is built into " + testRelease},
	} {
		tr := ready(t)
		ourInitramfsModules(t, tr, c.mods...)
		if c.param != "" {
			tr.Write(compressorParam, c.param+"\n")
		}
		if c.builtin != "" {
			tr.Write("lib/modules/"+testRelease+"/modules.builtin", c.builtin)
		}
		got := check(t, tr, "compressor")
		if got.OK != c.ok || !strings.HasPrefix(got.Detail, c.detail) || (!c.ok && got.Fix == "") {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
}

// --compressor lz4: written before the hibernation and put back after, where the next boot
// can read lz4; refused, nothing changed, where it cannot or the kernel has no choice.
func TestNowCompressor(t *testing.T) {
	tr := ready(t)
	ourInitramfsModules(t, tr, lz4Path)
	tr.Write(compressorParam, "lzo\n")
	res, err := Now(tr.FS(), Options{Compressor: "lz4", NoHooks: true, write: logWrites(tr)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hookLog(tr), "write lz4 to /"+compressorParam+"\nwrite disk to /sys/power/state") || tr.Read(compressorParam) != "lzo" ||
		!strings.Contains(strings.Join(res.Restored, ";"), "/"+compressorParam+" = lzo") {
		t.Errorf("writes:\n%s\nnow %q, restored %v", hookLog(tr), tr.Read(compressorParam), res.Restored)
	}
	for _, c := range []struct {
		name, param, compressor, want string
		mods                          []string
	}{
		{"no lz4 at boot", "lzo", "lz4", "--compressor lz4: the next boot could not read the image: our initramfs has no lz4 module", nil},
		{"no choice", "", "lz4", "--compressor lz4: this kernel has no /" + compressorParam, []string{lz4Path}},
		{"unknown", "lzo", "zstd", `--compressor "zstd": want lzo or lz4`, []string{lz4Path}},
	} {
		tr := ready(t)
		ourInitramfsModules(t, tr, c.mods...)
		if c.param != "" {
			tr.Write(compressorParam, c.param+"\n")
		}
		_, err := Now(tr.FS(), Options{Compressor: c.compressor, NoHooks: true, write: logWrites(tr)})
		if err == nil || !strings.Contains(err.Error(), c.want) || hookLog(tr) != "" {
			t.Errorf("%s: %v; writes %q", c.name, err, hookLog(tr))
		}
	}
}
