package swapsetup

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func machine(t *testing.T, swapContent []byte) *faketree.Tree {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 64 << 20, Label: "swap", Content: swapContent})
	return tr
}

func TestSetupPartition(t *testing.T) {
	tr := machine(t, nil)
	sw := &testutil.Swapper{}
	res, err := SetupPartition(tr.FS(), sw, Options{Device: "PARTLABEL=swap", Label: "hib", Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Made || !res.Activated || res.DevT != "254:2" || res.KernelParams != "resume=UUID="+res.UUID {
		t.Fatalf("result %+v", res)
	}
	if len(sw.On) != 1 || sw.On[0] != "/dev/vda2" {
		t.Fatalf("swapon calls %v, want /dev/vda2", sw.On)
	}
	if got := tr.Read("sys/power/resume"); got != "254:2" {
		t.Fatalf("/sys/power/resume = %q", got)
	}
	f, err := os.Open(tr.FS().Path("dev/vda2"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := swsusp.ReadArea(f, 64<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != "swap" || a.Swap.UUIDString() != res.UUID || a.Swap.Label != "hib" || a.Swap.LastPage != 64<<20/4096-1 {
		t.Fatalf("area %+v, want a swap area with UUID %s", a, res.UUID)
	}
}

func TestSetupKeepsExistingArea(t *testing.T) {
	id, _ := swsusp.ParseUUID("11111111-2222-4333-8444-555555555555")
	page, err := swsusp.MkswapPage(64<<20, swsusp.MkswapOptions{UUID: id, PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	tr := machine(t, page)
	res, err := SetupPartition(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Made || res.UUID != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("result %+v, want the area kept", res)
	}
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	tr := machine(t, nil)
	sw := &testutil.Swapper{}
	res, err := SetupPartition(tr.FS(), sw, Options{Device: "/dev/vda2", DryRun: true, Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 3 || len(sw.On) != 0 || res.Activated {
		t.Fatalf("dry run: %+v, swapon %v", res, sw.On)
	}
	b, _ := os.ReadFile(tr.FS().Path("dev/vda2"))
	if !bytes.Equal(b[:4096], make([]byte, 4096)) {
		t.Fatal("dry run wrote the device")
	}
	if got := tr.Read("sys/power/resume"); got != "0:0" {
		t.Fatalf("dry run set /sys/power/resume to %q", got)
	}
}

func TestSetupRefuses(t *testing.T) {
	ext4 := make([]byte, 2048)
	binary.LittleEndian.PutUint16(ext4[1024+56:], 0xEF53)
	xfs := make([]byte, 4096)
	copy(xfs, "XFSB")
	image := make([]byte, 4096)
	copy(image[4086:], "S1SUSPEND")
	at := func(off int, magic string) []byte {
		b := make([]byte, 0x11000)
		copy(b[off:], magic)
		return b
	}
	lvm := at(512, "LABELONE")
	copy(lvm[512+24:], "LVM2 001")
	mbr := make([]byte, 512)
	mbr[510], mbr[511] = 0x55, 0xAA
	for _, tc := range []struct {
		name    string
		content []byte
		active  bool
		want    string
	}{
		{"file system", ext4, false, "holds an ext4 file system"},
		{"xfs", xfs, false, "holds a xfs file system (blkid TYPE=xfs)"},
		{"image", image, false, "holds a hibernation image"},
		{"active", nil, true, "already an active swap area"},
		{"LUKS", at(0, "LUKS\xba\xbe\x00\x02"), false, "holds a LUKS encrypted volume (blkid TYPE=crypto_LUKS)"},
		{"LVM", lvm, false, "holds an LVM physical volume (blkid TYPE=LVM2_member)"},
		{"md 1.2", at(4096, "\xfc\x4e\x2b\xa9"), false, "holds an md RAID member"},
		{"NTFS", at(3, "NTFS    "), false, "holds a ntfs file system"},
		{"BitLocker", at(3, "-FVE-FS-"), false, "holds a BitLocker encrypted volume"},
		{"bcache", at(4096+24, string(blockdev.BcacheMagic)), false, "holds a bcache device"},
		{"f2fs", at(1024, "\x10\x20\xf5\xf2"), false, "holds a f2fs file system"},
		{"iso9660", at(32769, "CD001"), false, "holds an iso9660 file system"},
		{"a GPT inside", at(512, "EFI PART"), false, "holds a partition table (gpt)"},
		{"an MBR inside", mbr, false, "holds a partition table (dos)"},
	} {
		tr := machine(t, tc.content)
		if tc.active {
			tr.Swap("/dev/vda2 partition 65532 0 -2")
		}
		before, err := os.ReadFile(tr.FS().Path("dev/vda2"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = SetupPartition(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if after, _ := os.ReadFile(tr.FS().Path("dev/vda2")); !bytes.Equal(before, after) {
			t.Errorf("%s: the device changed after the refusal", tc.name)
		}
	}
	// The whole disk of those partitions: its table is not to be overwritten.
	tr := machine(t, nil)
	_, err := SetupPartition(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda", Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "a disk with partitions (/dev/vda1, /dev/vda2)") {
		t.Errorf("whole disk: err = %v, want a refusal naming its partitions", err)
	}
}

func TestRootSwapperRefuses(t *testing.T) {
	if err := (RootSwapper{Root: "/tmp/x"}).Swapon("/dev/vda2", 0); err == nil {
		t.Fatal("RootSwapper activated swap")
	}
}

// A swap on dm-crypt with a new random key at each boot can never hold an image: refused,
// with the layouts that can, and the device byte for byte as it was, --force or not.
func TestSetupRefusesRandomKeySwap(t *testing.T) {
	for _, force := range []bool{false, true} {
		tr := machine(t, nil)
		tr.Mapper(0, "cswap", "CRYPT-PLAIN-cswap", "vda2")
		tr.Write("etc/crypttab", "cswap /dev/vda2 /dev/urandom swap,cipher=aes-xts-plain64\n")
		before, err := os.ReadFile(tr.FS().Path("dev/dm-0"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = SetupPartition(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/dm-0", Priority: -1, Force: force})
		if err == nil || !strings.Contains(err.Error(), "dm-crypt cswap (PLAIN) on partition vda2: cswap gets a new random key at each boot (/etc/crypttab line 1") ||
			!strings.Contains(err.Error(), "cryptsetup luksFormat") {
			t.Errorf("force %v: err = %v, want a refusal naming the random key and the fix", force, err)
		}
		if after, _ := os.ReadFile(tr.FS().Path("dev/dm-0")); !bytes.Equal(before, after) {
			t.Errorf("force %v: the device changed", force)
		}
	}
}
