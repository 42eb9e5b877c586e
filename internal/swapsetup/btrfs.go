package swapsetup

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// A btrfs swap file's FIEMAP gives btrfs logical addresses: to find where its first page is on
// the device (resume_offset), map the address through the chunk tree, as `btrfs inspect-internal
// map-swapfile -r` does. The chunk tree is read from the device itself: the superblock's
// sys_chunk_array maps the SYSTEM block groups, which hold the chunk tree, whose CHUNK_ITEMs map
// every other block group. Layouts from the kernel's include/uapi/linux/btrfs_tree.h.

const (
	btrfsSuperOffset = 0x10000
	btrfsSuperSize   = 4096
	btrfsMagic       = "_BHRfS_M"
	btrfsHeaderSize  = 101 // struct btrfs_header
	btrfsKeySize     = 17  // struct btrfs_disk_key
	btrfsChunkSize   = 48  // struct btrfs_chunk up to stripes[]
	btrfsStripeSize  = 32  // struct btrfs_stripe
	btrfsChunkItem   = 228 // BTRFS_CHUNK_ITEM_KEY

	btrfsIncompatMetadataUUID = 1 << 10
	btrfsCsumCRC32C           = 0

	// block group profile bits of a chunk's type (BTRFS_BLOCK_GROUP_*)
	btrfsProfileMask = 0x7f8 // RAID0 RAID1 DUP RAID10 RAID5 RAID6 RAID1C3 RAID1C4
)

var btrfsProfiles = []struct {
	bit  uint64
	name string
}{{8, "raid0"}, {16, "raid1"}, {32, "dup"}, {64, "raid10"}, {128, "raid5"}, {256, "raid6"}, {512, "raid1c3"}, {1024, "raid1c4"}}

func btrfsProfile(typ uint64) string {
	for _, p := range btrfsProfiles {
		if typ&p.bit != 0 {
			return p.name
		}
	}
	return "single"
}

type btrfsStripe struct{ DevID, Offset uint64 }

type btrfsChunk struct {
	Logical, Length, Type uint64
	Stripes               []btrfsStripe
}

// btrfsDevice is what the device says of its file system: its identity and the chunk map.
type btrfsDevice struct {
	FSID       [16]byte
	DevID      uint64 // this device's id (the superblock's dev_item)
	NumDevices uint64
	NodeSize   uint32
	Chunks     []btrfsChunk
}

func (d *btrfsDevice) chunkOf(logical uint64) (*btrfsChunk, error) {
	for i := range d.Chunks {
		c := &d.Chunks[i]
		if logical >= c.Logical && logical-c.Logical < c.Length {
			return c, nil
		}
	}
	return nil, fmt.Errorf("btrfs logical address %d is in no chunk", logical)
}

// Physical maps a data address to a byte offset on this device. Only a single-profile chunk
// on this device has one plain answer, and it is the only kind the kernel swaps on
// ("swapfile must have single data profile").
func (d *btrfsDevice) Physical(logical uint64) (uint64, error) {
	c, err := d.chunkOf(logical)
	if err != nil {
		return 0, err
	}
	if p := btrfsProfile(c.Type); p != "single" {
		return 0, fmt.Errorf("btrfs address %d is in a %s chunk: the kernel swaps only on single-profile data", logical, p)
	}
	if len(c.Stripes) != 1 || c.Stripes[0].DevID != d.DevID {
		return 0, fmt.Errorf("btrfs address %d is on device id %d, not on this device (id %d)", logical, c.Stripes[0].DevID, d.DevID)
	}
	return c.Stripes[0].Offset + (logical - c.Logical), nil
}

// readBtrfsDevice reads the superblock and the chunk tree of the btrfs on r.
func readBtrfsDevice(r io.ReaderAt) (*btrfsDevice, error) {
	sb := make([]byte, btrfsSuperSize)
	if _, err := r.ReadAt(sb, btrfsSuperOffset); err != nil {
		return nil, fmt.Errorf("read btrfs superblock at byte %d: %w", btrfsSuperOffset, err)
	}
	le := binary.LittleEndian
	if string(sb[0x40:0x48]) != btrfsMagic {
		return nil, fmt.Errorf("no btrfs superblock at byte %d", btrfsSuperOffset)
	}
	csumType := le.Uint16(sb[0xc4:])
	if csumType == btrfsCsumCRC32C {
		if want, got := le.Uint32(sb[0:]), crc32c(sb[32:]); want != got {
			return nil, fmt.Errorf("btrfs superblock checksum %#x, computed %#x", want, got)
		}
	}
	d := &btrfsDevice{DevID: le.Uint64(sb[0xc9:]), NumDevices: le.Uint64(sb[0x88:]), NodeSize: le.Uint32(sb[0x94:])}
	copy(d.FSID[:], sb[0x20:0x30])
	metaFSID := d.FSID
	if le.Uint64(sb[0xbc:])&btrfsIncompatMetadataUUID != 0 {
		copy(metaFSID[:], sb[0x23b:0x24b])
	}
	if d.NodeSize < 4096 || d.NodeSize > 65536 {
		return nil, fmt.Errorf("btrfs nodesize %d out of range", d.NodeSize)
	}
	n := le.Uint32(sb[0xa0:])
	if n > 2048 {
		return nil, fmt.Errorf("btrfs sys_chunk_array_size %d > 2048", n)
	}
	arr := sb[0x32b : 0x32b+n]
	for len(arr) > 0 {
		if len(arr) < btrfsKeySize+btrfsChunkSize || arr[8] != btrfsChunkItem {
			return nil, fmt.Errorf("btrfs sys_chunk_array: bad item at byte %d", int(n)-len(arr))
		}
		logical := le.Uint64(arr[9:])
		c, size, err := parseBtrfsChunk(arr[btrfsKeySize:], logical)
		if err != nil {
			return nil, fmt.Errorf("btrfs sys_chunk_array: %w", err)
		}
		d.Chunks = append(d.Chunks, c)
		arr = arr[btrfsKeySize+size:]
	}
	var sys []btrfsChunk // the chunk tree repeats the system chunks
	sys = append(sys, d.Chunks...)
	walker := btrfsWalker{r: r, dev: d, metaFSID: metaFSID, crc: csumType == btrfsCsumCRC32C, sys: sys}
	d.Chunks = nil
	if err := walker.walk(le.Uint64(sb[0x58:]), int(sb[0xc7]), 0); err != nil {
		return nil, fmt.Errorf("btrfs chunk tree: %w", err)
	}
	if len(d.Chunks) == 0 {
		d.Chunks = sys
	}
	return d, nil
}

func parseBtrfsChunk(b []byte, logical uint64) (btrfsChunk, int, error) {
	le := binary.LittleEndian
	if len(b) < btrfsChunkSize {
		return btrfsChunk{}, 0, fmt.Errorf("chunk at %d: %d bytes, want %d", logical, len(b), btrfsChunkSize)
	}
	c := btrfsChunk{Logical: logical, Length: le.Uint64(b[0:]), Type: le.Uint64(b[24:])}
	ns := int(le.Uint16(b[44:]))
	size := btrfsChunkSize + ns*btrfsStripeSize
	if ns == 0 || len(b) < size {
		return c, 0, fmt.Errorf("chunk at %d: %d stripes in %d bytes", logical, ns, len(b))
	}
	for i := range ns {
		s := b[btrfsChunkSize+i*btrfsStripeSize:]
		c.Stripes = append(c.Stripes, btrfsStripe{DevID: le.Uint64(s[0:]), Offset: le.Uint64(s[8:])})
	}
	return c, size, nil
}

type btrfsWalker struct {
	r        io.ReaderAt
	dev      *btrfsDevice
	metaFSID [16]byte
	crc      bool
	sys      []btrfsChunk
	nodes    int
}

// node reads the tree block at a logical address through the system chunks (stripe 0: DUP
// copies are the same).
func (w *btrfsWalker) node(logical uint64) ([]byte, error) {
	sysdev := btrfsDevice{Chunks: w.sys}
	c, err := sysdev.chunkOf(logical)
	if err != nil {
		return nil, err
	}
	var phys uint64
	found := false
	for _, s := range c.Stripes {
		if s.DevID == w.dev.DevID {
			phys, found = s.Offset+(logical-c.Logical), true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("tree block %d is not on this device", logical)
	}
	b := make([]byte, w.dev.NodeSize)
	if _, err := w.r.ReadAt(b, int64(phys)); err != nil {
		return nil, fmt.Errorf("read tree block %d at byte %d: %w", logical, phys, err)
	}
	le := binary.LittleEndian
	if got := le.Uint64(b[0x30:]); got != logical {
		return nil, fmt.Errorf("tree block at %d says it is at %d", logical, got)
	}
	if [16]byte(b[0x20:0x30]) != w.metaFSID {
		return nil, fmt.Errorf("tree block at %d belongs to another file system", logical)
	}
	if w.crc {
		if want, got := le.Uint32(b[0:]), crc32c(b[32:]); want != got {
			return nil, fmt.Errorf("tree block at %d: checksum %#x, computed %#x", logical, want, got)
		}
	}
	return b, nil
}

func (w *btrfsWalker) walk(logical uint64, level, depth int) error {
	if depth > 8 || w.nodes > 1<<16 {
		return fmt.Errorf("tree deeper or larger than a chunk tree can be")
	}
	w.nodes++
	b, err := w.node(logical)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	nr := int(le.Uint32(b[0x60:]))
	if int(b[0x64]) != level {
		return fmt.Errorf("tree block at %d has level %d, want %d", logical, b[0x64], level)
	}
	if level > 0 {
		const ptr = btrfsKeySize + 16
		if btrfsHeaderSize+nr*ptr > len(b) {
			return fmt.Errorf("node at %d: %d pointers do not fit", logical, nr)
		}
		for i := range nr {
			p := b[btrfsHeaderSize+i*ptr:]
			if err := w.walk(le.Uint64(p[btrfsKeySize:]), level-1, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	const item = btrfsKeySize + 8
	if btrfsHeaderSize+nr*item > len(b) {
		return fmt.Errorf("leaf at %d: %d items do not fit", logical, nr)
	}
	for i := range nr {
		it := b[btrfsHeaderSize+i*item:]
		if it[8] != btrfsChunkItem {
			continue
		}
		off, size := int(le.Uint32(it[17:])), int(le.Uint32(it[21:]))
		if btrfsHeaderSize+off+size > len(b) {
			return fmt.Errorf("leaf at %d: item %d out of the block", logical, i)
		}
		c, _, err := parseBtrfsChunk(b[btrfsHeaderSize+off:btrfsHeaderSize+off+size], le.Uint64(it[9:]))
		if err != nil {
			return err
		}
		w.dev.Chunks = append(w.dev.Chunks, c)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// The mounted file system's own account (linux/btrfs.h ioctls), for the device list.
const (
	btrfsIocFSInfo  = 0x8400941F // _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args), 1024 bytes
	btrfsIocDevInfo = 0xD000941E // _IOWR(0x94, 30, struct btrfs_ioctl_dev_info_args), 4096 bytes
)

type btrfsMounted struct {
	NumDevices uint64
	FSID       [16]byte
	Devices    map[uint64]string // devid → path, as the kernel names it
}

// btrfsMountedInfo asks the btrfs that holds f for its devices.
func btrfsMountedInfo(f *os.File) (btrfsMounted, error) {
	var m btrfsMounted
	fi := make([]byte, 1024)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), btrfsIocFSInfo, uintptr(unsafe.Pointer(&fi[0]))); e != 0 {
		return m, fmt.Errorf("ioctl(%s, BTRFS_IOC_FS_INFO): %w", f.Name(), e)
	}
	le := binary.LittleEndian
	maxID := le.Uint64(fi[0:])
	m.NumDevices = le.Uint64(fi[8:])
	copy(m.FSID[:], fi[16:32])
	m.Devices = map[uint64]string{}
	for id := uint64(1); id <= maxID && uint64(len(m.Devices)) < m.NumDevices; id++ {
		di := make([]byte, 4096)
		le.PutUint64(di[0:], id)
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), btrfsIocDevInfo, uintptr(unsafe.Pointer(&di[0]))); e != 0 {
			if e == unix.ENODEV {
				continue // a removed or replaced device's id
			}
			return m, fmt.Errorf("ioctl(%s, BTRFS_IOC_DEV_INFO, devid %d): %w", f.Name(), id, e)
		}
		m.Devices[id] = unix.ByteSliceToString(di[3072:])
	}
	return m, nil
}

// inode flags (FS_IOC_GETFLAGS)
const (
	fsNoCowFl = 0x00800000
	fsComprFl = 0x00000004
)

// btrfsMakeNoCow marks the empty file f NOCOW (chattr +C) and not compressed: the kernel swaps
// only on a NODATACOW file, and only an empty file can change its COW mode.
func btrfsMakeNoCow(f *os.File) error {
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("ioctl(%s, FS_IOC_GETFLAGS): %w", f.Name(), err)
	}
	want := (flags | fsNoCowFl) &^ fsComprFl
	if want != flags {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(want)); err != nil {
			return fmt.Errorf("ioctl(%s, FS_IOC_SETFLAGS, %#x) (chattr +C): %w", f.Name(), want, err)
		}
	}
	return btrfsCheckNoCow(f)
}

// btrfsCheckNoCow says why f cannot be a btrfs swap file, by its inode flags.
func btrfsCheckNoCow(f *os.File) error {
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("ioctl(%s, FS_IOC_GETFLAGS): %w", f.Name(), err)
	}
	if flags&fsNoCowFl == 0 {
		return fmt.Errorf("%s is copy-on-write: the kernel swaps only on a NOCOW btrfs file (make it anew: an empty file, chattr +C, then allocate)", f.Name())
	}
	if flags&fsComprFl != 0 {
		return fmt.Errorf("%s is marked for compression: the kernel cannot swap on a compressed btrfs file", f.Name())
	}
	return nil
}

// btrfsDeviceOf asks the btrfs holding f for its device, refuses more than one, and reads the
// chunk tree from it.
func btrfsDeviceOf(fs sysfs.FS, f *os.File) (blockdev.Device, *btrfsDevice, error) {
	m, err := btrfsMountedInfo(f)
	if err != nil {
		return blockdev.Device{}, nil, err
	}
	if m.NumDevices != 1 || len(m.Devices) != 1 {
		return blockdev.Device{}, nil, fmt.Errorf("the btrfs holding it has %d devices: the kernel swaps only on a single-device btrfs", m.NumDevices)
	}
	var path string
	for _, p := range m.Devices {
		path = p
	}
	dev, err := blockdev.ByPath(fs, path)
	if err != nil {
		return dev, nil, err
	}
	r, err := os.Open(fs.Path(strings.TrimPrefix(dev.Path, "/")))
	if err != nil {
		return dev, nil, fmt.Errorf("read the btrfs chunk tree: %w", err)
	}
	defer r.Close()
	bd, err := readBtrfsDevice(r)
	if err != nil {
		return dev, nil, fmt.Errorf("%s: %w", dev.Path, err)
	}
	if bd.FSID != m.FSID {
		return dev, nil, fmt.Errorf("%s holds btrfs %x, not the mounted %x", dev.Path, bd.FSID, m.FSID)
	}
	return dev, bd, nil
}
