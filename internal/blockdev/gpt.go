package blockdev

import (
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
