package blockdev

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func swapPage(t *testing.T, uuid, label string) []byte {
	t.Helper()
	id, err := swsusp.ParseUUID(uuid)
	if err != nil {
		t.Fatal(err)
	}
	p, err := swsusp.MkswapPage(64<<20, swsusp.MkswapOptions{UUID: id, Label: label, PageSize: swsusp.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ext4Super(uuid [16]byte, label string) []byte {
	b := make([]byte, 2048)
	binary.LittleEndian.PutUint16(b[1024+56:], 0xEF53)
	copy(b[1024+104:], uuid[:])
	copy(b[1024+120:], label)
	return b
}

func xfsSuper(uuid [16]byte, label string) []byte {
	b := make([]byte, 4096)
	copy(b, "XFSB")
	binary.BigEndian.PutUint32(b[4:], 4096)
	copy(b[32:], uuid[:])
	copy(b[108:], label)
	return b
}

func TestProbe(t *testing.T) {
	hib := swapPage(t, "11111111-2222-4333-8444-555555555555", "SWAP")
	copy(hib[4086:], "S1SUSPEND\x00")
	const luksUUID = "5f2c1a3e-8d4b-4c6a-9e1f-0a1b2c3d4e5f"
	damaged := faketree.LUKSHeader(2, luksUUID, "root")
	damaged[170], damaged[25] = 0x01, 0xff
	for _, tc := range []struct {
		name string
		data []byte
		want Probe
	}{
		{"swap", swapPage(t, "11111111-2222-4333-8444-555555555555", "SWAP"), Probe{"swap", "11111111-2222-4333-8444-555555555555", "SWAP"}},
		{"image", hib, Probe{"swsusp", "11111111-2222-4333-8444-555555555555", "SWAP"}},
		{"ext4", ext4Super([16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "root"), Probe{"ext4", "deadbeef-0102-0304-0506-0708090a0b0c", "root"}},
		{"xfs", xfsSuper([16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "data"), Probe{"xfs", "deadbeef-0102-0304-0506-0708090a0b0c", "data"}},
		{"LUKS2", faketree.LUKSHeader(2, luksUUID, "cryptroot"), Probe{"crypto_LUKS", luksUUID, "cryptroot"}},
		{"LUKS1 (no label)", faketree.LUKSHeader(1, luksUUID, "cryptroot"), Probe{"crypto_LUKS", luksUUID, ""}},
		{"LUKS2, damaged header", damaged, Probe{"crypto_LUKS", "", ""}},
		{"LUKS, cut short", faketree.LUKSHeader(2, luksUUID, "x")[:100], Probe{"crypto_LUKS", "", "x"}},
		{"zeros", make([]byte, 8192), Probe{}},
		{"short", []byte{1, 2, 3}, Probe{}},
	} {
		if got := probeBytes(tc.data); got != tc.want {
			t.Errorf("%s: probe = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestListAndResolve(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vda", 254,
		faketree.Part{Size: 8 << 20, Label: "root", Content: ext4Super([16]byte{1}, "ROOT")},
		faketree.Part{Size: 64 << 20, Label: "swap", Content: swapPage(t, "11111111-2222-4333-8444-555555555555", "SWAP")})
	tr.Mapper(0, "vda2_crypt", "CRYPT-LUKS2-0a1b-vda2_crypt", "vda2")
	tr.Mapper(1, "guest--vg-swap_1", "LVM-abcdef", "dm-0")
	devs, err := List(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	all := devs
	devs = devs[2:] // the dm devices sort first
	if len(devs) != 3 {
		t.Fatalf("%d devices, want vda vda1 vda2: %+v", len(devs), devs)
	}
	if devs[2].Parent != "vda" || devs[2].PartN != 2 || devs[2].Size != 64<<20 {
		t.Fatalf("vda2 = %+v", devs[2])
	}
	// The swap area's header page, as read, goes with it (ReadArea's first page); a file
	// system's first page does not.
	if want := swapPage(t, "11111111-2222-4333-8444-555555555555", "SWAP"); string(devs[2].SwapPage) != string(want[:4096]) {
		t.Errorf("vda2's SwapPage: %d bytes, not its first page", len(devs[2].SwapPage))
	}
	if devs[1].SwapPage != nil {
		t.Errorf("vda1 (ext4) has a SwapPage of %d bytes", len(devs[1].SwapPage))
	}
	for spec, want := range map[string]string{
		"UUID=11111111-2222-4333-8444-555555555555": "vda2",
		"LABEL=ROOT":     "vda1",
		"PARTLABEL=swap": "vda2",
		"/dev/vda1":      "vda1",
		"254:2":          "vda2",
		"fe02":           "vda2",
		"LABEL=nothing":  "",
		"/dev/sda":       "",
		// udev's links to device-mapper devices, matched by dm/name.
		"/dev/mapper/vda2_crypt":       "dm-0",
		"/dev/mapper/guest--vg-swap_1": "dm-1",
		"/dev/guest-vg/swap_1":         "dm-1",
		"/dev/guest-vg/swap-1":         "",
		"/dev/mapper/guest-vg-swap_1":  "",
	} {
		d, err := Resolve(append(devs, all[:2]...), spec)
		if want == "" {
			if err == nil {
				t.Errorf("Resolve(%q) = %s, want not found", spec, d.Name)
			}
			continue
		}
		if err != nil || d.Name != want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", spec, d.Name, err, want)
		}
	}
	if _, err := Resolve(devs, "WWN=1"); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("Resolve(WWN=1) = %v, want unknown key", err)
	}
}

// readDevice takes the numbers from the uevent, and from the dev file only where the uevent has
// none; a dm/name is read of dm-N devices alone (the kernel names every device-mapper device so).
func TestReadDeviceSources(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20})
	tr.Mapper(3, "vda1_crypt", "CRYPT-LUKS2-0a1b-vda1_crypt", "vda1")
	base := "sys/devices/virtual/block/vda/vda1/"
	tr.Write(base+"dev", "254:99\n") // not read: the uevent has the numbers
	tr.Write("sys/devices/virtual/block/vda/dm/name", "not-a-dm\n")
	tr.Write("sys/devices/virtual/block/dm-3/uevent", "DEVNAME=dm-3\nDEVTYPE=disk\n") // no numbers: the dev file's
	devs, err := ListSysfs(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Device{}
	for _, d := range devs {
		got[d.Name] = d
	}
	if d := got["vda1"]; d.DevT() != "254:1" || d.Parent != "vda" || d.PartN != 1 || d.Size != 8<<20 {
		t.Errorf("vda1 = %+v, want 254:1 from its uevent, partition 1 of vda, 8 MiB", d)
	}
	if d := got["vda"]; d.DMName != "" {
		t.Errorf("vda has device-mapper name %q: read where no dm device can be", d.DMName)
	}
	if d := got["dm-3"]; d.DevT() != "253:3" || d.DMName != "vda1_crypt" {
		t.Errorf("dm-3 = %+v, want 253:3 from its dev file, named vda1_crypt", d)
	}
	tr.Write("sys/devices/virtual/block/dm-3/dev", "garbage\n")
	if devs, _ := ListSysfs(tr.FS()); len(devs) != 2 {
		t.Errorf("a device with no numbers anywhere was listed: %+v", devs)
	}
}

func FuzzProbe(f *testing.F) {
	f.Add(make([]byte, 4096))
	f.Fuzz(func(t *testing.T, b []byte) { _ = probeBytes(b) })
}

func TestPartUUIDFromGPT(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vdb", 254, faketree.Part{Size: 1 << 20}, faketree.Part{Size: 1 << 20})
	d, err := diskfs.Open(tr.FS().Path("dev/vdb"))
	if err != nil {
		t.Fatal(err)
	}
	const guid = "8F2A1C3E-5B6D-4E7F-9A0B-1C2D3E4F5A6B"
	tbl := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*gpt.Partition{
		{Index: 1, Start: 2048, End: 4095, Type: gpt.LinuxFilesystem, Name: "root"},
		{Index: 2, Start: 4096, End: 8191, Type: gpt.LinuxSwap, Name: "swap", GUID: guid},
	}}
	if err := d.Partition(tbl); err != nil {
		t.Fatal(err)
	}
	d.Close()
	devs, err := List(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(devs, "PARTUUID="+strings.ToLower(guid))
	if err != nil || got.Name != "vdb2" {
		t.Fatalf("Resolve(PARTUUID=%s) = %s, %v; want vdb2", guid, got.Name, err)
	}
}

func TestLVMName(t *testing.T) {
	for _, tc := range []struct{ vg, lv, want string }{
		{"vg", "root", "vg-root"},
		{"guest-vg", "swap_1", "guest--vg-swap_1"},
		{"a-b-c", "d-e", "a--b--c-d--e"},
	} {
		if got := LVMName(tc.vg, tc.lv); got != tc.want {
			t.Errorf("LVMName(%q, %q) = %q, want %q", tc.vg, tc.lv, got, tc.want)
		}
	}
}

// The LUKS headers that cryptsetup 2.6.1 writes (luksFormat --uuid, on a file: the first page,
// testdata/luks*-header.bin) give blkid's UUID, and LUKS2 its label.
func TestProbeLUKS(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Probe
	}{
		{"luks2-header.bin", Probe{"crypto_LUKS", "0a1b2c3d-1111-4222-8333-444455556666", "TESTLABEL"}},
		{"luks1-header.bin", Probe{"crypto_LUKS", "0a1b2c3d-1111-4222-8333-777788889999", ""}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := probeBytes(b); got != tc.want {
			t.Errorf("%s: probe = %+v, want %+v", tc.file, got, tc.want)
		}
	}
}

func TestSplitLVName(t *testing.T) {
	for _, tc := range []struct{ dm, vg, lv string }{
		{"guest--vg-swap_1", "guest-vg", "swap_1"},
		{"vg-root", "vg", "root"},
		{"a--b--c-d--e", "a-b-c", "d-e"},
		{"vg---lv", "vg-", "lv"},
		{"vg-lv-real", "", ""},
		{"novg", "", ""},
		{"-lv", "", ""},
		{"vg-", "", ""},
		{"", "", ""},
	} {
		vg, lv, err := SplitLVName(tc.dm)
		if vg != tc.vg || lv != tc.lv || (err == nil) != (tc.vg != "") {
			t.Errorf("SplitLVName(%q) = %q, %q, %v; want %q, %q", tc.dm, vg, lv, err, tc.vg, tc.lv)
		}
	}
}
