package scenario

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
)

// Guest is a disk made for one scenario, with the kernel and initramfs to boot it.
type Guest struct {
	Disk    string
	Layout  guestdisk.Layout
	Kernel  string // what QEMU boots (see BootableKernel)
	Initrd  string
	Release string
}

// GuestOptions shape the guest disk.
type GuestOptions struct {
	Name        string
	DiskMiB     int // default 1024
	SwapMiB     int // default 512; -1 for no swap partition
	RootFSType  string
	InitrdFlags []string // more flags for `hibernate initramfs build`
	Files       []GuestFile
}

// GuestFile is one more file of the guest's root file system.
type GuestFile struct {
	Path string // absolute, in the guest
	Data []byte
	Mode os.FileMode
}

// BuildGuest makes the root tree (the agent as /sbin/init, hibernate with its initramfs base,
// the demo job, the kernel and an initramfs under /boot, as a real system has them), builds the
// initramfs with the hibernate binary itself, and writes a GPT disk with root and swap partitions.
func BuildGuest(a Artifacts, o GuestOptions) (Guest, error) {
	var g Guest
	if o.DiskMiB == 0 {
		o.DiskMiB = 1024
	}
	swap := o.SwapMiB
	if swap == 0 {
		swap = 512
	} else if swap < 0 {
		swap = 0
	}
	dir := filepath.Join(a.WorkDir, o.Name)
	if err := os.RemoveAll(dir); err != nil {
		return g, err
	}
	tree := filepath.Join(dir, "root")
	for _, d := range []string{"sbin", "usr/sbin", "usr/bin", "usr/lib/hibernate", "boot", "etc", "tmp", "run", "proc", "sys", "dev", "var/lib/hibernate-demo", "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return g, err
		}
	}
	rel := a.Kernel.Release
	copies := []struct {
		src, dst string
		mode     os.FileMode
	}{
		{a.Agent, "sbin/init", 0o755},
		{a.Hibernate, "usr/sbin/hibernate", 0o755},
		{a.Base, "usr/lib/hibernate/initramfs-base.cpio", 0o644},
		{a.DemoJob, "usr/bin/hibernate-demo-job", 0o755},
		{a.Kernel.Image, "boot/vmlinuz-" + rel, 0o644},
	}
	for _, c := range copies {
		if err := copyFile(c.src, filepath.Join(tree, c.dst), c.mode); err != nil {
			return g, err
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/hostname"), []byte("hibernate-guest\n"), 0o644); err != nil {
		return g, err
	}
	for _, f := range o.Files {
		p := filepath.Join(tree, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return g, err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return g, err
		}
		if err := os.Chmod(p, f.Mode); err != nil { // WriteFile's mode passes the umask
			return g, err
		}
	}
	initrd := filepath.Join(tree, "boot", "initrd.img-"+rel)
	args := append([]string{"initramfs", "build", "--kernel-release", rel, "--modules", a.Kernel.ModulesDir,
		"--base", a.Base, "--out", initrd}, o.InitrdFlags...)
	cmd := exec.Command(a.Hibernate, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return g, fmt.Errorf("hibernate %v: %w\n%s", args, err, out.String())
	}
	// QEMU boots copies kept outside the guest, as a boot loader reads them from /boot.
	g.Initrd = filepath.Join(dir, "initrd.img-"+rel)
	if err := copyFile(initrd, g.Initrd, 0o644); err != nil {
		return g, err
	}
	k, err := BootableKernel(a.Kernel.Image)
	if err != nil {
		return g, err
	}
	g.Kernel, g.Release = k, rel
	g.Disk = filepath.Join(dir, "disk.img")
	g.Layout, err = guestdisk.Build(guestdisk.Spec{Path: g.Disk, SizeMiB: o.DiskMiB, RootTree: tree,
		RootFSType: o.RootFSType, SwapSizeMiB: swap})
	if err != nil {
		return g, fmt.Errorf("build guest disk %s: %w", g.Disk, err)
	}
	return g, nil
}

// BootableKernel returns the kernel for QEMU's -kernel: the ELF vmlinux inside the Debian
// bzImage, extracted once and kept beside it. QEMU boots an ELF kernel through its PVH entry
// point, skipping the bzImage's decompressor, which alone takes 8 s under TCG for the xz kernel
// of the amd64 flavour (measured: first kernel line at 8.5 s with the bzImage, 0.8 s with the
// vmlinux). It is the same kernel code; the bzImage stays in the guest's /boot for what boots it
// from there (kexec). Every kernel of the tests boots this way, because the memory map QEMU gives
// a PVH boot differs from SeaBIOS's, and the kernel refuses to restore an image made under
// another map ("Hibernate inconsistent memory map detected!", seen here).
func BootableKernel(bzImage string) (string, error) {
	out := bzImage + ".pvh-vmlinux"
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out, nil
	}
	data, err := os.ReadFile(bzImage)
	if err != nil {
		return "", err
	}
	// The compressed kernel sits inside the bzImage: find its stream by magic and let the
	// format's own tool decode it. The xz stream has an x86 BCJ filter, which
	// github.com/ulikunitz/xz does not decode; the lz4 one is lz4's legacy frame format.
	// Both tools report the bytes after the stream as an error: what they wrote before is kept
	// and checked as an ELF file below.
	var tool []string
	i := -1
	for _, f := range []struct {
		magic string
		tool  []string
	}{
		{"\xfd7zXZ\x00", []string{"xz", "--decompress", "--stdout", "--single-stream"}},
		{"\x02\x21\x4c\x18", []string{"lz4", "-d", "-c"}},
	} {
		if j := bytes.Index(data, []byte(f.magic)); j >= 0 && (i < 0 || j < i) {
			i, tool = j, f.tool
		}
	}
	if i < 0 {
		return "", fmt.Errorf("%s: no xz or lz4 stream found (gzip and zstd kernels are not handled)", bzImage)
	}
	cmd := exec.Command(tool[0], tool[1:]...)
	cmd.Stdin = bytes.NewReader(data[i:])
	var vmlinux, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &vmlinux, &stderr
	if err := cmd.Run(); err != nil && vmlinux.Len() == 0 {
		return "", fmt.Errorf("decompress the kernel in %s with %s: %w: %s", bzImage, tool[0], err, stderr.String())
	}
	if err := wholeELF(vmlinux.Bytes()); err != nil {
		return "", fmt.Errorf("the kernel decompressed from %s with %s: %w", bzImage, tool[0], err)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, vmlinux.Bytes(), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}

// wholeELF checks that b is an ELF file whose loadable segments all lie inside it.
func wholeELF(b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off+p.Filesz > uint64(len(b)) {
			return fmt.Errorf("segment at %#x+%#x ends past the %d bytes decompressed", p.Off, p.Filesz, len(b))
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}
