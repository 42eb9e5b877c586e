package swapsetup

import (
	"io"
	"os"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func gptDisk(t *testing.T, tr *faketree.Tree) string {
	tr.Disk("vdb", 254)
	p := tr.FS().Path("dev/vdb")
	d, err := diskfs.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tbl := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*gpt.Partition{
		{Index: 1, Start: 2048, End: 2048 + 16<<11 - 1, Type: gpt.LinuxFilesystem, Name: "root"},
	}}
	if err := d.Partition(tbl); err != nil {
		t.Fatal(err)
	}
	return p
}

func readGPT(t *testing.T, p string) *gpt.Table {
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatal(err)
	}
	return pt.(*gpt.Table)
}

func TestNewPartition(t *testing.T) {
	tr := faketree.New(t)
	p := gptDisk(t, tr)
	sw := &testutil.Swapper{}
	o := Options{NewPartition: "/dev/vdb", Size: 32 << 20, Priority: -1}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	tbl := readGPT(t, p)
	var swp *gpt.Partition
	for _, q := range tbl.Partitions {
		if q != nil && q.Name == NewPartitionName {
			swp = q
		}
	}
	if swp == nil || swp.Start != 2048+16<<11 || swp.End-swp.Start+1 != 32<<11 || swp.Type != gpt.LinuxSwap || res.Partition != 2 {
		t.Fatalf("partition %+v, result %+v", swp, res)
	}
	f, _ := os.Open(p)
	a, err := swsusp.ReadArea(io.NewSectionReader(f, int64(swp.Start)*512, 32<<20), 32<<20, 0)
	f.Close()
	if err != nil || a.Kind() != "swap" || a.Swap.UUIDString() != res.SwapUUID || res.KernelParams != "resume=UUID="+res.SwapUUID {
		t.Fatalf("area %+v (%v), result %+v", a, err, res)
	}
	if len(sw.On) != 0 || !strings.Contains(strings.Join(res.Notes, "\n"), "partprobe") {
		t.Fatalf("activated a partition the kernel does not list: %v %q", sw.On, res.Notes)
	}
	again, err := Setup(tr.FS(), sw, o)
	if err != nil || again.Made || again.SwapUUID != res.SwapUUID || len(readGPT(t, p).Partitions) != len(tbl.Partitions) {
		t.Fatalf("second run %+v, %v", again, err)
	}
	if _, err := Undo(tr.FS(), sw, false); err != nil {
		t.Fatal(err)
	}
	for _, q := range readGPT(t, p).Partitions {
		if q != nil && q.Start != 0 && q.Name == NewPartitionName {
			t.Fatal("undo left the partition")
		}
	}
}

func TestFreeSpan(t *testing.T) {
	tr := faketree.New(t)
	tbl := readGPT(t, gptDisk(t, tr))
	if _, _, err := freeSpan(tbl, 100<<20); err == nil || !strings.Contains(err.Error(), "largest is 46 MiB") {
		t.Fatalf("100 MiB on a 64 MiB disk: %v", err)
	}
}
