// Package blockdev lists the machine's block devices below a root prefix, tells what each holds
// the way blkid does (a swap area, a hibernation image, the file systems hibernate reads, a LUKS
// header's UUID, by which the initramfs unlocks it, and by name only what it must never
// overwrite: LVM and RAID members, other file systems, partition tables), and resolves device specs (resume=, root=) to one of them.
//
// u-root's pkg/mount/block was passed over: it fills UUIDs for vfat/ext4/xfs only, knows no swap
// area or hibernation signature, and reads the real /sys with no root prefix.
package blockdev

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Probe is what the start of a device says it holds.
type Probe struct {
	// Type is blkid's TYPE: "swap", "swsusp" (a swap area holding a hibernation image), "ext4",
	// "btrfs", "vfat", "xfs", "crypto_LUKS" (with UUID and label); by name only "LVM2_member",
	// "linux_raid_member", "bcache", "ntfs", "exfat", "BitLocker", "f2fs", "jfs", "reiserfs",
	// "iso9660", "squashfs", and the partition tables "gpt" and "dos"; "" when none is known.
	Type  string
	UUID  string // filesystem, swap area or LUKS header UUID, lowercase canonical form (a LUKS header's as written)
	Label string
}

// Describe names what the probe found for a person: "a LUKS encrypted volume", "an ext4 file system".
func (p Probe) Describe() string {
	switch p.Type {
	case "":
		return "nothing known"
	case "swap":
		return "a swap area"
	case "swsusp":
		return "a hibernation image"
	case "crypto_LUKS":
		return "a LUKS encrypted volume"
	case "LVM2_member":
		return "an LVM physical volume"
	case "linux_raid_member":
		return "an md RAID member"
	case "bcache":
		return "a bcache device"
	case "BitLocker":
		return "a BitLocker encrypted volume"
	case "gpt", "dos":
		return "a partition table (" + p.Type + ")"
	}
	if strings.ContainsRune("aeiou", rune(p.Type[0])) {
		return "an " + p.Type + " file system"
	}
	return "a " + p.Type + " file system"
}

func uuidString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	allZero := true
	for _, c := range b {
		if c != 0 {
			allZero = false
		}
	}
	if allZero {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// hibernation signatures that blkid reports in place of the swap magic (at PAGE_SIZE-10).
var hibernationSigs = []string{"S1SUSPEND", "S2SUSPEND", "ULSUSPEND", "LINHIB0001"}

// ProbeReader reads the first 68 KiB of r (what it has of them) and names what it holds.
// A device shorter than a signature's place simply does not have that signature.
func ProbeReader(r io.ReaderAt) (Probe, error) {
	p, _, err := probeRead(r)
	return p, err
}

// probeRead is ProbeReader that also gives the first page it read (what it has of it).
func probeRead(r io.ReaderAt) (Probe, []byte, error) {
	// The first page holds the swap and hibernation signatures and ext4's superblock: most
	// devices are named by it, and only the others cost the read up to btrfs's superblock (a FAT
	// boot sector is in the first page too, but btrfs goes before it, as in the whole probe: a
	// btrfs made over an old FAT keeps that sector).
	buf := make([]byte, 0x10000+4096)
	if n, err := r.ReadAt(buf[:4096], 0); n == 4096 || err == nil {
		if p := probeBytes(buf[:n]); p.Type == "swap" || p.Type == "swsusp" || p.Type == "ext4" || p.Type == "xfs" {
			return p, buf[:n], nil
		}
	}
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		if n == 0 {
			return Probe{}, nil, err
		}
	}
	buf = buf[:n]
	return probeBytes(buf), buf[:min(n, 4096)], nil
}

func probeBytes(b []byte) Probe {
	const page = 4096
	if len(b) >= page {
		magic := string(b[page-10 : page])
		if magic == "SWAPSPACE2" || magic == "SWAP-SPACE" {
			return Probe{Type: "swap", UUID: uuidString(b[1036:1052]), Label: cString(b[1052:1068])}
		}
		for _, s := range hibernationSigs {
			if strings.HasPrefix(magic, s) {
				return Probe{Type: "swsusp", UUID: uuidString(b[1036:1052]), Label: cString(b[1052:1068])}
			}
		}
	}
	if t := foreignType(b); t != "" {
		if t == "crypto_LUKS" {
			return luksProbe(b)
		}
		return Probe{Type: t}
	}
	// ext2/3/4 superblock at 1024: magic 0xEF53 at +56, uuid at +104, label at +120.
	if len(b) >= 1024+136 && binary.LittleEndian.Uint16(b[1024+56:]) == 0xEF53 {
		return Probe{Type: "ext4", UUID: uuidString(b[1024+104 : 1024+120]), Label: cString(b[1024+120 : 1024+136])}
	}
	// xfs superblock at 0: "XFSB", uuid at 32, label (12 bytes) at 108.
	if len(b) >= 120 && string(b[0:4]) == "XFSB" {
		return Probe{Type: "xfs", UUID: uuidString(b[32:48]), Label: cString(b[108:120])}
	}
	// btrfs superblock at 64 KiB: fsid at +0x20, magic "_BHRfS_M" at +0x40, label at +0x12b.
	const bt = 0x10000
	if len(b) >= bt+0x12b+256 && string(b[bt+0x40:bt+0x48]) == "_BHRfS_M" {
		return Probe{Type: "btrfs", UUID: uuidString(b[bt+0x20 : bt+0x30]), Label: cString(b[bt+0x12b : bt+0x12b+256])}
	}
	// Boot sectors with their own OEM names, before FAT's (they end in 55 aa too).
	if len(b) >= 512 {
		switch string(b[3:11]) {
		case "NTFS    ":
			return Probe{Type: "ntfs"}
		case "EXFAT   ":
			return Probe{Type: "exfat"}
		case "-FVE-FS-":
			return Probe{Type: "BitLocker"}
		}
	}
	// FAT32 boot sector: "FAT32   " at 82, volume id at 67, label at 71; FAT12/16: at 54, 39, 43.
	if len(b) >= 512 && b[510] == 0x55 && b[511] == 0xAA {
		if string(b[82:90]) == "FAT32   " {
			return Probe{Type: "vfat", UUID: fatSerial(b[67:71]), Label: cString(b[71:82])}
		}
		if strings.HasPrefix(string(b[54:62]), "FAT1") {
			return Probe{Type: "vfat", UUID: fatSerial(b[39:43]), Label: cString(b[43:54])}
		}
	}
	if t := laterType(b); t != "" {
		return Probe{Type: t}
	}
	return Probe{}
}

func fatSerial(b []byte) string {
	v := binary.LittleEndian.Uint32(b)
	return fmt.Sprintf("%04X-%04X", v>>16, v&0xffff)
}

// luksProbe reads a LUKS header's UUID, as text at 168 in both versions (LUKS1's uuid field,
// LUKS2's binary header), and LUKS2's label at 24: blkid's UUID= and LABEL= of the volume, by
// which the initramfs names it (a LUKS1 header has no label).
func luksProbe(b []byte) Probe {
	p := Probe{Type: "crypto_LUKS"}
	if len(b) >= 208 {
		p.UUID = printable(cString(b[168:208]))
	}
	if len(b) >= 72 && binary.BigEndian.Uint16(b[6:8]) == 2 {
		p.Label = printable(cString(b[24:72]))
	}
	return p
}

// printable is s when it is printable ASCII, else "": a damaged header names nothing.
func printable(s string) string {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return s
}

// BcacheMagic is bcache's superblock magic, at 4096+24.
var BcacheMagic = []byte{0xc6, 0x85, 0x73, 0xf6, 0x4e, 0x1a, 0x45, 0xca, 0x82, 0x65, 0xf5, 0x7f, 0x48, 0xba, 0x6d, 0x81}

// foreignType names the containers whose header comes before any file system's (blkid's
// TYPE), read where libblkid reads them: LUKS at 0, an LVM2 label in one of the first four
// sectors, an md superblock of metadata 1.1 (at 0) or 1.2 (at 4 KiB), bcache at 4 KiB.
// md 0.90 and 1.0 keep theirs at the device's end, which this does not read.
func foreignType(b []byte) string {
	switch {
	case magicAt(b, 0, "LUKS\xba\xbe"):
		return "crypto_LUKS"
	case magicAt(b, 0, "\xfc\x4e\x2b\xa9"), magicAt(b, 4096, "\xfc\x4e\x2b\xa9"): // 0xa92b4efc, little-endian
		return "linux_raid_member"
	case magicAt(b, 4096+24, string(BcacheMagic)):
		return "bcache"
	}
	for sector := 0; sector < 4; sector++ {
		if magicAt(b, sector*512, "LABELONE") && magicAt(b, sector*512+24, "LVM2 001") {
			return "LVM2_member"
		}
	}
	return ""
}

// laterType names what is recognised after the file systems hibernate reads: others that sit
// further in, and partition tables (a GPT's header in sector 1; an MBR's 55 aa with no file
// system's boot sector).
func laterType(b []byte) string {
	switch {
	case magicAt(b, 1024, "\x10\x20\xf5\xf2"): // f2fs 0xF2F52010
		return "f2fs"
	case magicAt(b, 32768, "JFS1"):
		return "jfs"
	case magicAt(b, 0x10000+52, "ReIsEr2Fs"), magicAt(b, 0x10000+52, "ReIsEr3Fs"), magicAt(b, 0x10000+52, "ReIsErFs"):
		return "reiserfs"
	case magicAt(b, 32769, "CD001"):
		return "iso9660"
	case magicAt(b, 0, "hsqs"):
		return "squashfs"
	case magicAt(b, 512, "EFI PART"):
		return "gpt"
	case len(b) >= 512 && b[510] == 0x55 && b[511] == 0xAA:
		return "dos"
	}
	return ""
}

// magicAt says whether b holds magic at byte off.
func magicAt(b []byte, off int, magic string) bool {
	return len(b) >= off+len(magic) && string(b[off:off+len(magic)]) == magic
}
