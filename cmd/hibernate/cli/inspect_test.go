package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// realImage writes the captured 6.1 image (internal/swsusp/testdata) into a sparse file.
func realImage(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../../../internal/swsusp/testdata/deb12-6.1-lzo-partition.pages.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "swap.img")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := out.Truncate(int64(binary.LittleEndian.Uint64(b[8:]))); err != nil {
		t.Fatal(err)
	}
	for rest := b[16:]; len(rest) > 0; rest = rest[8+4096:] {
		if _, err := out.WriteAt(rest[8:8+4096], int64(binary.LittleEndian.Uint64(rest))*4096); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func runCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Run(Env{Stdout: &out, Stderr: &errb}, args)
	return out.String(), errb.String(), code
}

func TestInspectExitCodes(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	f, _ := os.Create(plain)
	f.Truncate(16 << 20)
	id, _ := swsusp.ParseUUID("6f1c2a7e-0d4b-4b8e-9a53-2f6c1d0e9b11")
	if err := swsusp.Mkswap(f, 16<<20, swsusp.MkswapOptions{UUID: id, PageSize: 4096}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	zeroed := filepath.Join(dir, "zeroed")
	os.WriteFile(zeroed, make([]byte, 1<<20), 0o644)

	image := realImage(t)
	truncated := filepath.Join(dir, "truncated")
	data, _ := os.ReadFile(image)
	os.WriteFile(truncated, data[:3*4096], 0o644) // header and the first map page only
	pastEnd := filepath.Join(dir, "pastend")
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint64(bad[4064:], uint64(len(bad)/4096)+100)
	os.WriteFile(pastEnd, bad, 0o644)

	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"valid image", image, 0, ""},
		{"plain swap area", plain, 1, "no hibernation image (swap)"},
		{"zeroed device", zeroed, 1, "no hibernation image (none)"},
		{"truncated image", truncated, 2, "not valid"},
		{"image sector past the device", pastEnd, 2, "not valid"},
		{"unreadable", filepath.Join(dir, "missing"), 3, "no such file"},
	} {
		out, errs, code := runCLI("inspect", tc.path)
		if code != tc.code || !strings.Contains(errs, tc.says) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q\n%s", tc.name, code, errs, tc.code, tc.says, out)
		}
		if tc.code != 0 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%s: the reason is not one line: %q", tc.name, errs)
		}
	}
}

func TestInspectJSONFields(t *testing.T) {
	out, _, code := runCLI("inspect", "--json", realImage(t))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"signature", "kind", "swap_uuid", "swap_label", "image_pages", "image_bytes", "compressed",
		"compressor", "crc32_mode", "platform_mode", "num_physpages", "record", "kernel_release", "valid", "problems"} {
		if _, ok := m[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if m["signature"] != "S1SUSPEND" || m["compressor"] != "lzo" || m["valid"] != true || m["kernel_release"] != nil {
		t.Errorf("%v", m)
	}
}

func TestDiscard(t *testing.T) {
	img := realImage(t)
	if out, errs, code := runCLI("discard", "--dry-run", img); code != 0 || !strings.Contains(out, "would write") {
		t.Fatalf("dry run: %d %s %s", code, out, errs)
	}
	if _, _, code := runCLI("inspect", img); code != 0 {
		t.Fatalf("the dry run changed the image")
	}
	if out, errs, code := runCLI("discard", img); code != 0 || !strings.Contains(out, `wrote "SWAPSPACE2"`) {
		t.Fatalf("discard: %d %s %s", code, out, errs)
	}
	if _, errs, code := runCLI("inspect", img); code != 1 || !strings.Contains(errs, "(swap)") {
		t.Fatalf("after discard: %d %s", code, errs)
	}
	if _, errs, code := runCLI("discard", img); code != 1 || !strings.Contains(errs, "no hibernation image") {
		t.Fatalf("second discard: %d %s", code, errs)
	}
}
