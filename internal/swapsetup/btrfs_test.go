package swapsetup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The chunk tree read from an image (no mount needed), and a flipped byte caught.
func TestReadBtrfsDevice(t *testing.T) {
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		t.Skip("mkfs.btrfs is not installed (apt-get install btrfs-progs)")
	}
	img := filepath.Join(t.TempDir(), "b.img")
	os.WriteFile(img, nil, 0o600)
	os.Truncate(img, 512<<20)
	run(t, "mkfs.btrfs", "-q", "-d", "single", "-m", "dup", img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := readBtrfsDevice(f)
	if err != nil {
		t.Fatal(err)
	}
	var data, sys, meta int
	for _, c := range d.Chunks {
		switch {
		case c.Type&1 != 0:
			data++
			if btrfsProfile(c.Type) != "single" {
				t.Errorf("data chunk %+v is not single", c)
			}
			if p, err := d.Physical(c.Logical + 8192); err != nil || p != c.Stripes[0].Offset+8192 {
				t.Errorf("Physical(%d) = %d, %v", c.Logical+8192, p, err)
			}
		case c.Type&2 != 0:
			sys++
		case c.Type&4 != 0:
			meta++
			if _, err := d.Physical(c.Logical); err == nil || !strings.Contains(err.Error(), "dup chunk") {
				t.Errorf("a dup metadata address mapped as swap: %v", err)
			}
		}
	}
	if data == 0 || sys == 0 || meta == 0 || d.DevID != 1 || d.NumDevices != 1 {
		t.Fatalf("chunks %+v, device %d of %d", d.Chunks, d.DevID, d.NumDevices)
	}
	if _, err := d.Physical(1 << 50); err == nil {
		t.Error("an address in no chunk mapped")
	}
	// One byte of the superblock's sys_chunk_array flipped: the checksum says so.
	b := make([]byte, 1)
	f.ReadAt(b, btrfsSuperOffset+0x32b+20)
	b[0] ^= 0xff
	f.WriteAt(b, btrfsSuperOffset+0x32b+20)
	if _, err := readBtrfsDevice(f); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("flipped superblock: %v", err)
	}
	if _, err := readBtrfsDevice(strings.NewReader(strings.Repeat("\x00", 1<<17))); err == nil || !strings.Contains(err.Error(), "no btrfs superblock") {
		t.Fatalf("zeros: %v", err)
	}
}

func TestCheckExtents(t *testing.T) {
	const m = 1 << 20
	for _, tc := range []struct {
		name string
		ext  []Extent
		want string
	}{
		{"whole", []Extent{{0, 4096, m, extentUnwritten}, {m, 9 * m, m, extentLast}}, ""},
		{"hole inside", []Extent{{0, 4096, m, 0}, {m + 4096, 9 * m, m - 4096, extentLast}}, "hole at bytes 1048576-1052672"},
		{"short", []Extent{{0, 4096, m, extentLast}}, "hole at bytes 1048576-2097152"},
		{"empty", nil, "hole at bytes 0-2097152"},
		{"delalloc", []Extent{{0, 0, 2 * m, extentDelalloc | extentUnknown | extentLast}}, "has no known place"},
		{"compressed", []Extent{{0, 4096, 2 * m, extentEncoded | extentLast}}, "compressed"},
		{"inline", []Extent{{0, 4096, 2 * m, extentDataInline | extentNotAligned}}, "not block aligned"},
		{"shared", []Extent{{0, 4096, 2 * m, extentShared}}, "shared"},
	} {
		err := checkExtents(tc.ext, 2*m)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
