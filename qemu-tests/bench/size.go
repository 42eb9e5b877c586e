package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// Sizes returns an initrd's size on disk and the size of the cpio archives in it: an initrd is
// uncompressed cpio archives (early microcode, padded to 4 bytes or 512) followed by at most one
// compressed one, whose decompressed bytes are counted with the compressor's own tool.
func Sizes(path string) (packed, unpacked int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	packed = int64(len(data))
	rest := data
	for len(rest) > 0 {
		switch {
		case bytes.HasPrefix(rest, []byte("070701")) || bytes.HasPrefix(rest, []byte("070702")):
			n, err := cpioLen(rest)
			if err != nil {
				return packed, unpacked, fmt.Errorf("%s: %w", path, err)
			}
			unpacked += int64(n)
			rest = rest[n:]
		case rest[0] == 0:
			rest = rest[1:] // padding between archives
		default:
			n, err := decompressedLen(rest)
			if err != nil {
				return packed, unpacked, fmt.Errorf("%s at byte %d: %w", path, len(data)-len(rest), err)
			}
			return packed, unpacked + n, nil
		}
	}
	return packed, unpacked, nil
}

// cpioLen is the length of the newc archive at the start of b, through its TRAILER!!! entry.
func cpioLen(b []byte) (int, error) {
	off := 0
	for {
		if off+110 > len(b) {
			return 0, fmt.Errorf("cpio header past the end at %d", off)
		}
		h := b[off : off+110]
		field := func(i int) (int, error) {
			v, err := strconv.ParseUint(string(h[6+8*i:6+8*i+8]), 16, 32)
			return int(v), err
		}
		size, err1 := field(6)
		nameLen, err2 := field(11)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("bad cpio header at %d", off)
		}
		nameEnd := off + 110 + nameLen
		if nameEnd > len(b) {
			return 0, fmt.Errorf("cpio name past the end at %d", off)
		}
		name := string(b[off+110 : nameEnd-1])
		dataStart := align4(nameEnd)
		off = align4(dataStart + size)
		if name == "TRAILER!!!" {
			return min(off, len(b)), nil
		}
	}
}

func align4(n int) int { return (n + 3) &^ 3 }

// decompressedLen decodes b with the tool its magic names and counts the bytes.
func decompressedLen(b []byte) (int64, error) {
	var tool []string
	switch {
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		tool = []string{"zstd", "-dc"}
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		tool = []string{"gzip", "-dc"}
	case bytes.HasPrefix(b, []byte("\xfd7zXZ")):
		tool = []string{"xz", "-dc"}
	case bytes.HasPrefix(b, []byte{0x02, 0x21, 0x4c, 0x18}):
		tool = []string{"lz4", "-dc"}
	default:
		return 0, fmt.Errorf("unknown format (bytes % x)", b[:min(8, len(b))])
	}
	cmd := exec.Command(tool[0], tool[1:]...)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n, _ := io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && n == 0 {
		return 0, fmt.Errorf("%v: %w: %s", tool, err, stderr.String())
	}
	return n, nil
}
