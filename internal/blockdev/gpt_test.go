package blockdev

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// craftedGPT writes a disk image whose primary GPT header (valid signature and CRC) claims count
// entries of entry bytes at sector first.
func craftedGPT(t *testing.T, size int64, first uint64, count, entry uint32) string {
	t.Helper()
	hdr := make([]byte, 92)
	copy(hdr, "EFI PART")
	binary.LittleEndian.PutUint32(hdr[8:], 0x00010000) // revision 1.0
	binary.LittleEndian.PutUint32(hdr[12:], 92)        // header size
	binary.LittleEndian.PutUint64(hdr[24:], 1)         // this header's LBA
	binary.LittleEndian.PutUint64(hdr[32:], uint64(size/512-1))
	binary.LittleEndian.PutUint64(hdr[40:], 34)
	binary.LittleEndian.PutUint64(hdr[48:], uint64(size/512-34))
	binary.LittleEndian.PutUint64(hdr[72:], first)
	binary.LittleEndian.PutUint32(hdr[80:], count)
	binary.LittleEndian.PutUint32(hdr[84:], entry)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr))
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(hdr, 512); err != nil {
		t.Fatal(err)
	}
	return p
}

// A crafted table is refused with an error naming it, before any allocation from its fields:
// go-diskfs alone would allocate count × entry bytes (here up to 512 GiB) in PID 1.
func TestCraftedGPTRefused(t *testing.T) {
	const size = 64 << 20
	for _, tc := range []struct {
		name         string
		first        uint64
		count, entry uint32
		want         string
	}{
		{"4 G entries", 2, 0xffffffff, 128, "4294967295 entries"},
		{"huge entries", 2, 128, 0x7fffffff, "entries of 2147483647 bytes"},
		{"no entries", 2, 0, 128, "0 entries"},
		{"array past the end", size/512 - 4, 128, 128, "outside the disk"},
		{"array at sector 0", 0, 128, 128, "outside the disk"},
	} {
		_, err := GPTPartitions(craftedGPT(t, size, tc.first, tc.count, tc.entry))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: GPTPartitions = %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	// The usual table passes the bounds (and then fails go-diskfs's entry CRC: no entries written).
	if err := checkGPTHeader(mustRead(t, craftedGPT(t, size, 2, 128, 128))[512:604], size, 512); err != nil {
		t.Errorf("a usual header: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}
