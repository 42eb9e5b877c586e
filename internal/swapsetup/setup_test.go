package swapsetup

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func bootFiles(tr *faketree.Tree) {
	tr.Write("etc/default/grub", grubText)
	tr.Write("etc/kernel/cmdline", cmdlineText)
	tr.Write("etc/fstab", fstabText)
}

func TestSetupDryRunWritesNothing(t *testing.T) {
	tr := machine(t, nil)
	bootFiles(tr)
	res, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1, Fstab: true, WriteBootConfig: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) < 6 {
		t.Fatalf("dry run says %q", res.Actions)
	}
	if tr.Read("etc/default/grub") != strings.TrimSpace(grubText) || tr.Read("etc/fstab") != strings.TrimSpace(fstabText) ||
		tr.FS().Exists(StateName) || tr.FS().Exists("etc/hibernate/resume.json") || tr.FS().Exists("etc/default/grub.hibernate-backup") {
		t.Fatal("dry run changed a file")
	}
}

func TestSetupRefusalRecordsNothing(t *testing.T) {
	tr := machine(t, []byte("not a swap area, not empty"))
	ext4 := make([]byte, 2048)
	binary.LittleEndian.PutUint16(ext4[1024+56:], 0xEF53)
	os.WriteFile(tr.FS().Path("dev/vda2"), ext4, 0o644)
	if _, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1}); err == nil {
		t.Fatal("overwrote ext4")
	}
	if tr.FS().Exists(StateName) {
		t.Fatal("a refused setup left a state file")
	}
}

func TestSetupZram(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("zram0", 252)
	tr.Swap("/dev/zram0 partition 1000 0 100")
	_, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "only swap is zram") || !strings.Contains(err.Error(), "--file") {
		t.Fatalf("err = %v", err)
	}
	_, err = Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/zram0", Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "compressed RAM disk") {
		t.Fatalf("err = %v", err)
	}
}

// Setup twice, the second time naming the partition another way: the same partition, no refusal.
func TestSetupTwiceWithAnotherSpec(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 64 << 20, Label: "swap"})
	if _, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "PARTLABEL=swap", Priority: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1}); err != nil {
		t.Fatalf("second setup of the same partition: %v", err)
	}
}

const (
	grubText    = "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=/dev/old\"\nGRUB_CMDLINE_LINUX=\"\"\n"
	cmdlineText = "root=/dev/vda1 ro resume_offset=77 quiet\n"
	fstabText   = "/dev/vda1 / ext4 defaults 0 1\n"
)
