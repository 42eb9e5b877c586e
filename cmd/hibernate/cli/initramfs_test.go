package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "initrd.img-R")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(p, []byte("new initramfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new initramfs" {
		t.Fatalf("%s holds %q", p, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %v in the folder, want the file alone", ents)
	}
	if err := writeFileAtomic(filepath.Join(dir, "no", "such"), []byte("x"), 0o644); err == nil {
		t.Fatal("wrote into a folder that does not exist")
	}
}

// For a machine whose root is on LUKS and LVM, initramfs build refuses: exit 3, the layer
// named, and the distribution's initramfs byte for byte as it was.
func TestInitramfsBuildRefusesWhatInitCannotBringUp(t *testing.T) {
	tr := faketree.New(t)
	tr.Write("proc/sys/kernel/osrelease", "6.1.0-57-amd64\n")
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20})
	tr.Mapper(0, "vda3_crypt", "CRYPT-LUKS2-0123-vda3_crypt", "vda3")
	tr.Mapper(1, "vg-root", "LVM-0123", "dm-0")
	tr.Write("proc/mounts", "/dev/dm-1 / ext4 rw 0 0\n/dev/vda1 /boot ext4 rw 0 0\n")
	out := filepath.Join(t.TempDir(), "initrd.img-6.1.0-57-amd64")
	if err := os.WriteFile(out, []byte("the distribution's initramfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Run(Env{Stdout: &stdout, Stderr: &stderr}, []string{"initramfs", "build", "--root", tr.Root, "--out", out})
	if code != 3 || !strings.Contains(stderr.String(), "refusing, nothing written") || !strings.Contains(stderr.String(), "LVM LV vg-root on dm-crypt") {
		t.Fatalf("exit %d, stderr %q: want 3 naming the layers", code, stderr.String())
	}
	if b, _ := os.ReadFile(out); string(b) != "the distribution's initramfs" {
		t.Fatalf("%s now holds %q", out, b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Fatalf("left %v beside it", ents)
	}
}
