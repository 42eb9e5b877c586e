package hibernate

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

const testRelease = "6.1.0-57-amd64"

// cpioArchive is one newc archive of recs, with its trailer.
func cpioArchive(t *testing.T, recs ...cpio.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t *testing.T, how string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch how {
	case "none":
		return data
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b)
	case "xz":
		w, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
	case "lz4":
		lw := lz4.NewWriter(&b)
		err = lw.Apply(lz4.LegacyOption(true))
		w = lw
	default:
		t.Fatalf("compression %s", how)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// microcode is an early, uncompressed archive as initramfs-tools and dracut put first.
func microcode(t *testing.T) []byte {
	return cpioArchive(t, cpio.StaticFile("kernel/x86/microcode/GenuineIntel.bin", strings.Repeat("\x01", 1000), 0o644))
}

// ourConfig is the config our builder writes.
func ourConfig(release string) cpio.Record {
	return cpio.StaticFile("etc/hibernate/initramfs.json", `{"format": 1, "kernel_release": "`+release+`", "modules": []}`+"\n", 0o644)
}

// ourInitramfs is what hibernate initramfs build makes: /init a link into u-root's busybox, the config.
func ourInitramfs(t *testing.T) []byte {
	return compress(t, "zstd", cpioArchive(t, cpio.Symlink("init", "bbin/hibernate-init"),
		cpio.StaticFile("bbin/bb", "busybox", 0o755), ourConfig(testRelease)))
}

func writeInitramfs(tr *faketree.Tree, name string, data []byte) {
	tr.Write("proc/sys/kernel/osrelease", testRelease+"\n")
	tr.Write(name, string(data))
}

func TestCheckInitramfsFinds(t *testing.T) {
	sh := func(name string) cpio.Record { return cpio.StaticFile(name, "#!/bin/sh\n", 0o755) }
	for _, tc := range []struct {
		name, file, how string
		early           bool
		recs            []cpio.Record
		want            string
	}{
		{"ours, zstd after microcode", "boot/initrd.img-" + testRelease, "zstd", true,
			[]cpio.Record{cpio.Symlink("init", "bbin/hibernate-init"), ourConfig(testRelease)}, "hibernate's /init (etc/hibernate/initramfs.json for " + testRelease + ")"},
		{"ours for another kernel", "boot/initrd.img-" + testRelease, "zstd", false,
			[]cpio.Record{ourConfig("6.1.0-9-amd64")}, "not the running " + testRelease},
		{"ours without config, gzip", "boot/initramfs-" + testRelease + ".img", "gzip", false,
			[]cpio.Record{cpio.Symlink("init", "bbin/hibernate-init")}, "hibernate's /init (-> bbin/hibernate-init"},
		{"ours as a plain /init", "initrd.img-" + testRelease, "none", false,
			[]cpio.Record{cpio.StaticFile("init", "\x7fELF... init of hibernate starting on %s ...", 0o755)}, "hibernate's /init (no config"},
		{"initramfs-tools, xz", "boot/initrd.img-" + testRelease, "xz", true,
			[]cpio.Record{sh("init"), sh("scripts/local-premount/resume")}, "initramfs-tools' resume (/scripts/local-premount/resume)"},
		{"initramfs-tools conf.d, lz4", "boot/initrd.img-" + testRelease, "lz4", false,
			[]cpio.Record{sh("init"), cpio.StaticFile("conf/conf.d/resume", "RESUME=UUID=x\n", 0o644)}, "initramfs-tools' resume (/conf/conf.d/resume)"},
		{"dracut", "boot/initramfs-" + testRelease + ".img", "zstd", true,
			[]cpio.Record{cpio.Symlink("init", "usr/lib/systemd/systemd"), sh("usr/lib/dracut/hooks/cmdline/95-parse-resume.sh")}, "dracut's resume module (/usr/lib/dracut/hooks/cmdline/95-parse-resume.sh)"},
		{"dracut, old layout", "boot/initramfs-" + testRelease + ".img", "gzip", false,
			[]cpio.Record{sh("init"), sh("lib/dracut/hooks/pre-udev/30-resume-genrules.sh")}, "dracut's resume module (/lib/dracut/hooks/pre-udev/30-resume-genrules.sh)"},
		{"systemd", "boot/initrd.img-" + testRelease, "none", false,
			[]cpio.Record{cpio.Symlink("init", "usr/lib/systemd/systemd"), cpio.StaticFile("usr/lib/systemd/systemd-hibernate-resume", "elf", 0o755)}, "systemd-hibernate-resume (/usr/lib/systemd/systemd-hibernate-resume)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			if err := os.Remove(tr.FS().Path("boot/initrd.img-" + testRelease)); err != nil {
				t.Fatal(err)
			}
			var data []byte
			if tc.early {
				data = microcode(t)
			}
			data = append(data, compress(t, tc.how, cpioArchive(t, tc.recs...))...)
			writeInitramfs(tr, tc.file, data)
			c := check(t, tr, "initramfs")
			if !c.OK || !strings.Contains(c.Detail, tc.want) || !strings.Contains(c.Detail, "/"+tc.file+" ("+tc.how) {
				t.Fatalf("check = %+v, want ok naming /%s (%s) and %q", c, tc.file, tc.how, tc.want)
			}
			if tc.early && !strings.Contains(c.Detail, "2 cpio archive(s)") {
				t.Fatalf("check = %+v, want the microcode archive counted", c)
			}
		})
	}
}

func TestReadInitramfsRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"garbage":         []byte("not an initramfs at all"),
		"empty":           nil,
		"truncated cpio":  cpioArchive(t, cpio.StaticFile("init", strings.Repeat("x", 5000), 0o755))[:3000],
		"truncated zstd":  compress(t, "zstd", cpioArchive(t, cpio.StaticFile("init", strings.Repeat("x", 5000), 0o755)))[:20],
		"bad name length": []byte("070701" + strings.Repeat("0", 8*11) + "FFFFFFFF" + "00000000"),
	} {
		if _, err := readInitramfs(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// An initramfs hibernate initramfs build wrote holds our config first: the check knows it for
// ours after reading the start of it, not the megabytes of busybox and modules after.
func TestInitramfsOfOursIsReadOnlyToItsConfig(t *testing.T) {
	big := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.UintN(16)) // compresses to about half
	}
	basePath := t.TempDir() + "/base.cpio"
	if err := os.WriteFile(basePath, cpioArchive(t, cpio.StaticFile("bbin/bb", string(big), 0o755), cpio.Symlink("init", "bbin/bb"), cpio.Directory("etc", 0o755)), 0o644); err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	if _, err := initramfs.Build(initramfs.Options{Base: basePath, KernelRelease: testRelease, Modules: []string{}}, &img); err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(img.Bytes())}
	ic, err := readInitramfs(cr)
	if err != nil {
		t.Fatal(err)
	}
	what, ok := resumeSupport(ic, testRelease)
	if !ok || !ic.OursAtStart || !strings.Contains(what, "hibernate's /init") {
		t.Errorf("ours %v at start %v: %s", ok, ic.OursAtStart, what)
	}
	// The archives as the kernel unpacks them: the folders and our config, uncompressed, then
	// the base compressed.
	raw := img.Bytes()
	end := bytes.Index(raw, []byte("TRAILER!!!"))
	if end < 0 || !bytes.HasPrefix(raw, []byte("070701")) {
		t.Fatalf("no uncompressed archive first")
	}
	head := raw[:end+16]
	j := end + len("TRAILER!!!")
	for j < len(raw) && raw[j] == 0 {
		j++
	}
	zr, err := zstd.NewReader(bytes.NewReader(raw[j:]))
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	for _, a := range [][]byte{head, rest} {
		recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if seen[r.Name] && r.Mode&cpio.S_IFMT != cpio.S_IFDIR {
				t.Errorf("%s twice in the archives", r.Name)
			}
			seen[r.Name] = true
			names = append(names, r.Name)
		}
	}
	if len(names) < 4 || strings.Join(names[:3], " ") != "etc etc/hibernate etc/hibernate/initramfs.json" || !seen["bbin/bb"] {
		t.Errorf("archive order %q: want etc, etc/hibernate, our config, then the base", names)
	}
	if cr.n > int64(len(head))+64<<10 || ic.Compression != "none" || img.Len() < 1<<20 {
		t.Errorf("read %d of %d bytes (%s): want the config's archive (%d bytes) and one read buffer, no decompression", cr.n, img.Len(), ic.Compression, len(head))
	}
}
