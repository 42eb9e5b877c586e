package sysfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	root := t.TempDir()
	long := bytes.Repeat([]byte("0123456789abcdef"), 700) // past the first buffer, and past a page
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"attribute", []byte("254:2\n")},
		{"long", long},
	} {
		if err := os.WriteFile(filepath.Join(root, c.name), c.content, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := New(root).ReadFile(c.name)
		if err != nil || !bytes.Equal(got, c.content) {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want %d bytes", c.name, len(got), err, len(c.content))
		}
	}
	_, err := New(root).ReadFile("missing")
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(root, "missing") {
		t.Errorf("ReadFile(missing) error = %v, want a *fs.PathError naming the file, with fs.ErrNotExist", err)
	}
	if _, err := New(root).ReadFile("."); err == nil {
		t.Error("ReadFile of a folder gave no error")
	}
	if s, err := New(root).ReadString("attribute"); s != "254:2" || err != nil {
		t.Errorf("ReadString = %q, %v", s, err)
	}
}

func TestRawFileReadAt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk")
	content := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 1024) // 8 KiB
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenRaw(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if n, err := f.ReadAt(buf, 4096); n != 4096 || err != nil || !bytes.Equal(buf, content[4096:]) {
		t.Errorf("ReadAt(4096) = %d, %v", n, err)
	}
	if n, err := f.ReadAt(buf, 6144); n != 2048 || err != io.EOF || !bytes.Equal(buf[:n], content[6144:]) {
		t.Errorf("ReadAt past the end = %d, %v; want 2048, io.EOF", n, err)
	}
	if _, err := OpenRaw(p + ".none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRaw(missing) error = %v", err)
	}
}

// A sysfs attribute, read as the checks and /init read them: readSmall against os.ReadFile,
// side by side (`go test -run XXX -bench Read ./internal/sysfs/`).
const benchAttr = "/sys/kernel/uevent_seqnum"

func BenchmarkReadSmall(b *testing.B) {
	if _, err := os.Stat(benchAttr); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := readSmall(benchAttr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOSReadFile(b *testing.B) {
	if _, err := os.Stat(benchAttr); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := os.ReadFile(benchAttr); err != nil {
			b.Fatal(err)
		}
	}
}
