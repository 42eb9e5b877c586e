package swapsetup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// Real file systems for FIEMAP: an image file under the test's temporary folder, made with
// mkfs.KIND and loop-mounted at ROOT/mnt of a fake machine tree, which gets the loop device in
// its /sys/class/block (and /dev/loopN, a link to the real node, read only by the code under
// test). Nothing is ever activated: the tests use a fake Swapper.

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install %s)", tool, debianPackage(tool))
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("loop-mounting a test image needs root")
	}
}

func debianPackage(tool string) string {
	switch tool {
	case "mkfs.xfs":
		return "xfsprogs"
	case "mkfs.btrfs", "btrfs":
		return "btrfs-progs"
	case "filefrag", "mkfs.ext4":
		return "e2fsprogs"
	}
	return tool
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loopFS makes a file system of sizeMiB with mkfs (and extra arguments) on an image, mounts it
// at tr.Root/mnt with the mount options given, and registers its loop device in the tree.
func loopFS(t *testing.T, tr *faketree.Tree, kind string, sizeMiB int64, mountOpts string, mkfsArgs ...string) (loopDev string) {
	t.Helper()
	need(t, "mkfs."+kind, "losetup", "mount")
	img := filepath.Join(t.TempDir(), kind+".img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, sizeMiB<<20); err != nil {
		t.Fatal(err)
	}
	quiet := map[string]string{"ext4": "-q", "xfs": "-q", "btrfs": "-q"}[kind]
	run(t, "mkfs."+kind, append(append([]string{quiet}, mkfsArgs...), img)...)
	mnt := filepath.Join(tr.Root, "mnt")
	tr.Mkdir("mnt")
	opts := "loop"
	if mountOpts != "" {
		opts += "," + mountOpts
	}
	if out, err := exec.Command("mount", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -o %s %s: %v: %s", opts, img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	loopDev = strings.TrimSpace(strings.SplitN(run(t, "losetup", "-n", "-O", "NAME", "-j", img), "\n", 2)[0])
	addRealDevice(t, tr, loopDev)
	return loopDev
}

// addRealDevice lists a real block device in the fake tree: /sys/class/block/NAME with its
// number and size, /dev/NAME a link to the node.
func addRealDevice(t *testing.T, tr *faketree.Tree, path string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	size, _ := os.ReadFile(filepath.Join("/sys/class/block", name, "size"))
	base := "sys/class/block/" + name
	tr.Write(base+"/dev", fmt.Sprintf("%d:%d\n", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	tr.Write(base+"/size", string(size))
	tr.Write(base+"/uevent", fmt.Sprintf("MAJOR=%d\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=disk\n", unix.Major(st.Rdev), unix.Minor(st.Rdev), name))
	if err := os.Symlink(path, filepath.Join(tr.Root, "dev", name)); err != nil {
		t.Fatal(err)
	}
}

var blockSizeRe = regexp.MustCompile(`blocks? of (\d+) bytes\)`)

// filefragOffset is resume_offset as `filefrag -v` gives it: the first extent's physical block
// times the block size, in pages.
func filefragOffset(t *testing.T, path string) uint64 {
	t.Helper()
	need(t, "filefrag")
	out := run(t, "filefrag", "-v", path)
	var blockSize uint64
	for _, line := range strings.Split(out, "\n") {
		if m := blockSizeRe.FindStringSubmatch(line); m != nil && blockSize == 0 {
			fmt.Sscanf(m[1], "%d", &blockSize)
		}
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "0:" {
			var phys uint64
			if _, err := fmt.Sscanf(strings.TrimSuffix(f[3], ".."), "%d", &phys); err != nil {
				t.Fatalf("filefrag line %q: %v", line, err)
			}
			if blockSize == 0 {
				t.Fatalf("filefrag gave no block size:\n%s", out)
			}
			return phys * blockSize / 4096
		}
	}
	t.Fatalf("filefrag -v %s: no extent 0:\n%s", path, out)
	return 0
}
