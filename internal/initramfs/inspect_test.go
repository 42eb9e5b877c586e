package initramfs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/testutil"
)

const testRelease = "6.1.0-57-amd64"

func TestInspectRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"garbage":         []byte("not an initramfs at all"),
		"empty":           nil,
		"truncated cpio":  testutil.CPIO(t, cpio.StaticFile("init", strings.Repeat("x", 5000), 0o755))[:3000],
		"truncated zstd":  testutil.Compress(t, "zstd", testutil.CPIO(t, cpio.StaticFile("init", strings.Repeat("x", 5000), 0o755)))[:20],
		"bad name length": []byte("070701" + strings.Repeat("0", 8*11) + "FFFFFFFF" + "00000000"),
	} {
		if _, err := Inspect(bytes.NewReader(data)); err == nil {
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

// An initramfs hibernate initramfs build wrote holds our config first: Inspect knows it for
// ours after reading the start of it, not the megabytes of busybox and modules after.
func TestInspectOfOursStopsAtItsConfig(t *testing.T) {
	big := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.UintN(16)) // compresses to about half
	}
	basePath := t.TempDir() + "/base.cpio"
	if err := os.WriteFile(basePath, testutil.CPIO(t, cpio.StaticFile("bbin/bb", string(big)+config.InitMark, 0o755), cpio.Symlink("init", "bbin/bb"), cpio.Directory("etc", 0o755)), 0o644); err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	if _, err := Build(Options{Base: basePath, KernelRelease: testRelease, Modules: []string{}}, &img); err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(img.Bytes())}
	ic, err := Inspect(cr)
	if err != nil {
		t.Fatal(err)
	}
	what, ok := ic.ResumeSupport(testRelease)
	if !ok || !ic.OursAtStart || !strings.Contains(what, "hibernate's /init") {
		t.Errorf("ours %v at start %v: %s", ok, ic.OursAtStart, what)
	}
	// The config is parsed once, by Inspect: what the checks ask of it after is that parse (the
	// bytes spoiled here would not parse again).
	ic.Files[config.Path] = []byte("{not json")
	if cfg, ok := ic.Config(); !ok || cfg.KernelRelease != testRelease {
		t.Errorf("Config() after Inspect = %q, %v: parsed again, not Inspect's", cfg.KernelRelease, ok)
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

// FuzzInspect: any bytes as an initramfs (concatenated cpio archives, compressed or not) give
// contents or an error, never a panic.
func FuzzInspect(f *testing.F) {
	f.Add([]byte("070701" + string(bytes.Repeat([]byte("0"), 104))))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ic, err := Inspect(bytes.NewReader(b)); err == nil {
			ic.ResumeSupport(testRelease)
		}
	})
}
