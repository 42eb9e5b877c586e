package hibernate

import (
	"bytes"
	"testing"
)

// FuzzReadInitramfs: any bytes as an initramfs (concatenated cpio archives, compressed or not)
// give contents or an error, never a panic.
func FuzzReadInitramfs(f *testing.F) {
	f.Add([]byte("070701" + string(bytes.Repeat([]byte("0"), 104))))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readInitramfs(bytes.NewReader(b))
	})
}
