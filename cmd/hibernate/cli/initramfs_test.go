package cli

import (
	"os"
	"path/filepath"
	"testing"
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
