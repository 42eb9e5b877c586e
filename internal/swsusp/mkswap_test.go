package swsusp

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

const utilMkswap = "/usr/sbin/mkswap"

// runMkswap runs util-linux mkswap on a temporary file (never a device).
func runMkswap(t *testing.T, path string, o MkswapOptions) {
	t.Helper()
	args := []string{"-q", "-U", FormatUUID(o.UUID)}
	if o.Label != "" {
		args = append(args, "-L", o.Label)
	}
	if o.PageSize != 0 {
		args = append(args, "-p", strconv.Itoa(o.PageSize))
	}
	out, err := exec.Command(utilMkswap, append(args, path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v %s: %v\n%s", utilMkswap, args, path, err, out)
	}
}

func needMkswap(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(utilMkswap); err != nil {
		t.Skipf("util-linux mkswap not installed (%v): cannot compare bytes", err)
	}
}

// sizedFile makes a file of exactly size bytes (mkswap sizes the area by
// the file), filled with fill in the first fillLen bytes and sparse after.
func sizedFile(t *testing.T, dir string, size int64, fill []byte) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "swap-*.img")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("cannot make a %d-byte file in %s: %v", size, dir, err)
	}
	if _, err := f.WriteAt(fill, 0); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// compareHead compares the first n bytes of two files and their sizes.
func compareHead(t *testing.T, a, b string, n int64) {
	t.Helper()
	ra, rb := headOf(t, a, n), headOf(t, b, n)
	if i := firstDiff(ra, rb); i >= 0 {
		t.Errorf("byte %d differs: util-linux %#02x, ours %#02x", i, ra[i], rb[i])
	}
	sa, _ := os.Stat(a)
	sb, _ := os.Stat(b)
	if sa.Size() != sb.Size() {
		t.Errorf("size: util-linux %d, ours %d", sa.Size(), sb.Size())
	}
}

func headOf(t *testing.T, path string, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestMkswapMatchesUtilLinux(t *testing.T) {
	needMkswap(t)
	junk := make([]byte, 3*PageSize)
	rand.New(rand.NewSource(1)).Read(junk)
	for _, c := range []struct {
		name string
		size int64
		o    MkswapOptions
		fill []byte
	}{
		{"10 pages", 10 * PageSize, MkswapOptions{UUID: testUUID, Label: testLabel}, nil},
		{"1 MiB no label", 1 << 20, MkswapOptions{UUID: testUUID}, nil},
		{"odd size", 1<<20 + 123, MkswapOptions{UUID: testUUID, Label: "x"}, nil},
		{"15-byte label", 64 << 20, MkswapOptions{UUID: testUUID, Label: "abcdefghijklmno"}, nil},
		{"over junk", 1 << 20, MkswapOptions{UUID: testUUID, Label: testLabel}, junk},
		{"over an image", 1 << 20, MkswapOptions{UUID: [16]byte{15: 1}, Label: "again"}, imageHead(t)},
		{"1 GiB sparse", 1 << 30, MkswapOptions{UUID: testUUID, Label: testLabel}, nil},
		{"page size 8192", 1 << 20, MkswapOptions{UUID: testUUID, Label: testLabel, PageSize: 8192}, nil},
		{"page size 65536", 4 << 20, MkswapOptions{UUID: testUUID, PageSize: 65536}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			theirs := sizedFile(t, dir, c.size, c.fill)
			ours := sizedFile(t, dir, c.size, c.fill)
			runMkswap(t, theirs, c.o)
			f, err := os.OpenFile(ours, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := Mkswap(f, c.size, c.o); err != nil {
				t.Fatal(err)
			}
			f.Close()
			n := c.size
			if n > 1<<20 {
				n = 1 << 20 // sparse beyond; both leave it alone
			}
			compareHead(t, theirs, ours, n)
			if c.o.PageSize == 0 {
				// What mkswap made reads back as a valid swap area.
				tf, _ := os.Open(theirs)
				defer tf.Close()
				a, err := ReadArea(tf, c.size, 0)
				if err != nil || a.Kind() != "swap" || !a.Valid() || a.Swap.UUID != c.o.UUID || a.Swap.Label != c.o.Label ||
					uint64(a.Swap.LastPage) != uint64(c.size)/PageSize-1 {
					t.Errorf("ReadArea of util-linux's area: %v %+v", err, a)
				}
			}
		})
	}
}

// imageHead returns the first pages of a synthetic image, to mkswap over.
func imageHead(t *testing.T) []byte {
	dev, _ := buildImage(t, imageSpec{dataPages: 5})
	return dev.b[:4*PageSize]
}

// TestMkswapTruncatesLikeUtilLinux: mkswap caps an area at UINT32_MAX
// pages. A file that big (17 TiB, sparse) fits on tmpfs, not on ext4.
func TestMkswapTruncatesLikeUtilLinux(t *testing.T) {
	needMkswap(t)
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		t.Skipf("no tmpfs at /dev/shm (%v) for a 17 TiB sparse file", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "swsusp-test-")
	if err != nil {
		t.Skipf("/dev/shm: %v", err)
	}
	defer os.RemoveAll(dir)
	const size = 17 << 40
	o := MkswapOptions{UUID: testUUID, Label: testLabel}
	theirs := sizedFile(t, dir, size, nil)
	runMkswap(t, theirs, o)
	page, err := MkswapPage(size, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := headOf(t, theirs, PageSize); !bytes.Equal(got, page) {
		t.Errorf("byte %d differs", firstDiff(got, page))
	}
	if h, _ := ParseSwapHeader(page); h.LastPage != 1<<32-2 {
		t.Errorf("last page %d", h.LastPage)
	}
}

func TestMkswapRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		size int64
		o    MkswapOptions
	}{
		{"9 pages", 9*PageSize + 4095, MkswapOptions{}},
		{"negative", -1, MkswapOptions{}},
		{"16-byte label", 1 << 20, MkswapOptions{Label: "abcdefghijklmnop"}},
		{"NUL in label", 1 << 20, MkswapOptions{Label: "a\x00b"}},
		{"page size 2048", 1 << 20, MkswapOptions{PageSize: 2048}},
		{"page size 12288", 1 << 20, MkswapOptions{PageSize: 12288}},
	} {
		if _, err := MkswapPage(c.size, c.o); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		dev := &memDev{b: make([]byte, 1<<20)}
		if err := Mkswap(dev, c.size, c.o); err == nil || len(dev.writes) != 0 {
			t.Errorf("%s: error %v, writes %v", c.name, err, dev.writes)
		}
	}
}

func TestMkswapRandomUUID(t *testing.T) {
	a, err := MkswapPage(1<<20, MkswapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MkswapPage(1<<20, MkswapOptions{})
	ha, _ := ParseSwapHeader(a)
	hb, _ := ParseSwapHeader(b)
	if ha.UUID == ([16]byte{}) || ha.UUID == hb.UUID {
		t.Errorf("UUIDs %s %s", ha.UUIDString(), hb.UUIDString())
	}
}

// TestMkswapFileWrite checks that Mkswap on an *os.File writes page 0 and
// nothing else.
func TestMkswapFileWrite(t *testing.T) {
	junk := make([]byte, 8*PageSize)
	rand.New(rand.NewSource(2)).Read(junk)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Mkswap(f, 64*PageSize, MkswapOptions{UUID: testUUID}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if len(got) != len(junk) || !bytes.Equal(got[PageSize:], junk[PageSize:]) {
		t.Error("Mkswap wrote outside page 0")
	}
	if !bytes.Equal(got[:bootbitsSize], make([]byte, bootbitsSize)) {
		t.Error("bootbits not zeroed")
	}
}
