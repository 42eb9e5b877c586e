package blockdev

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"golang.org/x/sys/unix"
)

// GPTPartition is one entry of a GPT partition table.
type GPTPartition struct {
	Number int    // partition number (PARTN)
	Start  int64  // bytes from the start of the disk
	Size   int64  // bytes
	GUID   string // unique partition GUID (PARTUUID), lowercase
	Name   string // partition name (PARTLABEL)
}

// GPTPartitions reads the GPT of the disk or disk image at path, read-only, with go-diskfs's GPT
// reader. Its diskfs.Open was passed over here: it brings every file system go-diskfs knows, and
// their decompressors, into /init, which reads a GPT for PARTUUID= at every boot.
func GPTPartitions(path string) ([]GPTPartition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	logical, physical := 512, 512 // a disk image; a block device says its own
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeDevice != 0 {
		if n, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET); err == nil && n > 0 {
			logical = n
		}
		if n, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKPBSZGET); err == nil && n > 0 {
			physical = n
		}
	}
	size, err := Size(f)
	if err != nil {
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	if err := checkGPTHeaders(f, size, int64(logical)); err != nil {
		return nil, fmt.Errorf("partition table of %s: %w", path, err)
	}
	t, err := gpt.Read(f, logical, physical)
	if err != nil {
		return nil, fmt.Errorf("read the partition table of %s: %w", path, err)
	}
	var out []GPTPartition
	for i, p := range t.Partitions {
		if p == nil || p.Start == 0 {
			continue
		}
		n := p.Index
		if n == 0 {
			n = i + 1
		}
		out = append(out, GPTPartition{Number: n, Start: p.GetStart(), Size: p.GetSize(), GUID: strings.ToLower(p.GUID), Name: p.Name})
	}
	return out, nil
}

// GPT bounds, as the kernel's own reader (block/partitions/efi.c) holds them: an entry is 128
// bytes, and the entry array lies inside the disk. maxGPTEntries caps what any disk's table may
// make us allocate (the usual table has 128 entries; 16384 is 2 MiB).
const (
	gptEntrySize  = 128
	maxGPTEntries = 16384
)

// checkGPTHeaders bounds the primary and backup GPT headers of a disk of size bytes before
// go-diskfs reads them: it allocates entries × entry size from the header unchecked, so a
// crafted table (a USB stick is enough: /init reads every disk's GPT for PARTUUID=) would
// panic or exhaust memory in PID 1. A header without the "EFI PART" signature is no GPT and
// is left to go-diskfs to refuse.
func checkGPTHeaders(r io.ReaderAt, size, sector int64) error {
	if size < 3*sector {
		return nil // too small to hold a GPT: go-diskfs's short read says so
	}
	for _, at := range []int64{sector, (size/sector - 1) * sector} {
		hdr := make([]byte, 92)
		if _, err := r.ReadAt(hdr, at); err != nil {
			return fmt.Errorf("read GPT header at byte %d: %w", at, err)
		}
		if err := checkGPTHeader(hdr, size, sector); err != nil {
			return fmt.Errorf("GPT header at byte %d: %w", at, err)
		}
	}
	return nil
}

// checkGPTHeader bounds one header's entry array: its size, its count, and where it lies.
func checkGPTHeader(hdr []byte, size, sector int64) error {
	if len(hdr) < 92 || string(hdr[:8]) != "EFI PART" {
		return nil
	}
	le := binary.LittleEndian
	first := le.Uint64(hdr[72:80])
	count := le.Uint32(hdr[80:84])
	entry := le.Uint32(hdr[84:88])
	if entry != gptEntrySize {
		return fmt.Errorf("entries of %d bytes, want %d", entry, gptEntrySize)
	}
	if count == 0 || count > maxGPTEntries {
		return fmt.Errorf("%d entries, want 1 to %d", count, maxGPTEntries)
	}
	sectors := uint64(size / sector)
	arraySectors := (uint64(count)*gptEntrySize + uint64(sector) - 1) / uint64(sector)
	if first < 1 || first >= sectors || arraySectors > sectors-first {
		return fmt.Errorf("entry array at sector %d (%d sectors) outside the disk's %d sectors", first, arraySectors, sectors)
	}
	return nil
}

// gptPartGUIDs maps partition numbers of the disk at path to their unique GUIDs (PARTUUID).
func gptPartGUIDs(path string) (map[int]string, error) {
	parts, err := GPTPartitions(path)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, p := range parts {
		if p.GUID != "" {
			out[p.Number] = p.GUID
		}
	}
	return out, nil
}

// Size is a regular file's length or a block device's size (BLKGETSIZE64, else its end).
func Size(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode().IsRegular() {
		return st.Size(), nil
	}
	n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
	if err == nil {
		return int64(n), nil
	}
	end, err2 := f.Seek(0, io.SeekEnd)
	if err2 != nil {
		return 0, err
	}
	return end, nil
}
