package swsusp

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sparseDevice is a device of which only some pages are kept: every other byte reads as zero.
// It is what qemu-tests/cmd/capture-fixtures keeps of a real hibernated swap partition.
type sparseDevice struct {
	size  int64
	pages map[uint64][]byte
}

func (d *sparseDevice) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < d.size {
		pos := off + int64(n)
		idx, in := uint64(pos/PageSize), pos%PageSize
		chunk := min(int64(len(p)-n), PageSize-in, d.size-pos)
		if pg, ok := d.pages[idx]; ok {
			copy(p[n:n+int(chunk)], pg[in:in+chunk])
		} else {
			clear(p[n : n+int(chunk)])
		}
		n += int(chunk)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func loadPages(t *testing.T, path string) *sparseDevice {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(b) < 16 || string(b[:8]) != "HIBPAGES" || (len(b)-16)%(8+PageSize) != 0 {
		t.Fatalf("%s: not a HIBPAGES fixture", path)
	}
	d := &sparseDevice{size: int64(binary.LittleEndian.Uint64(b[8:])), pages: map[uint64][]byte{}}
	for rest := b[16:]; len(rest) > 0; rest = rest[8+PageSize:] {
		d.pages[binary.LittleEndian.Uint64(rest)] = rest[8 : 8+PageSize]
	}
	return d
}

// expected is NAME.json, written at capture time from what the guest said.
type expected struct {
	Kernel     string `json:"kernel"`
	SizeBytes  int64  `json:"size_bytes"`
	SwapUUID   string `json:"swap_uuid"`
	ImagePages uint64 `json:"image_pages"`
	NoCompress bool   `json:"nocompress"`
	Pages      []int  `json:"pages"`
}

func loadExpected(t *testing.T, name string) expected {
	t.Helper()
	j, err := os.ReadFile(name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var want expected
	if err := json.Unmarshal(j, &want); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return want
}

func realImages(t *testing.T) map[string]*sparseDevice {
	t.Helper()
	paths, _ := filepath.Glob("testdata/*.pages.gz")
	if len(paths) == 0 {
		t.Fatal("no testdata/*.pages.gz: they are committed; make fixtures captures them again")
	}
	out := map[string]*sparseDevice{}
	for _, p := range paths {
		out[strings.TrimSuffix(p, ".pages.gz")] = loadPages(t, p)
	}
	return out
}

// TestRealImages reads images that Debian 12's 6.1 kernel wrote in QEMU guests, and checks every
// field against what the guest said (its swap UUID, the kernel's "Need to copy N pages") and
// against the kernel's own invariants.
func TestRealImages(t *testing.T) {
	for name, dev := range realImages(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			want := loadExpected(t, name)
			a, err := ReadArea(dev, dev.size, 0)
			if err != nil {
				t.Fatal(err)
			}
			h, i := a.Header, a.Info
			if h == nil || i == nil {
				t.Fatalf("header %v info %v: want both", h, i)
			}
			for _, c := range []struct {
				field     string
				got, want any
			}{
				{"kind", a.Kind(), "swsusp"},
				{"has image", a.HasImage(), true},
				{"valid", a.Valid(), true},
				{"problems", len(a.Problems), 0},
				{"swap uuid", a.Swap.UUIDString(), want.SwapUUID},
				{"swap version", a.Swap.Version, uint32(1)},
				{"swap last_page", int64(a.Swap.LastPage), want.SizeBytes/PageSize - 1},
				{"orig_sig", h.OrigSig, SigSwap},
				{"image sector", h.Image, uint64(want.Pages[1])},
				{"nocompress flag", h.NoCompress(), want.NoCompress},
				{"compressor", h.Compressor(), map[bool]string{true: "none", false: "lzo"}[want.NoCompress]},
				{"platform mode (hibernate now --mode shutdown)", h.Platform(), false},
				{"lz4 on 6.1", h.LZ4(), false},
				{"crc32 mode only with compression", h.CRC32Mode(), !want.NoCompress},
				{"image_pages", i.ImagePages, want.ImagePages},
				{"size = pages × 4096", i.Size, i.Pages * PageSize},
				{"x86_64 restore header", i.ArchHeader, true},
				{"arch magic", fmt.Sprintf("%x", i.ArchMagic), "23456789abcdef02"},
				{"map pages", a.MapPages, len(want.Pages) - 2},
				{"no record before setup stamps one", a.Record == nil, true},
			} {
				if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
					t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
				}
			}
			// The kernel saves image_pages of data plus the metadata pages (PFN lists): pages is
			// image_pages + nr_meta_pages + 1, and the map chain lists them all (in nocompress mode
			// one swap page each).
			if i.Pages <= i.ImagePages || i.Pages > i.ImagePages+i.ImagePages/400+2 {
				t.Errorf("pages %d is not image_pages %d plus its metadata", i.Pages, i.ImagePages)
			}
			if want.NoCompress && a.DataPages != i.Pages {
				t.Errorf("uncompressed image: map chain lists %d pages, info says %d", a.DataPages, i.Pages)
			}
			if !want.NoCompress && a.DataPages >= i.Pages {
				t.Errorf("compressed image takes %d swap pages for %d pages of memory", a.DataPages, i.Pages)
			}
			if i.NumPhysPages < i.Pages || i.NumPhysPages*PageSize > 1<<30 {
				t.Errorf("num_physpages %d: not the 512 MiB guest", i.NumPhysPages)
			}
		})
	}
}

// Each real image made unreadable one way: the parser names the problem, and never panics.
func TestRealImagesBroken(t *testing.T) {
	for name, dev := range realImages(t) {
		want := loadExpected(t, name)
		info := uint64(want.Pages[len(want.Pages)-1]) // capture-fixtures keeps the info page last
		firstMap := uint64(want.Pages[1])
		for _, tc := range []struct {
			name  string
			edit  func(d *sparseDevice)
			sizeF func(int64) int64
			want  string
		}{
			{"image sector past the device", func(d *sparseDevice) {
				binary.LittleEndian.PutUint64(d.pages[0][offImage:], uint64(d.size/PageSize)+10)
			}, nil, "past"},
			{"truncated before the first map page", nil, func(s int64) int64 { return int64(firstMap) * PageSize }, ""},
			{"info page zeroed", func(d *sparseDevice) { clear(d.pages[info]) }, nil, "info page"},
		} {
			d := &sparseDevice{size: dev.size, pages: map[uint64][]byte{}}
			for k, v := range dev.pages {
				d.pages[k] = bytes.Clone(v)
			}
			if tc.edit != nil {
				tc.edit(d)
			}
			if tc.sizeF != nil {
				d.size = tc.sizeF(d.size)
			}
			b, err := ReadArea(d, d.size, 0)
			if err != nil {
				t.Fatalf("%s %s: %v", name, tc.name, err)
			}
			if b.Valid() || !strings.Contains(strings.Join(b.Problems, "; "), tc.want) {
				t.Errorf("%s %s: valid %v problems %q, want a problem with %q", filepath.Base(name), tc.name, b.Valid(), b.Problems, tc.want)
			}
		}
	}
}

type countingReader struct {
	r     io.ReaderAt
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// ReadAreaHead, what /init decides on, reads three pages of a real image and finds what the
// whole walk finds of the header and the info page.
func TestRealImagesHead(t *testing.T) {
	for name, dev := range realImages(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			full, err := ReadArea(dev, dev.size, 0)
			if err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: dev}
			a, err := ReadAreaHead(cr, dev.size, 0)
			if err != nil {
				t.Fatal(err)
			}
			if cr.reads != 3 {
				t.Errorf("%d reads, want 3 (header, first map page, info page)", cr.reads)
			}
			if !a.Valid() || len(a.Problems) != 0 || a.Info == nil || *a.Info != *full.Info || a.MapPages != 1 {
				t.Errorf("head: valid %v problems %q info %+v map pages %d; full walk: info %+v", a.Valid(), a.Problems, a.Info, a.MapPages, full.Info)
			}
			if a.Partial != (full.MapPages > 1) {
				t.Errorf("partial %v with %d map pages in all", a.Partial, full.MapPages)
			}
		})
	}
}
