package resume

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"

	"github.com/u-root/u-root/pkg/cpio"
	"golang.org/x/sys/unix"
)

// Keys for a kexec: the passphrase is typed once. When /init kexecs into the kernel that made
// the image, the keys that opened the volumes at this boot go with it in memory only: an
// uncompressed archive appended to that kernel's initramfs (the copy in /run, a tmpfs), which
// the kernel unpacks into its rootfs beside the rest. That kernel's /init reads each key from
// KeyDir, wipes the file and removes it (inheritedKey). Nothing of it reaches a disk.

// appendKeys appends to the initramfs file at initrd an archive of keys (KeyDir/NAME, 0400)
// and returns what takes it back off (the file cut to its old length, the keys' bytes
// overwritten first), for when the kexec does not happen.
func appendKeys(initrd string, keys map[string][]byte) (undo func(), err error) {
	f, err := os.OpenFile(initrd, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s to pass the keys: %w", initrd, err)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("seek %s: %w", initrd, err)
	}
	// The kernel reads archive after archive, skipping the zeros between them; each starts on a
	// 4-byte boundary.
	pad := (4 - end%4) % 4
	var buf bytes.Buffer
	buf.Write(make([]byte, pad))
	if err := writeKeyArchive(&buf, keys); err != nil {
		return nil, err
	}
	undo = func() {
		if f, err := os.OpenFile(initrd, os.O_RDWR, 0); err == nil {
			_, _ = f.WriteAt(make([]byte, buf.Len()), end)
			_ = f.Truncate(end)
			f.Close()
		}
	}
	_, err = f.Write(buf.Bytes())
	wipe(buf.Bytes())
	if err != nil {
		undo()
		return nil, fmt.Errorf("append the keys to %s: %w", initrd, err)
	}
	return undo, nil
}

// writeKeyArchive writes the newc archive of keys. Records read from the keys' own bytes (not a
// string copy that could not be wiped).
func writeKeyArchive(w io.Writer, keys map[string][]byte) error {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := cpio.Newc.Writer(w)
	if err := cw.WriteRecord(cpio.Directory(KeyDir, 0o700)); err != nil {
		return err
	}
	for _, n := range names {
		k := keys[n]
		r := cpio.Record{ReaderAt: bytes.NewReader(k), Info: cpio.Info{
			Name: path.Join(KeyDir, n), Mode: unix.S_IFREG | 0o400, FileSize: uint64(len(k)), NLink: 1}}
		if err := cw.WriteRecord(r); err != nil {
			return fmt.Errorf("write the key of %s: %w", n, err)
		}
	}
	return cpio.WriteTrailer(cw)
}
