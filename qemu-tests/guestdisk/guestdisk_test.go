package guestdisk

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// testTree makes a small root tree: an executable, a symlink to it, a nested
// directory with a plain file, and a hard link.
func testTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "etc/deep/er", "boot"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not masked by umask
			t.Fatal(err)
		}
	}
	write("bin/x", "#!/bin/sh\necho hello\n", 0o755)
	write("etc/deep/er/conf", "key=value\n", 0o644)
	write("boot/vmlinuz-test", strings.Repeat("k", 3<<20), 0o644)
	if err := os.Symlink("x", filepath.Join(root, "bin/y")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "bin/x"), filepath.Join(root, "bin/x-hard")); err != nil {
		t.Fatal(err)
	}
	return root
}

func need(t *testing.T, name string) string {
	t.Helper()
	p := tool(name)
	if !isExecutable(p) {
		t.Skipf("%s not installed (e2fsprogs / btrfs-progs); cannot check this", name)
	}
	return p
}

func TestBuildExt4(t *testing.T) {
	need(t, "mkfs.ext4")
	dir := t.TempDir()
	spec := Spec{
		Path: filepath.Join(dir, "disk.img"), SizeMiB: 300, RootTree: testTree(t), SwapSizeMiB: 64,
		DiskGUID: "11111111-2222-3333-4444-555555555555", RootPartUUID: "AAAAAAAA-0000-4000-8000-000000000001",
		SwapPartUUID: "aaaaaaaa-0000-4000-8000-000000000002", RootFSUUID: "bbbbbbbb-0000-4000-8000-000000000003",
	}
	t0 := time.Now()
	l, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("300 MiB disk built in %v: %+v", time.Since(t0), l)
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Build took %v", d)
	}
	want := Layout{
		DiskGUID: "11111111-2222-3333-4444-555555555555", RootPartUUID: "aaaaaaaa-0000-4000-8000-000000000001",
		SwapPartUUID: "aaaaaaaa-0000-4000-8000-000000000002", RootFSUUID: "bbbbbbbb-0000-4000-8000-000000000003",
		RootPartIndex: 1, SwapPartIndex: 2, RootStart: 1 << 20, RootSize: 234 << 20,
		SwapStart: 235 << 20, SwapSize: 64 << 20,
	}
	if l != want {
		t.Errorf("layout\n got %+v\nwant %+v", l, want)
	}
	checkImage(t, spec.Path, l, spec.SizeMiB)

	// The filesystem, through e2fsprogs, reading the partition in place
	// (unix_io's "?offset=" option).
	img := spec.Path + "?offset=" + strconv.FormatInt(l.RootStart, 10)
	if p := tool("e2fsck"); isExecutable(p) {
		if out, err := exec.Command(p, "-fn", img).CombinedOutput(); err != nil {
			t.Errorf("e2fsck -fn: %v\n%s", err, out)
		}
	} else {
		t.Log("e2fsck not installed: filesystem consistency not checked")
	}
	if p := tool("debugfs"); isExecutable(p) {
		stat := func(path string) string {
			out, err := exec.Command(p, "-R", "stat "+path, img).CombinedOutput()
			if err != nil {
				t.Fatalf("debugfs stat %s: %v\n%s", path, err, out)
			}
			return string(out)
		}
		if s := stat("/bin/x"); !strings.Contains(s, "Type: regular") || !strings.Contains(s, "Mode:  0755") || !strings.Contains(s, "Links: 2") {
			t.Errorf("/bin/x is not a 0755 regular file with 2 links:\n%s", s)
		}
		if s := stat("/bin/y"); !strings.Contains(s, "Type: symlink") || !strings.Contains(s, `Fast link dest: "x"`) {
			t.Errorf("/bin/y is not a symlink to x:\n%s", s)
		}
		if s := stat("/etc/deep/er/conf"); !strings.Contains(s, "Mode:  0644") {
			t.Errorf("/etc/deep/er/conf:\n%s", s)
		}
		out, err := exec.Command(p, "-R", "cat /bin/x", img).Output()
		if err != nil || string(out) != "#!/bin/sh\necho hello\n" {
			t.Errorf("debugfs cat /bin/x = %q, %v", out, err)
		}
		out, _ = exec.Command(p, "-R", "stats", img).CombinedOutput()
		// By field, not by line: the spacing differs between releases (e2fsprogs 1.47, Debian
		// 13's, no longer puts a tab after "Inode size:").
		fields := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		for k, v := range map[string]string{"Filesystem volume name": "root", "Block size": "4096", "Inode size": "256",
			"Filesystem UUID": l.RootFSUUID} {
			if fields[k] != v {
				t.Errorf("superblock's %q is %q, want %q", k, fields[k], v)
			}
		}
	} else {
		t.Log("debugfs not installed: file modes not checked")
	}

	// The swap partition is all zeros (a hole).
	f, err := os.Open(spec.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	swap := make([]byte, l.SwapSize)
	if _, err := f.ReadAt(swap, l.SwapStart); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(swap, make([]byte, len(swap))) {
		t.Error("swap partition is not zeroed")
	}

	// Sparse: far fewer blocks than the size.
	var st syscall.Stat_t
	if err := syscall.Stat(spec.Path, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("allocated %d KiB of %d MiB", st.Blocks/2, spec.SizeMiB)
	if st.Blocks*512 > 64<<20 {
		t.Errorf("image not sparse: %d bytes allocated", st.Blocks*512)
	}

	// Build again over the same path with random IDs: it is replaced, and the IDs differ.
	spec2 := spec
	spec2.DiskGUID, spec2.RootPartUUID, spec2.SwapPartUUID, spec2.RootFSUUID = "", "", "", ""
	l2, err := Build(spec2)
	if err != nil {
		t.Fatal(err)
	}
	if l2.RootFSUUID == l.RootFSUUID || l2.DiskGUID == l.DiskGUID || l2.RootPartUUID == "" || l2.SwapPartUUID == "" {
		t.Errorf("random IDs: %+v", l2)
	}
	checkImage(t, spec.Path, l2, spec.SizeMiB)
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// checkImage reads the partition table back with go-diskfs and checks the protective MBR.
func checkImage(t *testing.T, path string, l Layout, sizeMiB int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(sizeMiB)<<20 {
		t.Errorf("size %d, want %d MiB", st.Size(), sizeMiB)
	}
	raw := make([]byte, 512)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.ReadAt(raw, 0)
	f.Close()
	if raw[510] != 0x55 || raw[511] != 0xaa || raw[446+4] != 0xee {
		t.Errorf("no protective MBR: type %#x, signature %x", raw[446+4], raw[510:512])
	}

	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatal(err)
	}
	tab, ok := pt.(*gpt.Table)
	if !ok {
		t.Fatalf("partition table is %T, want GPT", pt)
	}
	if !strings.EqualFold(tab.GUID, l.DiskGUID) {
		t.Errorf("disk GUID %s, want %s", tab.GUID, l.DiskGUID)
	}
	type part struct {
		typ        gpt.Type
		name, guid string
		start, end int64
	}
	want := map[int]part{1: {gpt.LinuxFilesystem, "root", l.RootPartUUID, l.RootStart, l.RootStart + l.RootSize}}
	if l.SwapPartIndex != 0 {
		want[2] = part{gpt.LinuxSwap, "swap", l.SwapPartUUID, l.SwapStart, l.SwapStart + l.SwapSize}
	}
	if l.ESPSize != 0 && !l.BIOSBoot {
		want[ESPPartIndex] = part{gpt.EFISystemPartition, "EFI system partition", l.ESPPartUUID, l.ESPStart, l.ESPStart + l.ESPSize}
	}
	if l.BIOSBoot {
		want[ESPPartIndex] = part{gpt.BIOSBoot, "BIOS boot partition", l.ESPPartUUID, l.ESPStart, l.ESPStart + l.ESPSize}
	}
	got := map[int]part{}
	for _, p := range tab.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		got[p.Index] = part{p.Type, p.Name, strings.ToLower(p.GUID), int64(p.Start) * 512, int64(p.End+1) * 512}
	}
	if len(got) != len(want) {
		t.Errorf("partitions %+v, want %+v", got, want)
	}
	for i, w := range want {
		if g := got[i]; g != w {
			t.Errorf("partition %d: got %+v, want %+v", i, g, w)
		}
		if w.start%(1<<20) != 0 || w.end%(1<<20) != 0 {
			t.Errorf("partition %d not 1 MiB aligned: %+v", i, w)
		}
	}
	if p := tool("blkid"); isExecutable(p) && l.RootFSUUID != "" {
		out, err := exec.Command(p, "-p", "-o", "export", "-O", strconv.FormatInt(l.RootStart, 10), path).Output()
		if err != nil || !strings.Contains(string(out), "UUID="+l.RootFSUUID) {
			t.Errorf("blkid -p -O %d: %v\n%s", l.RootStart, err, out)
		}
	}
}

// TestBlank: one zeroed partition over the disk but its first and last MiB, and a sparse file.
func TestBlank(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blank.img")
	l, err := Blank(Spec{Path: path, SizeMiB: 1100, RootPartUUID: "AAAAAAAA-0000-4000-8000-000000000001", SwapSizeMiB: 64, RootTree: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	want := Layout{DiskGUID: l.DiskGUID, RootPartUUID: "aaaaaaaa-0000-4000-8000-000000000001", RootPartIndex: 1, RootStart: 1 << 20, RootSize: 1098 << 20}
	if l != want || len(l.DiskGUID) != 36 {
		t.Errorf("layout\n got %+v\nwant %+v", l, want)
	}
	checkImage(t, path, l, 1100)
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 > 1<<20 {
		t.Errorf("%d bytes allocated: not sparse", st.Blocks*512)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1<<20)
	if _, err := f.ReadAt(b, l.RootStart); err != nil || !bytes.Equal(b, make([]byte, len(b))) {
		t.Errorf("the partition's first MiB is not zeroed (%v)", err)
	}
}

func TestBuildNoSwapEmptyTree(t *testing.T) {
	need(t, "mkfs.ext4")
	path := filepath.Join(t.TempDir(), "d.img")
	l, err := Build(Spec{Path: path, SizeMiB: 64, RootLabel: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if l.SwapPartIndex != 0 || l.SwapSize != 0 || l.SwapPartUUID != "" || l.RootSize != 62<<20 {
		t.Errorf("layout %+v", l)
	}
	checkImage(t, path, l, 64)
}

// An EFI system partition after the swap: FAT32 with its label, as blkid (the guest's udev)
// reads it.
func TestBuildESP(t *testing.T) {
	need(t, "mkfs.ext4")
	path := filepath.Join(t.TempDir(), "d.img")
	l, err := Build(Spec{Path: path, SizeMiB: 160, SwapSizeMiB: 32, ESPSizeMiB: 64})
	if err != nil {
		t.Fatal(err)
	}
	if l.ESPStart != (1+62+32)<<20 || l.ESPSize != 64<<20 || l.ESPPartUUID == "" || l.RootSize != 62<<20 {
		t.Errorf("layout %+v", l)
	}
	checkImage(t, path, l, 160)
	p := tool("blkid")
	if !isExecutable(p) {
		t.Skip("no blkid to read the FAT back")
	}
	out, err := exec.Command(p, "-p", "-o", "export", "-O", strconv.FormatInt(l.ESPStart, 10), path).Output()
	if err != nil || !strings.Contains(string(out), "TYPE=vfat") || !strings.Contains(string(out), "LABEL=ESP") {
		t.Errorf("blkid -p -O %d: %v\n%s", l.ESPStart, err, out)
	}
}

// A BIOS boot partition after the swap, for GRUB's core image: its type, and zeros.
func TestBuildBIOSBoot(t *testing.T) {
	need(t, "mkfs.ext4")
	path := filepath.Join(t.TempDir(), "d.img")
	l, err := Build(Spec{Path: path, SizeMiB: 96, SwapSizeMiB: 32, BIOSBootMiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !l.BIOSBoot || l.ESPStart != (1+61+32)<<20 || l.ESPSize != 1<<20 {
		t.Errorf("layout %+v", l)
	}
	checkImage(t, path, l, 96)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[l.ESPStart:l.ESPStart+l.ESPSize], make([]byte, l.ESPSize)) {
		t.Error("the BIOS boot partition is not zeroed")
	}
	if _, err := Build(Spec{Path: path, SizeMiB: 96, ESPSizeMiB: 33, BIOSBootMiB: 1}); err == nil {
		t.Error("an ESP and a BIOS boot partition: no error")
	}
}

func TestBuildBtrfs(t *testing.T) {
	need(t, "mkfs.btrfs")
	dir := t.TempDir()
	spec := Spec{Path: filepath.Join(dir, "b.img"), SizeMiB: 400, RootSizeMiB: 300, SwapSizeMiB: 32,
		RootFSType: "btrfs", RootLabel: "broot", RootTree: testTree(t)}
	t0 := time.Now()
	l, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("btrfs disk in %v: %+v", time.Since(t0), l)
	checkImage(t, spec.Path, l, spec.SizeMiB)
	if p := tool("blkid"); isExecutable(p) {
		out, _ := exec.Command(p, "-p", "-o", "export", "-O", strconv.FormatInt(l.RootStart, 10), spec.Path).Output()
		if !strings.Contains(string(out), "TYPE=btrfs") || !strings.Contains(string(out), "LABEL=broot") {
			t.Errorf("blkid: %s", out)
		}
	}
	// btrfs check reads only whole devices: check a copy of the partition.
	if p := tool("btrfs"); isExecutable(p) {
		part := filepath.Join(dir, "part.img")
		src, _ := os.Open(spec.Path)
		dst, _ := os.Create(part)
		if err := copyData(dst, 0, src, l.RootStart, l.RootSize); err != nil {
			t.Fatal(err)
		}
		dst.Truncate(l.RootSize)
		src.Close()
		dst.Close()
		if out, err := exec.Command(p, "check", "--readonly", part).CombinedOutput(); err != nil {
			t.Errorf("btrfs check: %v\n%s", err, out)
		}
	} else {
		t.Log("btrfs not installed: filesystem not checked")
	}
}

func TestPlanErrors(t *testing.T) {
	for _, s := range []Spec{
		{SizeMiB: 10},
		{Path: "x", SizeMiB: 10, RootFSType: "xfs"},
		{Path: "x", SizeMiB: 10, SwapSizeMiB: 8},
		{Path: "x", SizeMiB: 10, RootSizeMiB: 9},
		{Path: "x", SizeMiB: 0},
		{Path: "x", SizeMiB: 100, RootFSUUID: "not-a-uuid"},
	} {
		if _, err := plan(&s); err == nil {
			t.Errorf("plan(%+v): no error", s)
		}
	}
}

func TestBuildMkfsFailure(t *testing.T) {
	need(t, "mkfs.ext4")
	path := filepath.Join(t.TempDir(), "d.img")
	_, err := Build(Spec{Path: path, SizeMiB: 64, RootTree: "/nonexistent/tree"})
	if err == nil || !strings.Contains(err.Error(), "mkfs.ext4") {
		t.Errorf("err = %v, want one naming mkfs.ext4", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a disk was left at %s after a failed Build", path)
	}
}

func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	const size = 200 << 20
	f.Truncate(size)
	f.WriteAt([]byte("start"), 0)
	f.WriteAt(bytes.Repeat([]byte{7}, 3<<20), 50<<20)
	f.WriteAt(make([]byte, 4<<20), 100<<20) // written zeros: may become a hole
	f.WriteAt([]byte("end"), size-3)
	f.Close()
	os.Chmod(src, 0o640)

	dst := filepath.Join(dir, "dst.img")
	os.WriteFile(dst, bytes.Repeat([]byte{1}, 1<<20), 0o600) // replaced
	if err := CopySparse(dst, src); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatal("copy differs")
	}
	var st syscall.Stat_t
	syscall.Stat(dst, &st)
	if st.Blocks*512 > 8<<20 {
		t.Errorf("copy not sparse: %d bytes allocated", st.Blocks*512)
	}
	if err := CopySparse(filepath.Join(dir, "out"), filepath.Join(dir, "missing")); err == nil {
		t.Error("missing source: no error")
	}
}
