package swapsetup

import (
	"bytes"
	"encoding/binary"
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

const (
	grubText    = "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=/dev/old\"\nGRUB_CMDLINE_LINUX=\"\"\n"
	cmdlineText = "root=/dev/vda1 ro resume_offset=77 quiet\n"
	fstabText   = "/dev/vda1 / ext4 defaults 0 1\n"
)

func bootFiles(tr *faketree.Tree) {
	tr.Write("etc/default/grub", grubText)
	tr.Write("etc/kernel/cmdline", cmdlineText)
	tr.Write("etc/fstab", fstabText)
}

func TestSetupTwiceThenUndo(t *testing.T) {
	tr := machine(t, nil)
	bootFiles(tr)
	sw := &testutil.Swapper{}
	o := Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	want := "resume=UUID=" + res.UUID
	if res.KernelParams != want {
		t.Fatalf("params %q", res.KernelParams)
	}
	check := func(when string) {
		t.Helper()
		if got := tr.Read("etc/default/grub"); !strings.Contains(got, `GRUB_CMDLINE_LINUX_DEFAULT="quiet `+want+`"`) || strings.Contains(got, "/dev/old") {
			t.Fatalf("%s: grub:\n%s", when, got)
		}
		if got := tr.Read("etc/kernel/cmdline"); got != "root=/dev/vda1 ro "+want+" quiet" {
			t.Fatalf("%s: kernel cmdline %q", when, got)
		}
		if got := tr.Read("etc/fstab"); strings.Count(got, "UUID="+res.UUID+" none swap defaults,pri=3 0 0") != 1 {
			t.Fatalf("%s: fstab:\n%s", when, got)
		}
		if got := tr.Read("etc/hibernate/resume.json"); !strings.Contains(got, `"resume": "UUID=`+res.UUID+`"`) || strings.Contains(got, "resume_offset") {
			t.Fatalf("%s: our config %s", when, got)
		}
		if tr.Read("etc/default/grub.hibernate-backup") != strings.TrimSpace(grubText) || tr.Read("etc/kernel/cmdline.hibernate-backup") != strings.TrimSpace(cmdlineText) {
			t.Fatalf("%s: backups are not the originals", when)
		}
	}
	check("first run")
	// As the kernel would show it after swapon.
	tr.Swap("/dev/vda2 partition 65532 0 3")
	again, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	check("second run")
	if again.Made || len(sw.On) != 1 || again.UUID != res.UUID {
		t.Fatalf("second run %+v, swapon %v", again, sw.On)
	}
	for _, a := range again.Actions {
		if !strings.HasPrefix(a, "write 0 to /sys/power/resume_offset") && !strings.HasPrefix(a, "record what") {
			t.Fatalf("second run changed something: %q", a)
		}
	}

	// Dry run of the undo: says everything, changes nothing.
	plan, err := Undo(tr.FS(), sw, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) < 6 || !tr.FS().Exists(StateName) {
		t.Fatalf("undo plan %q", plan.Actions)
	}
	check("undo dry run")

	sw.Off = nil
	if _, err := Undo(tr.FS(), sw, false); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/default/grub": grubText, "etc/kernel/cmdline": cmdlineText, "etc/fstab": fstabText} {
		if got, _ := os.ReadFile(tr.FS().Path(name)); string(got) != want {
			t.Errorf("after undo %s = %q, want %q", name, got, want)
		}
	}
	if tr.FS().Exists("etc/hibernate/resume.json") || tr.FS().Exists(StateName) {
		t.Error("undo left our config or the state file")
	}
	if len(sw.Off) != 1 || sw.Off[0] != "/dev/vda2" {
		t.Errorf("swapoff %v", sw.Off)
	}
	b, _ := os.ReadFile(tr.FS().Path("dev/vda2"))
	if !bytes.Equal(b[:4096], make([]byte, 4096)) {
		t.Error("undo did not put back the first page")
	}
	if _, err := Undo(tr.FS(), sw, false); err == nil || !strings.Contains(err.Error(), "nothing to undo") {
		t.Errorf("second undo: %v", err)
	}
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

func TestSetParams(t *testing.T) {
	for _, tc := range []struct{ in, want, prev string }{
		{"quiet", "quiet resume=UUID=a resume_offset=5", ""},
		{"resume=/dev/x quiet resume_offset=9", "resume=UUID=a resume_offset=5 quiet", "resume=/dev/x resume_offset=9"},
		{"", "resume=UUID=a resume_offset=5", ""},
	} {
		got, prev := setParams(tc.in, []string{"resume=UUID=a", "resume_offset=5"})
		if got != tc.want || strings.Join(prev, " ") != tc.prev {
			t.Errorf("setParams(%q) = %q %q", tc.in, got, prev)
		}
		if back := unsetParams(got, []string{"resume=UUID=a", "resume_offset=5"}, prev); strings.Join(strings.Fields(back), " ") != strings.Join(strings.Fields(tc.in), " ") && tc.prev == "" {
			t.Errorf("unsetParams back to %q from %q", back, tc.in)
		}
	}
	// GRUB without the variable gets it, and loses it again on undo.
	neu, added := editGrub("GRUB_DEFAULT=0\n", func(v string) string { s, _ := setParams(v, []string{"resume=UUID=a"}); return s })
	if !added || neu != "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"resume=UUID=a\"\n" {
		t.Fatalf("editGrub added %v: %q", added, neu)
	}
	q, v := grubValue(`'quiet splash'`)
	if q != "'" || v != "quiet splash" {
		t.Fatalf("grubValue: %q %q", q, v)
	}
}

func TestSwapFileSetupUndo(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	tr.Write("etc/fstab", fstabText)
	tr.Write("etc/kernel/cmdline", cmdlineText)
	sw := &testutil.Swapper{}
	o := Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1, Fstab: true, WriteBootConfig: true}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.KernelParams, "resume=UUID=") || !strings.Contains(tr.Read("etc/kernel/cmdline"), res.KernelParams) ||
		!strings.Contains(tr.Read("etc/fstab"), "/mnt/swapfile none swap defaults 0 0") {
		t.Fatalf("%+v\ncmdline %q\nfstab %q", res, tr.Read("etc/kernel/cmdline"), tr.Read("etc/fstab"))
	}
	tr.Swap("/mnt/swapfile file 16380 0 -2")
	if _, err := Setup(tr.FS(), sw, o); err != nil {
		t.Fatal(err)
	}
	if strings.Count(tr.Read("etc/fstab"), "/mnt/swapfile") != 1 {
		t.Fatalf("fstab after two runs:\n%s", tr.Read("etc/fstab"))
	}
	if _, err := Setup(tr.FS(), sw, Options{File: "/mnt/other", Size: 16 << 20, Priority: -1}); err == nil || !strings.Contains(err.Error(), "--undo") {
		t.Fatalf("setup of another swap over a recorded one: %v", err)
	}
	if _, err := Undo(tr.FS(), sw, false); err != nil {
		t.Fatal(err)
	}
	if tr.FS().Exists("mnt/swapfile") || tr.Read("etc/fstab") != strings.TrimSpace(fstabText) || tr.Read("etc/kernel/cmdline") != strings.TrimSpace(cmdlineText) {
		t.Fatal("undo left the file, the fstab line or the parameters")
	}
	if len(sw.Off) != 1 || sw.Off[0] != "/mnt/swapfile" {
		t.Fatalf("swapoff %v", sw.Off)
	}
}

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
