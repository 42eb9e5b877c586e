package scenario

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Guest is a disk made for one scenario, with the kernel and initramfs to boot it.
type Guest struct {
	Disk           string
	Layout         guestdisk.Layout
	SwapDisk       string // a second disk with the swap partition (SwapOnSecondDisk); "" detaches it
	SwapDiskLayout guestdisk.Layout
	Kernel         string // what QEMU boots (see BootableKernel)
	Initrd         string
	Release        string
	ExtraDisks     []string // more disks, attached read-only after the others (a stranger's USB stick)
	// LUKS is the encrypted layout: of Disk (EncryptedLVM: its LUKS UUID, VG and LVs; Layout then
	// has the LUKS partition as its root partition, and no swap), or of SwapDisk
	// (EncryptedSwapWithKeyFile: the volume swap_crypt and its key file; SwapDiskLayout has the
	// LUKS partition as its root partition); nil for plain disks.
	LUKS *LUKS
	// BuiltInitrd is the file `hibernate initramfs build` wrote, in the root tree's /boot (Initrd
	// is QEMU's copy of it), and BuildSaid what it printed: the minimal root's.
	BuiltInitrd, BuildSaid string
	// Firmware is the UEFI firmware of a UEFIGrub guest, with its own variable store.
	Firmware *harness.Firmware
	// BootDisk is a disk whose one partition is the plain /boot of a root the host cannot read
	// (EncryptedLVMRoot), attached second; BootLayout is its layout. "" for a /boot in the root.
	BootDisk   string
	BootLayout guestdisk.Layout
	// MD is the md RAID1 pair of the root (MDRAID1Root): Disk is its first disk, MD.Second the
	// other, attached at every boot; Layout is the first disk's. nil for a root on a partition.
	MD *MD
}

// GuestFile is one more file of the guest's root file system.
type GuestFile struct {
	Path string // absolute, in the guest
	Data []byte
	Mode os.FileMode
}

// buildMinimal makes the minimal root tree (the agent as PID 1, hibernate with its initramfs
// base, the demo job, the kernel and an initramfs under /boot, as a real system has them),
// builds the initramfs with the hibernate binary itself, and writes the disks.
func buildMinimal(ctx context.Context, m *Machine) (Guest, error) {
	a, c := m.Artifacts, m.Config
	var g Guest
	dir, err := freshDir(a, c.Name)
	if err != nil {
		return g, err
	}
	tree := filepath.Join(dir, "root")
	if err := minimalTree(a, tree); err != nil {
		return g, err
	}
	if err := writeFiles(tree, c.Files); err != nil {
		return g, err
	}
	flags := c.InitrdFlags
	if c.Swap.KeyFileLUKS {
		more, err := m.encryptedSwapDisk(ctx, &g, dir)
		if err != nil {
			return g, err
		}
		flags = append(slices.Clip(flags), more...)
	}
	rel := a.Kernel.Release
	initrd := filepath.Join(tree, "boot", "initrd.img-"+rel)
	g.BuiltInitrd = initrd
	if g.BuildSaid, err = buildInitramfs(ctx, a, rel, a.Kernel.ModulesDir, initrd, flags...); err != nil {
		return g, err
	}
	// QEMU boots copies kept outside the guest, as a boot loader reads them from /boot.
	g.Initrd = filepath.Join(dir, "initrd.img-"+rel)
	if err := copyFile(initrd, g.Initrd, 0o644); err != nil {
		return g, err
	}
	k, err := m.bootKernel(a.Kernel.Image)
	if err != nil {
		return g, err
	}
	g.Kernel, g.Release = k, rel
	return g, m.writeDisks(&g, dir, tree, 1024, "")
}

// freshDir empties the folder of a guest's files.
func freshDir(a Artifacts, name string) (string, error) {
	dir := filepath.Join(a.WorkDir, name)
	if err := os.RemoveAll(dir); err != nil {
		return dir, err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// minimalTree puts our binaries, the kernel and the folders a boot needs into tree.
func minimalTree(a Artifacts, tree string) error {
	for _, d := range []string{"sbin", "usr/sbin", "usr/bin", "usr/lib/hibernate", "boot", "etc", "tmp", "run", "proc", "sys", "dev", demojob.Dir, "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		src, dst string
		mode     os.FileMode
	}{
		{a.Agent, GuestAgentInit, 0o755},
		{a.Hibernate, GuestHibernate, 0o755},
		{a.Base, GuestBase, 0o644},
		{a.DemoJob, GuestDemoJob, 0o755},
		{a.Kernel.Image, "/boot/vmlinuz-" + a.Kernel.Release, 0o644},
	} {
		if err := copyFile(c.src, filepath.Join(tree, c.dst), c.mode); err != nil {
			return err
		}
	}
	// The harness is the guest's boot loader; like kernel-install's, its command line is
	// /etc/kernel/cmdline, where setup --write-boot-config puts resume= and resume_offset=.
	if err := os.MkdirAll(filepath.Join(tree, "etc/kernel"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/kernel/cmdline"), []byte("rw\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tree, "etc/hostname"), []byte("hibernate-guest\n"), 0o644)
}

// writeFiles writes files into tree, each as a new file (a tree of hard links to a cache is
// not written through).
func writeFiles(tree string, files []GuestFile) error {
	for _, f := range files {
		p := filepath.Join(tree, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.Mode); err != nil { // WriteFile's mode passes the umask
			return err
		}
	}
	return nil
}

// buildInitramfs runs the host's `hibernate initramfs build` for kernel release rel with the
// modules tree, our base and flags, into out; it returns what the command said.
func buildInitramfs(ctx context.Context, a Artifacts, rel, modules, out string, flags ...string) (string, error) {
	args := append([]string{"initramfs", "build", "--kernel-release", rel, "--modules", modules, "--base", a.Base, "--out", out}, flags...)
	cmd := exec.CommandContext(ctx, a.Hibernate, args...)
	said, err := cmd.CombinedOutput()
	if err != nil {
		return string(said), fmt.Errorf("hibernate %s: %w\n%s", strings.Join(args, " "), err, said)
	}
	return string(said), nil
}

// writeDisks writes the guest's GPT disk of sizeMiB, the root partition from tree (labelled
// label, "" for guestdisk's default) and the swap partition of Config.Swap, and the second
// disk of SwapOnSecondDisk (unless it is made already: the encrypted swap disk); for a UEFIGrub
// guest, an EFI system partition after them (its mount point made in tree), and the firmware.
func (m *Machine) writeDisks(g *Guest, dir, tree string, sizeMiB int, label string) error {
	swap := m.Config.Swap.PartitionMiB
	if swap == 0 {
		swap = 512
	} else if swap < 0 {
		swap = 0
	}
	// A large swap partition (the scale benchmark's, as large as the guest's memory) gets its
	// room on top of the root's 512 MiB; the default one fits the sizes given.
	sizeMiB = max(sizeMiB, swap+512)
	g.Disk = filepath.Join(dir, "disk.img")
	var err error
	esp := 0
	if m.Config.UEFI {
		esp = espMiB
		sizeMiB += espMiB
		if err := os.MkdirAll(filepath.Join(tree, "boot/efi"), 0o755); err != nil {
			return err
		}
		if err := firmwareFiles(g, dir, m.Config.SecureBoot); err != nil {
			return err
		}
	}
	bios := 0
	if m.Config.BIOS {
		bios = biosBootMiB
		sizeMiB += biosBootMiB
	}
	g.Layout, err = guestdisk.Build(guestdisk.Spec{Path: g.Disk, SizeMiB: sizeMiB, RootTree: tree,
		RootFSType: m.Config.RootFS, RootLabel: label, SwapSizeMiB: swap, ESPSizeMiB: esp, ESPLabel: debroot.ESPLabel, BIOSBootMiB: bios})
	if err != nil {
		return fmt.Errorf("build guest disk %s: %w", g.Disk, err)
	}
	if !m.Config.Swap.SecondDisk || g.SwapDisk != "" {
		return nil
	}
	g.SwapDisk = filepath.Join(dir, "swapdisk.img")
	g.SwapDiskLayout, err = guestdisk.Build(guestdisk.Spec{Path: g.SwapDisk, SizeMiB: 600, RootSizeMiB: 16, SwapSizeMiB: 512})
	if err != nil {
		return fmt.Errorf("build swap disk %s: %w", g.SwapDisk, err)
	}
	return nil
}

// bootKernel is the kernel QEMU boots for the bzImage: BootableKernel's, but for a guest that
// suspends to RAM (Config.S3), which boots the bzImage itself through SeaBIOS, every boot: woken
// from S3, a PVH-booted kernel is reset over and over (seen here: QMP WAKEUP, then four RESETs
// and nothing more on the console).
func (m *Machine) bootKernel(bzImage string) (string, error) {
	if m.Config.S3 {
		return bzImage, nil
	}
	return BootableKernel(bzImage)
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
	// and checked as an ELF file below. The zstd one (Debian 13's kernels) is one frame, which
	// klauspost's decoder reads as the kernel's own does; it too fails on what follows it.
	var tool []string
	i := -1
	for _, f := range []struct {
		magic string
		tool  []string
	}{
		{"\xfd7zXZ\x00", []string{"xz", "--decompress", "--stdout", "--single-stream"}},
		{"\x02\x21\x4c\x18", []string{"lz4", "-d", "-c"}},
		{"\x28\xb5\x2f\xfd", nil},
	} {
		if j := bytes.Index(data, []byte(f.magic)); j >= 0 && (i < 0 || j < i) {
			i, tool = j, f.tool
		}
	}
	if i < 0 {
		return "", fmt.Errorf("%s: no xz, lz4 or zstd stream found (gzip kernels are not handled)", bzImage)
	}
	var vmlinux bytes.Buffer
	if tool == nil {
		tool = []string{"zstd"} // for the messages below
		if err := unzstd(&vmlinux, data[i:]); err != nil && vmlinux.Len() == 0 {
			return "", fmt.Errorf("decompress the kernel in %s with zstd: %w", bzImage, err)
		}
	} else {
		cmd := exec.Command(tool[0], tool[1:]...)
		cmd.Stdin = bytes.NewReader(data[i:])
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &vmlinux, &stderr
		if err := cmd.Run(); err != nil && vmlinux.Len() == 0 {
			return "", fmt.Errorf("decompress the kernel in %s with %s: %w: %s", bzImage, tool[0], err, stderr.String())
		}
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

// unzstd writes the first zstd frame of b to w, and what it could of a broken one.
func unzstd(w io.Writer, b []byte) error {
	zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zr.Close()
	_, err = io.Copy(w, zr)
	return err
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
