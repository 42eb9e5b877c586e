package swsusp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is one captured device image under testdata/, with what it
// should read as (NAME.json beside NAME.img or NAME.img.gz).
type fixture struct {
	Name string
	Data []byte
	Want struct {
		OffsetPages uint64 `json:"offset_pages"`
		Kind        string `json:"kind"`
		HasImage    bool   `json:"has_image"`
		Valid       bool   `json:"valid"`
		Record      bool   `json:"record"`
		Compressor  string `json:"compressor"`
	}
	HasWant bool
}

// loadFixtures loads every testdata/*.img and testdata/*.img.gz; it skips
// the test, saying why, when there is none.
func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	var paths []string
	for _, pat := range []string{"testdata/*.img", "testdata/*.img.gz"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Skip("no testdata/*.img fixtures yet: they are captured from QEMU guests, see testdata/README.md")
	}
	var fs []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		name := strings.TrimSuffix(strings.TrimSuffix(p, ".gz"), ".img")
		f := fixture{Name: filepath.Base(name), Data: b}
		if j, err := os.ReadFile(name + ".json"); err == nil {
			if err := json.Unmarshal(j, &f.Want); err != nil {
				t.Fatalf("%s.json: %v", name, err)
			}
			f.HasWant = true
		}
		fs = append(fs, f)
	}
	return fs
}

func TestFixtures(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			a, err := ReadArea(bytes.NewReader(f.Data), int64(len(f.Data)), f.Want.OffsetPages)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kind %s image %v valid %v maps %d pages %d problems %q", a.Kind(), a.HasImage(), a.Valid(), a.MapPages, a.DataPages, a.Problems)
			if !f.HasWant {
				t.Skipf("no %s.json with the expected result", f.Name)
			}
			w := f.Want
			if a.Kind() != w.Kind || a.HasImage() != w.HasImage || a.Valid() != w.Valid || (a.Record != nil) != w.Record {
				t.Errorf("got kind %s image %v valid %v record %v, want %+v", a.Kind(), a.HasImage(), a.Valid(), a.Record != nil, w)
			}
			if w.Compressor != "" && (a.Header == nil || a.Header.Compressor() != w.Compressor) {
				t.Errorf("compressor: want %s, header %+v", w.Compressor, a.Header)
			}
		})
	}
}
