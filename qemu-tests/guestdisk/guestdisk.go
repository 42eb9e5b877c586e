// Package guestdisk builds the GPT disk images the end-to-end tests boot:
// partition 1 is the root filesystem (ext4 or btrfs) filled from a host
// folder, partition 2 an optional swap partition left zeroed for the guest's
// `hibernate setup` to format. Blank makes a disk of one zeroed partition, for a guest to lay
// out itself (LUKS and LVM, which the host cannot make without device-mapper).
//
// Why the filesystems come from mkfs and not from go-diskfs's ext4 writer:
// go-diskfs v1.9.4 can Chmod and Symlink, but an image it wrote (a 300 MiB
// filesystem with a file, a chmod and two symlinks) fails `e2fsck -fn`
// ("Resize inode not valid"), it cannot make hard links (Link and Mknod
// return ErrNotImplemented) and it has no btrfs writer. mke2fs -d and
// mkfs.btrfs --rootdir copy a tree with its modes, owners, symlinks and hard
// links, and their output is what the guest kernel and e2fsck expect. go-diskfs
// still writes the partition table, and reads it back in the tests.
package guestdisk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/uuid"
)

// Spec describes a guest disk image.
type Spec struct {
	Path    string // the image file to write; replaced if it exists
	SizeMiB int    // whole disk

	RootTree    string // host folder whose contents become the root filesystem; "" for an empty one
	RootSizeMiB int    // 0: the rest of the disk after 1 MiB, the swap partition and 1 MiB for the backup GPT
	RootFSType  string // "ext4" (default) or "btrfs"
	RootLabel   string // filesystem label; default "root"

	SwapSizeMiB int // 0 = no swap partition; the partition is left zeroed
	// ESPSizeMiB makes an EFI system partition after the swap (index 3), an empty FAT32 labelled
	// ESPLabel made with go-diskfs, for the guest's grub-install; 0 = none.
	ESPSizeMiB int
	ESPLabel   string // default "ESP"
	// BIOSBootMiB makes a BIOS boot partition there instead (index 3, left zeroed), where
	// grub-install --target=i386-pc puts its core image on a GPT disk; 0 = none.
	BIOSBootMiB int

	// Fixed identifiers, for reproducible images; each "" means a random one.
	DiskGUID, RootPartUUID, SwapPartUUID, RootFSUUID string
}

// ESPPartIndex is the GPT index of the EFI system partition (Spec.ESPSizeMiB), or of the BIOS
// boot partition (Spec.BIOSBootMiB): after root (1) and swap (2), whose indices the tests name
// (/dev/vda1, /dev/vda2).
const ESPPartIndex = 3

// Layout says where Build put things. UUIDs are lower case, as the kernel and
// blkid print them (PARTUUID=..., UUID=...).
type Layout struct {
	DiskGUID, RootPartUUID, SwapPartUUID, RootFSUUID string
	RootPartIndex, SwapPartIndex                     int   // 1 and 2; SwapPartIndex 0 without swap
	RootStart, SwapStart, SwapSize                   int64 // bytes from the start of the disk
	RootSize                                         int64 // bytes
	ESPPartUUID                                      string
	ESPStart, ESPSize                                int64 // 0 without an EFI system partition (or BIOS boot partition)
	BIOSBoot                                         bool  // partition 3 is a BIOS boot partition, not an ESP
}

const (
	mib        = 1 << 20
	sectorSize = 512
)

// Build writes the disk image s.Path: a protective MBR and GPT (1 MiB
// aligned partitions named "root" and "swap"), the root filesystem made by
// mkfs.ext4 -d or mkfs.btrfs --rootdir from s.RootTree, and a zeroed swap
// partition. The image is sparse. It is written to a temporary file next to
// s.Path and renamed into place, so a failed Build leaves no half-made disk.
func Build(s Spec) (Layout, error) {
	l, err := plan(&s)
	if err != nil {
		return Layout{}, err
	}
	dir := filepath.Dir(s.Path)

	// The filesystem first, into a file of the partition's size: a missing or
	// failing mkfs is found before anything is written at s.Path.
	fsImg, err := os.CreateTemp(dir, ".guestdisk-root-*.img")
	if err != nil {
		return Layout{}, err
	}
	defer os.Remove(fsImg.Name())
	defer fsImg.Close()
	if err := fsImg.Truncate(l.RootSize); err != nil {
		return Layout{}, err
	}
	if err := mkfs(s, l.RootFSUUID, fsImg.Name()); err != nil {
		return Layout{}, err
	}
	got, err := readFSUUID(fsImg, s.RootFSType)
	if err != nil {
		return Layout{}, fmt.Errorf("reading back the %s UUID of %s: %w", s.RootFSType, fsImg.Name(), err)
	}
	if got != l.RootFSUUID {
		return Layout{}, fmt.Errorf("mkfs.%s made UUID %s, asked for %s", s.RootFSType, got, l.RootFSUUID)
	}

	tmp := filepath.Join(dir, "."+filepath.Base(s.Path)+".tmp")
	os.Remove(tmp)
	defer os.Remove(tmp)
	if err := writeTable(tmp, s, l); err != nil {
		return Layout{}, err
	}
	disk, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return Layout{}, err
	}
	// Not go-diskfs's WritePartitionContents: it writes every byte of the
	// reader, zeros too, where copyData keeps the holes.
	if err := copyData(disk, l.RootStart, fsImg, 0, l.RootSize); err != nil {
		disk.Close()
		return Layout{}, fmt.Errorf("copying the root filesystem into %s: %w", tmp, err)
	}
	if err := disk.Close(); err != nil {
		return Layout{}, err
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		return Layout{}, err
	}
	return l, nil
}

// Blank writes the disk image s.Path with its GPT and one partition (the root's: index 1,
// named "root") over the whole disk but the first and the last MiB, left zeroed, for a guest to
// lay out itself (the encrypted LVM disk of the tests: LUKS and LVM are made inside a guest,
// the host having no device-mapper). Only Path, SizeMiB, DiskGUID and RootPartUUID of s count;
// the Layout has no file system UUID. The image is sparse, written beside and renamed.
func Blank(s Spec) (Layout, error) {
	s = Spec{Path: s.Path, SizeMiB: s.SizeMiB, DiskGUID: s.DiskGUID, RootPartUUID: s.RootPartUUID}
	l, err := plan(&s)
	if err != nil {
		return Layout{}, err
	}
	l.RootFSUUID = ""
	tmp := filepath.Join(filepath.Dir(s.Path), "."+filepath.Base(s.Path)+".tmp")
	os.Remove(tmp)
	defer os.Remove(tmp)
	if err := writeTable(tmp, s, l); err != nil {
		return Layout{}, err
	}
	return l, os.Rename(tmp, s.Path)
}

// plan checks s, fills its defaults and computes the layout.
func plan(s *Spec) (Layout, error) {
	if s.Path == "" {
		return Layout{}, errors.New("guestdisk: Spec.Path is empty")
	}
	if s.RootFSType == "" {
		s.RootFSType = "ext4"
	}
	if s.RootFSType != "ext4" && s.RootFSType != "btrfs" {
		return Layout{}, fmt.Errorf("guestdisk: RootFSType %q: want ext4 or btrfs", s.RootFSType)
	}
	if s.RootLabel == "" {
		s.RootLabel = "root"
	}
	if s.ESPSizeMiB > 0 && s.BIOSBootMiB > 0 {
		return Layout{}, errors.New("guestdisk: an EFI system partition or a BIOS boot partition, not both")
	}
	if s.SizeMiB <= 0 || s.RootSizeMiB < 0 || s.SwapSizeMiB < 0 || s.ESPSizeMiB < 0 || s.BIOSBootMiB < 0 {
		return Layout{}, fmt.Errorf("guestdisk: sizes must not be negative and SizeMiB > 0 (SizeMiB %d, RootSizeMiB %d, SwapSizeMiB %d, ESPSizeMiB %d)",
			s.SizeMiB, s.RootSizeMiB, s.SwapSizeMiB, s.ESPSizeMiB)
	}
	if s.ESPLabel == "" {
		s.ESPLabel = "ESP"
	}
	// 1 MiB before the first partition (MBR, GPT header and entries), 1 MiB
	// after the last (backup GPT, 33 sectors, rounded up to keep alignment).
	root := s.RootSizeMiB
	if root == 0 {
		root = s.SizeMiB - 2 - s.SwapSizeMiB - s.ESPSizeMiB - s.BIOSBootMiB
	}
	if root <= 0 || 1+root+s.SwapSizeMiB+s.ESPSizeMiB+s.BIOSBootMiB+1 > s.SizeMiB {
		return Layout{}, fmt.Errorf("guestdisk: %d MiB root, %d MiB swap and %d MiB ESP do not fit a %d MiB disk (2 MiB go to the GPT)",
			root, s.SwapSizeMiB, s.ESPSizeMiB, s.SizeMiB)
	}
	s.RootSizeMiB = root

	l := Layout{RootPartIndex: 1, RootStart: mib, RootSize: int64(root) * mib}
	if s.SwapSizeMiB > 0 {
		l.SwapPartIndex = 2
		l.SwapStart = l.RootStart + l.RootSize
		l.SwapSize = int64(s.SwapSizeMiB) * mib
	}
	if n := s.ESPSizeMiB + s.BIOSBootMiB; n > 0 {
		l.ESPStart = l.RootStart + l.RootSize + l.SwapSize
		l.ESPSize = int64(n) * mib
		l.BIOSBoot = s.BIOSBootMiB > 0
	}
	var err error
	for _, id := range []struct {
		name string
		in   string
		out  *string
		skip bool
	}{
		{"DiskGUID", s.DiskGUID, &l.DiskGUID, false},
		{"RootPartUUID", s.RootPartUUID, &l.RootPartUUID, false},
		{"SwapPartUUID", s.SwapPartUUID, &l.SwapPartUUID, s.SwapSizeMiB == 0},
		{"RootFSUUID", s.RootFSUUID, &l.RootFSUUID, false},
		{"ESPPartUUID", "", &l.ESPPartUUID, s.ESPSizeMiB+s.BIOSBootMiB == 0},
	} {
		if id.skip {
			continue
		}
		if *id.out, err = uuidOrRandom(id.in); err != nil {
			return Layout{}, fmt.Errorf("guestdisk: Spec.%s: %w", id.name, err)
		}
	}
	return l, nil
}

func uuidOrRandom(s string) (string, error) {
	if s == "" {
		u, err := uuid.NewRandom()
		return u.String(), err
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// writeTable creates the sparse image file path with the protective MBR and GPT.
func writeTable(path string, s Spec, l Layout) error {
	d, err := diskfs.Create(path, int64(s.SizeMiB)*mib, diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	parts := []*gpt.Partition{{
		Index: l.RootPartIndex, Type: gpt.LinuxFilesystem, Name: "root", GUID: l.RootPartUUID,
		Start: uint64(l.RootStart / sectorSize), End: uint64((l.RootStart+l.RootSize)/sectorSize - 1),
	}}
	if l.SwapPartIndex != 0 {
		parts = append(parts, &gpt.Partition{
			Index: l.SwapPartIndex, Type: gpt.LinuxSwap, Name: "swap", GUID: l.SwapPartUUID,
			Start: uint64(l.SwapStart / sectorSize), End: uint64((l.SwapStart+l.SwapSize)/sectorSize - 1),
		})
	}
	if l.ESPSize > 0 {
		typ, name := gpt.EFISystemPartition, "EFI system partition"
		if l.BIOSBoot {
			typ, name = gpt.BIOSBoot, "BIOS boot partition"
		}
		parts = append(parts, &gpt.Partition{
			Index: ESPPartIndex, Type: typ, Name: name, GUID: l.ESPPartUUID,
			Start: uint64(l.ESPStart / sectorSize), End: uint64((l.ESPStart+l.ESPSize)/sectorSize - 1),
		})
	}
	table := &gpt.Table{
		Partitions: parts, GUID: l.DiskGUID, ProtectiveMBR: true, // the kernel's GPT parser wants the protective MBR
		LogicalSectorSize: sectorSize, PhysicalSectorSize: sectorSize,
	}
	if err := d.Partition(table); err != nil {
		d.Close()
		return fmt.Errorf("writing the GPT of %s: %w", path, err)
	}
	if l.ESPSize > 0 && !l.BIOSBoot {
		if _, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: ESPPartIndex, FSType: filesystem.TypeFat32, VolumeLabel: s.ESPLabel}); err != nil {
			d.Close()
			return fmt.Errorf("making the FAT32 of the EFI system partition of %s: %w", path, err)
		}
	}
	return d.Close()
}

// mkfs makes the root filesystem with UUID fsUUID in the file img, sized already.
func mkfs(s Spec, fsUUID, img string) error {
	var cmd *exec.Cmd
	switch s.RootFSType {
	case "ext4":
		// -b 4096 -I 256: below 512 MiB mke2fs.conf's "small" type would pick
		// 1 KiB blocks and 128-byte inodes; 4 KiB blocks keep a swap file's
		// extents page-aligned (resume_offset is in pages) and 256-byte
		// inodes keep timestamps past 2038. -E nodiscard: the file is new
		// and sparse, nothing to discard. Owners come from the tree's files
		// (build it as root for a root-owned guest).
		args := []string{"-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-E", "nodiscard",
			"-m", "0", "-L", s.RootLabel, "-U", fsUUID}
		if s.RootTree != "" {
			args = append(args, "-d", s.RootTree)
		}
		cmd = exec.Command(tool("mkfs.ext4"), append(args, img)...)
	case "btrfs":
		args := []string{"-q", "-f", "-L", s.RootLabel, "-U", fsUUID}
		if s.RootTree != "" {
			args = append(args, "--rootdir", s.RootTree)
		}
		cmd = exec.Command(tool("mkfs.btrfs"), append(args, img)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tool finds a mkfs program: on PATH, else in /usr/sbin or /sbin, which a
// non-root user's PATH on Debian leaves out.
func tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	return name // exec reports it missing, with the name
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// readFSUUID reads the UUID from the superblock of the ext4 or btrfs image.
func readFSUUID(f *os.File, fstype string) (string, error) {
	var off int64
	var magic []byte
	var magicOff int64
	switch fstype {
	case "ext4":
		// Superblock at 1024: s_magic 0xEF53 at 0x38, s_uuid at 0x68.
		off, magicOff, magic = 1024+0x68, 1024+0x38, []byte{0x53, 0xef}
	case "btrfs":
		// Superblock at 64 KiB: fsid at 0x20, magic "_BHRfS_M" at 0x40.
		off, magicOff, magic = 0x10000+0x20, 0x10000+0x40, []byte("_BHRfS_M")
	default:
		return "", fmt.Errorf("unknown filesystem type %q", fstype)
	}
	got := make([]byte, len(magic))
	if _, err := f.ReadAt(got, magicOff); err != nil {
		return "", err
	}
	if string(got) != string(magic) {
		return "", fmt.Errorf("no %s superblock magic (found %x)", fstype, got)
	}
	var u uuid.UUID
	if _, err := f.ReadAt(u[:], off); err != nil {
		return "", err
	}
	return u.String(), nil
}
