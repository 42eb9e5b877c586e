package swapsetup

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Swap-file file systems: the kernel swaps on a file through the file system's swap_activate
// (iomap on ext4 and xfs, btrfs_swap_activate) and writes the image straight to the block
// device, at the blocks activation mapped. Hibernation then needs one block device under the
// file (resume=) and the file's first block on it (resume_offset=). These are the file systems
// where both hold and that we have checked; every other is refused with its reason.
var swapFileFS = map[int64]string{
	unix.EXT4_SUPER_MAGIC:  "ext4", // ext2/ext3/ext4 share the magic
	unix.XFS_SUPER_MAGIC:   "xfs",
	unix.BTRFS_SUPER_MAGIC: "btrfs",
}

var noSwapFileFS = map[int64]string{
	unix.TMPFS_MAGIC:           "tmpfs: it lives in RAM, which the image must be saved from",
	unix.RAMFS_MAGIC:           "ramfs: it lives in RAM, which the image must be saved from",
	unix.NFS_SUPER_MAGIC:       "nfs: the kernel reads a resume image from a local block device only",
	unix.CIFS_SUPER_MAGIC:      "cifs: the kernel reads a resume image from a local block device only",
	unix.SMB2_SUPER_MAGIC:      "smb: the kernel reads a resume image from a local block device only",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay: the kernel cannot swap on overlayfs; put the file on the file system below it",
	unix.FUSE_SUPER_MAGIC:      "fuse: the kernel cannot swap on a FUSE file system",
	unix.SQUASHFS_MAGIC:        "squashfs: read-only",
	0x2fc12fc1:                 "zfs: ZFS has no swap-file support (use a zvol or a partition)",
	unix.F2FS_SUPER_MAGIC:      "f2fs: not supported by hibernate yet (ext4, xfs and btrfs are)",
	unix.MSDOS_SUPER_MAGIC:     "vfat: no owner or mode to keep a swap file private; not supported",
	unix.EXFAT_SUPER_MAGIC:     "exfat: no swap-file support",
}

// fileSystemOf names the file system holding dir (statfs magic), or says why a swap file for
// hibernation cannot live there.
func fileSystemOf(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs(%s): %w", dir, err)
	}
	magic := int64(st.Type) & 0xffffffff
	if name, ok := swapFileFS[magic]; ok {
		return name, nil
	}
	if why, ok := noSwapFileFS[magic]; ok {
		return "", fmt.Errorf("%s is on %s", dir, why)
	}
	return "", fmt.Errorf("%s is on a file system with magic %#x: hibernate makes swap files on ext4, xfs and btrfs only", dir, magic)
}

// fsUUID is the UUID of the file system on dev, as blkid gives it.
func fsUUID(dev blockdev.Device, fstype string) (string, error) {
	if dev.Probe.UUID == "" || dev.Probe.Type != fstype {
		return "", fmt.Errorf("%s: no %s file system UUID found on the device (probe: %q)", dev.Path, fstype, dev.Probe.Type)
	}
	return dev.Probe.UUID, nil
}

// AutoSize is the size of swap that `--size auto` makes: the machine's RAM (MemTotal) rounded up
// to a whole GiB.
//
// Why RAM: the kernel's image holds every page it cannot free, and at most all of RAM; it is
// usually much smaller (image_size defaults to 2/5 of RAM, and images are LZO-compressed), but
// what it holds depends on what runs at the moment you hibernate, and a hibernation that finds
// too little swap fails (ENOSPC) after freezing every task. A swap of RAM's size never runs out
// for the image, which is the guarantee setup is for; a smaller --size is the user's choice.
// Rounding up to a GiB absorbs the memory the firmware and the kernel keep out of MemTotal.
func AutoSize(fs sysfs.FS) (int64, error) {
	mem, err := fs.Meminfo()
	if err != nil {
		return 0, fmt.Errorf("read RAM size: %w", err)
	}
	m, err := mem.MemTotal()
	if err != nil {
		return 0, err
	}
	const gib = 1 << 30
	return (m + gib - 1) / gib * gib, nil
}
