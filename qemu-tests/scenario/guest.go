package scenario

import (
	"bytes"
	"errors"
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
// point, skipping the bzImage's xz decompressor, which alone takes 8 s under TCG (measured:
// first kernel line at 8.5 s with the bzImage, 0.8 s with the vmlinux). It is the same kernel
// code; the bzImage stays in the guest's /boot for what boots it from there (kexec).
func BootableKernel(bzImage string) (string, error) {
	out := bzImage + ".pvh-vmlinux"
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out, nil
	}
	data, err := os.ReadFile(bzImage)
	if err != nil {
		return "", err
	}
	i := bytes.Index(data, []byte("\xfd7zXZ\x00"))
	if i < 0 {
		return bzImage, nil // not xz-compressed: boot it as it is
	}
	// The kernel's xz stream has an x86 BCJ filter before LZMA2, which github.com/ulikunitz/xz
	// does not decode: xz-utils does (qemu-tests/scripts/deps.sh installs it). It reports the
	// padding after the stream as trailing garbage: what it wrote before is the whole kernel.
	cmd := exec.Command("xz", "--decompress", "--stdout", "--single-stream")
	cmd.Stdin = bytes.NewReader(data[i:])
	var elf, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &elf, &stderr
	if err := cmd.Run(); err != nil && elf.Len() == 0 {
		return "", fmt.Errorf("decompress the kernel in %s with xz: %w: %s", bzImage, err, stderr.String())
	}
	if !bytes.HasPrefix(elf.Bytes(), []byte("\x7fELF")) {
		return "", errors.New("the kernel inside " + bzImage + " is not an ELF file")
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, elf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
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
