package swapsetup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func readArea(t *testing.T, path string) *swsusp.Area {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	a, err := swsusp.ReadArea(f, st.Size(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkSwapFile runs setup for /mnt/swapfile twice and checks the file, the offset against want
// (another tool's answer), the runtime resume settings, and that the second run changes nothing.
func checkSwapFile(t *testing.T, tr *faketree.Tree, loop string, offsetOf func(path string) uint64) Result {
	t.Helper()
	sw := &testutil.Swapper{}
	o := Options{File: "/mnt/swapfile", Size: 64 << 20, Priority: 5}
	res, err := SetupFile(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	p := tr.FS().Path("mnt/swapfile")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != 64<<20 {
		t.Fatalf("swap file mode %v size %d, want 0600 and 64 MiB", st.Mode(), st.Size())
	}
	a := readArea(t, p)
	if a.Kind() != "swap" || a.Swap.UUIDString() != res.SwapUUID || a.Swap.LastPage != 64<<20/4096-1 {
		t.Fatalf("area %+v, want a swap area with UUID %s", a, res.SwapUUID)
	}
	want := offsetOf(p)
	t.Logf("%s on %s: resume_offset %d (the other tool: %d)", res.FSType, loop, res.ResumeOffset, want)
	if res.ResumeOffset != want || want == 0 {
		t.Fatalf("resume_offset %d, the other tool says %d", res.ResumeOffset, want)
	}
	if res.Device != loop || !res.Made || !res.Activated || len(sw.On) != 1 || sw.On[0] != "/mnt/swapfile" {
		t.Fatalf("result %+v, swapon %v", res, sw.On)
	}
	if res.KernelParams != "resume=UUID="+res.UUID+" resume_offset="+strconv.FormatUint(want, 10) {
		t.Fatalf("kernel params %q", res.KernelParams)
	}
	blkid := strings.TrimSpace(run(t, "blkid", "-p", "-o", "value", "-s", "UUID", loop))
	if res.UUID != blkid {
		t.Fatalf("resume=UUID=%s, blkid says the file system is %s", res.UUID, blkid)
	}
	if got := tr.Read("sys/power/resume_offset"); got != strconv.FormatUint(want, 10) {
		t.Fatalf("/sys/power/resume_offset = %q", got)
	}
	if got := tr.Read("sys/power/resume"); got != res.DevT {
		t.Fatalf("/sys/power/resume = %q, want %s", got, res.DevT)
	}
	// Again, now that it is active: nothing made, nothing activated, the same answer.
	tr.Swap("/mnt/swapfile file 65532 0 5")
	again, err := SetupFile(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Made || len(sw.On) != 1 || again.ResumeOffset != res.ResumeOffset || again.SwapUUID != res.SwapUUID || again.KernelParams != res.KernelParams {
		t.Fatalf("second run %+v, first %+v", again, res)
	}
	return res
}

func TestSwapFileExt4(t *testing.T) {
	tr := faketree.New(t)
	loop := loopFS(t, tr, "ext4", 256, "", "-b", "4096")
	checkSwapFile(t, tr, loop, func(p string) uint64 { return filefragOffset(t, p) })
}

func TestSwapFileXFS(t *testing.T) {
	tr := faketree.New(t)
	loop := loopFS(t, tr, "xfs", 320, "")
	checkSwapFile(t, tr, loop, func(p string) uint64 { return filefragOffset(t, p) })
}

func btrfsMapSwapfile(t *testing.T) func(string) uint64 {
	return func(p string) uint64 {
		need(t, "btrfs")
		out := strings.TrimSpace(run(t, "btrfs", "inspect-internal", "map-swapfile", "-r", p))
		n, err := strconv.ParseUint(out, 10, 64)
		if err != nil {
			t.Fatalf("btrfs inspect-internal map-swapfile -r: %q", out)
		}
		return n
	}
}

func TestSwapFileBtrfs(t *testing.T) {
	tr := faketree.New(t)
	// mixed sizes: metadata DUP, data single; the data chunk is not at its physical address.
	loop := loopFS(t, tr, "btrfs", 512, "")
	res := checkSwapFile(t, tr, loop, btrfsMapSwapfile(t))
	f, err := os.Open(tr.FS().Path("mnt/swapfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ext, err := fiemap(f)
	if err != nil {
		t.Fatal(err)
	}
	if ext[0].Physical/4096 == res.ResumeOffset {
		t.Fatalf("btrfs logical %d is its physical address: this file system does not test the chunk mapping", ext[0].Physical)
	}
}

// On a compress-forced btrfs the file is still not compressed: NOCOW files never are.
func TestSwapFileBtrfsCompressMount(t *testing.T) {
	tr := faketree.New(t)
	loop := loopFS(t, tr, "btrfs", 512, "compress-force=zstd")
	checkSwapFile(t, tr, loop, btrfsMapSwapfile(t))
}

func TestSwapFileBtrfsRefuses(t *testing.T) {
	t.Run("dup data", func(t *testing.T) {
		tr := faketree.New(t)
		loopFS(t, tr, "btrfs", 512, "", "-d", "dup", "-m", "dup")
		_, err := SetupFile(tr.FS(), &testutil.Swapper{}, Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1})
		if err == nil || !strings.Contains(err.Error(), "dup chunk") {
			t.Fatalf("err = %v, want a refusal of the dup profile", err)
		}
	})
	t.Run("two devices", func(t *testing.T) {
		need(t, "mkfs.btrfs", "losetup", "mount")
		tr := faketree.New(t)
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
		for _, p := range []string{a, b} {
			os.WriteFile(p, nil, 0o600)
			os.Truncate(p, 300<<20)
		}
		run(t, "mkfs.btrfs", "-q", "-d", "single", "-m", "single", a, b)
		var loops []string
		for _, p := range []string{a, b} {
			l := strings.TrimSpace(run(t, "losetup", "-f", "--show", p))
			t.Cleanup(func() { exec.Command("losetup", "-d", l).Run() })
			loops = append(loops, l)
		}
		tr.Mkdir("mnt")
		mnt := tr.FS().Path("mnt")
		run(t, "mount", "-t", "btrfs", "-o", "device="+loops[1], loops[0], mnt)
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		_, err := SetupFile(tr.FS(), &testutil.Swapper{}, Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1})
		if err == nil || !strings.Contains(err.Error(), "2 devices") {
			t.Fatalf("err = %v, want a refusal of the 2-device btrfs", err)
		}
	})
}

func TestSwapFileRefusesFileSystems(t *testing.T) {
	need(t, "mount")
	tr := faketree.New(t)
	tr.Mkdir("mnt")
	mnt := tr.FS().Path("mnt")
	run(t, "mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	_, err := SetupFile(tr.FS(), &testutil.Swapper{}, Options{File: "/mnt/swapfile", Size: 1 << 20, Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "tmpfs: it lives in RAM") {
		t.Fatalf("err = %v, want tmpfs refused", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "swapfile")); err == nil {
		t.Fatal("a refused setup created the file")
	}
}

// A swap file others can read is never activated; a file that holds data is not overwritten.
func TestSwapFileRefusesExisting(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	p := tr.FS().Path("mnt/swapfile")
	page, err := swsusp.MkswapPage(16<<20, swsusp.MkswapOptions{PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, page, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	os.Truncate(p, 16<<20)
	sw := &testutil.Swapper{}
	_, err = SetupFile(tr.FS(), sw, Options{File: "/mnt/swapfile", Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "mode 0644") || len(sw.On) != 0 {
		t.Fatalf("err = %v, swapon %v: want a refusal of mode 0644", err, sw.On)
	}
	// 0600, but a user's: refused, since its owner could read and change the image.
	os.Chmod(p, 0o600)
	if os.Getuid() == 0 {
		if err := os.Chown(p, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		_, err = SetupFile(tr.FS(), sw, Options{File: "/mnt/swapfile", Priority: -1})
		if err == nil || !strings.Contains(err.Error(), "does not belong to root") || len(sw.On) != 0 {
			t.Fatalf("err = %v, want a refusal of a file owned by a user", err)
		}
		os.Chown(p, 0, 0)
	}
	// 0600 and root's now, but sparse: refused for its holes.
	_, err = SetupFile(tr.FS(), sw, Options{File: "/mnt/swapfile", Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "hole") || len(sw.On) != 0 {
		t.Fatalf("err = %v, want a refusal of a sparse file", err)
	}
	// With --force it is made anew, whole.
	res, err := SetupFile(tr.FS(), sw, Options{File: "/mnt/swapfile", Size: 16 << 20, Force: true, Priority: -1})
	if err != nil || !res.Made || res.ResumeOffset != filefragOffset(t, p) {
		t.Fatalf("forced: %+v, %v", res, err)
	}
	os.WriteFile(tr.FS().Path("mnt/data"), []byte("precious"), 0o600)
	_, err = SetupFile(tr.FS(), sw, Options{File: "/mnt/data", Size: 16 << 20, Priority: -1})
	if err == nil || !strings.Contains(err.Error(), "not a swap area") {
		t.Fatalf("err = %v, want a refusal to overwrite data", err)
	}
}

// ext4 with 1 KiB blocks (mkfs's choice for small file systems) can put page 0 of the file off a
// page boundary, where the kernel cannot put a swap page.
func TestSwapFileRefusesSmallBlocks(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "1024")
	_, err := SetupFile(tr.FS(), &testutil.Swapper{}, Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1})
	if err != nil && !strings.Contains(err.Error(), "blocks are 1024 bytes") {
		t.Fatalf("err = %v, want the block size named", err)
	}
	if err == nil {
		t.Log("this 1 KiB-block ext4 happened to place the file on a page boundary")
	}
}

func TestSwapFileDryRun(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	sw := &testutil.Swapper{}
	res, err := SetupFile(tr.FS(), sw, Options{File: "/mnt/swapfile", DryRun: true, Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tr.FS().Path("mnt/swapfile")); err == nil || len(sw.On) != 0 {
		t.Fatal("dry run made the file or activated it")
	}
	if res.SizeBytes != 1<<30 || !strings.HasSuffix(res.KernelParams, "resume_offset=?") || tr.Read("sys/power/resume") != "0:0" {
		t.Fatalf("dry run %+v", res)
	}
}

func TestAutoSize(t *testing.T) {
	tr := faketree.New(t)
	for kib, want := range map[int64]int64{1 << 20: 1 << 30, 1<<20 - 40<<10: 1 << 30, 1<<20 + 1: 2 << 30, 16 << 20: 16 << 30} {
		tr.Meminfo(map[string]int64{"MemTotal": kib})
		if got, err := AutoSize(tr.FS()); err != nil || got != want {
			t.Errorf("MemTotal %d kB: AutoSize %d, %v; want %d", kib, got, err, want)
		}
	}
	tr.Write("proc/meminfo", "MemFree: 1 kB\n")
	if _, err := AutoSize(tr.FS()); err == nil {
		t.Error("no MemTotal accepted")
	}
}

// setup --hibernate-only makes the file, stamps the record and points this boot's hibernation at
// it, but never activates it; it records the file as a hibernation file for hibernate now. It
// refuses what would make the file daily swap, and an active swap file.
func TestHibernationFile(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	sw := &testutil.Swapper{}
	rec := swsusp.Record{KernelRelease: "6.1.0-test", BootID: "b0"}
	o := Options{File: "/mnt/hibfile", Size: 32 << 20, Priority: -1, HibernateOnly: true, Record: &rec}
	for _, c := range []struct {
		edit func(o *Options)
		want string
	}{
		{func(o *Options) { o.Fstab = true }, "would be activated at every boot"},
		{func(o *Options) { o.Priority = 5 }, "lowest priority"},
		{func(o *Options) { o.File, o.Device = "", "/dev/vda2" }, "is for a hibernation file"},
	} {
		bad := o
		c.edit(&bad)
		if _, err := Setup(tr.FS(), sw, bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("setup %+v: %v, want a refusal saying %q", bad, err, c.want)
		}
	}
	if tr.FS().Exists("mnt/hibfile") {
		t.Fatal("a refused setup made the file")
	}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	p := tr.FS().Path("mnt/hibfile")
	if len(sw.Calls) != 0 || res.Activated || !res.HibernateOnly || res.ResumeOffset != filefragOffset(t, p) {
		t.Fatalf("result %+v, swap calls %v: want the file made, not activated, at its offset", res, sw.Calls)
	}
	if a := readArea(t, p); a.Kind() != "swap" || a.Record == nil || a.Record.BootID != "b0" {
		t.Fatalf("hibernation file %+v, want a swap area with the record stamped", a)
	}
	if got := tr.Read("sys/power/resume"); got != res.DevT {
		t.Fatalf("/sys/power/resume = %q, want %s", got, res.DevT)
	}
	if f, err := HibernationFile(tr.FS()); err != nil || f != "/mnt/hibfile" {
		t.Fatalf("HibernationFile = %q, %v", f, err)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "hibernation file: not activated") {
		t.Fatalf("notes %q, want the file said inactive", res.Notes)
	}
	// Run again: kept, still inactive; active (a hibernate now under way), refused.
	again, err := Setup(tr.FS(), sw, o)
	if err != nil || again.Made || len(sw.Calls) != 0 || again.ResumeOffset != res.ResumeOffset {
		t.Fatalf("again: %+v, %v, swap calls %v", again, err, sw.Calls)
	}
	tr.Swap("/mnt/hibfile file 32764 0 -2")
	if _, err := Setup(tr.FS(), sw, o); err == nil || !strings.Contains(err.Error(), "is active swap: swapoff /mnt/hibfile first") {
		t.Fatalf("active: %v, want a refusal", err)
	}
	tr.Swap()
	// Set up as daily swap after: the record says so, and hibernate now no longer activates it.
	o.HibernateOnly = false
	if _, err := Setup(tr.FS(), sw, o); err != nil || len(sw.On) != 1 {
		t.Fatalf("daily swap: %v, swapon %v", err, sw.On)
	}
	if f, err := HibernationFile(tr.FS()); err != nil || f != "" {
		t.Fatalf("after a setup for daily swap HibernationFile = %q, %v", f, err)
	}
}
