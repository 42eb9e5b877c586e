package guestdisk

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A file of the ESP replaced from the host (the firmware bench's GRUB stub): read back the same,
// also when shorter than before (O_TRUNC), and fsck.vfat finds nothing it did not find before the
// writes. (go-diskfs v1.9.4 makes a 64 MiB FAT32 whose FAT is two entries short of its clusters,
// go-diskfs issue 418, fixed after that release: fsck.vfat says so of every such ESP, the kernel
// clamps the cluster count to the FAT's. The writes must add nothing to it.)
func TestWriteESPFile(t *testing.T) {
	need(t, "mkfs.ext4")
	fsck := tool("fsck.vfat")
	if !isExecutable(fsck) {
		t.Fatal("no fsck.vfat (deps.sh installs dosfstools)")
	}
	path := filepath.Join(t.TempDir(), "d.img")
	l, err := Build(Spec{Path: path, SizeMiB: 160, SwapSizeMiB: 32, ESPSizeMiB: 64})
	if err != nil {
		t.Fatal(err)
	}
	before := fsckESP(t, fsck, path, l)
	if _, err := ReadESPFile(path, "/EFI/BOOT/grub.cfg"); err == nil {
		t.Fatal("read a file the ESP does not have")
	}
	long := []byte(strings.Repeat("search.fs_uuid 0a3e root\n", 400)) // more than a cluster
	short := []byte("configfile $prefix/grub-dist.cfg\n")
	for _, data := range [][]byte{long, short} {
		if err := WriteESPFile(path, "/grub.cfg", data); err != nil {
			t.Fatal(err)
		}
		got, err := ReadESPFile(path, "/grub.cfg")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), wrote %d", len(got), err, len(data))
		}
	}
	if _, err := ReadESPFile(path+".none", "/grub.cfg"); err == nil || !strings.Contains(err.Error(), ".none") {
		t.Errorf("a missing disk: %v, want an error naming it", err)
	}
	if after := fsckESP(t, fsck, path, l); after != before {
		t.Errorf("fsck.vfat -n after the writes:\n%s\nbefore them:\n%s", after, before)
	}
}

// fsckESP returns what fsck.vfat -n says of the ESP of the disk path (copied out by dd: fsck
// reads a whole file), less its version line and the file count.
func fsckESP(t *testing.T, fsck, path string, l Layout) string {
	t.Helper()
	esp := filepath.Join(t.TempDir(), "esp.img")
	if out, err := exec.Command("dd", "if="+path, "of="+esp, "bs=1M", "skip="+strconv.FormatInt(l.ESPStart>>20, 10),
		"count="+strconv.FormatInt(l.ESPSize>>20, 10), "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	out, _ := exec.Command(fsck, "-n", esp).CombinedOutput()
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "fsck.fat ") && !strings.HasPrefix(line, esp+":") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
