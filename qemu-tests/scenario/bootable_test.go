package scenario

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// Debian 13's bzImage holds a zstd-compressed kernel: BootableKernel takes the ELF vmlinux out,
// the same bytes as zstd's own tool gives (where it is installed), with the PVH entry note
// QEMU boots it through.
func TestBootableKernelZstd(t *testing.T) {
	k, err := FindKernel(testutil.KernelCache(), TrixieFlavour)
	if err != nil {
		t.Skipf("no Debian 13 kernel: %v", err)
	}
	bz := filepath.Join(t.TempDir(), filepath.Base(k.Image))
	if err := copyFile(k.Image, bz, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := BootableKernel(bz)
	if err != nil {
		t.Fatal(err)
	}
	vmlinux, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		t.Fatal(err)
	}
	// A "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point. A note is namesz,
	// descsz, type, then the name.
	pvh := false
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		pvh = pvh || bytes.Contains(b, []byte("\x12\x00\x00\x00Xen\x00"))
	}
	if !pvh {
		t.Errorf("%s: no PVH entry note", out)
	}
	t.Logf("%s: %d bytes of vmlinux from a %d-byte bzImage", k.Release, len(vmlinux), fileSize(t, bz))
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Log("zstd is not installed: the bytes are not compared with its output")
		return
	}
	data, err := os.ReadFile(bz)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("zstd", "-d", "-c")
	cmd.Stdin = bytes.NewReader(data[bytes.Index(data, []byte("\x28\xb5\x2f\xfd")):])
	var want bytes.Buffer
	cmd.Stdout = &want
	_ = cmd.Run() // it fails on the bytes after the frame, having written the frame
	if !bytes.Equal(vmlinux, want.Bytes()) {
		t.Errorf("BootableKernel gave %d bytes, zstd -d %d: they differ", len(vmlinux), want.Len())
	}
}

func fileSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
