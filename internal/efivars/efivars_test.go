package efivars

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testVar is a variable of systemd's vendor GUID that nothing uses.
const testVar = "HibernateTest-8cf2644b-4b0b-428f-9387-6d876050dc67"

// fakeRoot is a machine tree with an (empty) efivarfs folder. Every test of this package works
// below one: nothing here opens the host's /sys.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestEncodeString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"", []byte{0, 0}},
		{"{}", []byte{'{', 0, '}', 0, 0, 0}},
		{"é", []byte{0xe9, 0, 0, 0}},
		{"🚀", []byte{0x3d, 0xd8, 0x80, 0xde, 0, 0}},
	} {
		if got := EncodeString(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("EncodeString(%q) = % x, want % x", tc.in, got, tc.want)
		}
	}
}

func TestDecodeString(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"NUL-terminated", []byte{'a', 0, 'b', 0, 0, 0}, "ab"},
		{"not terminated", []byte{'a', 0, 'b', 0}, "ab"},
		{"text after the NUL is not read", []byte{'a', 0, 0, 0, 'x', 0}, "a"},
		{"odd last byte ignored", []byte{'a', 0, 'b'}, "a"},
		{"surrogate pair", []byte{0x3d, 0xd8, 0x80, 0xde, 0, 0}, "🚀"},
		{"lone trailing surrogate skipped", []byte{0x80, 0xde, 'a', 0}, "a"},
		{"leading surrogate without its pair dropped", []byte{0x3d, 0xd8, 'a', 0}, "a"},
		{"leading surrogate at the end dropped", []byte{'a', 0, 0x3d, 0xd8}, "a"},
	} {
		if got := DecodeString(tc.in); got != tc.want {
			t.Errorf("%s: DecodeString(% x) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestWriteReadVariable(t *testing.T) {
	root := fakeRoot(t)
	const name = testVar
	if err := WriteVariable(root, name, DefaultAttributes, []byte("longer data")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(Path(root, name))
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte{7, 0, 0, 0}, "longer data"...); !bytes.Equal(raw, want) {
		t.Fatalf("file = % x, want % x", raw, want)
	}
	// A shorter value replaces the whole variable, as on efivarfs.
	if err := WriteVariable(root, name, AttrNonVolatile|AttrRuntimeAccess, []byte("short")); err != nil {
		t.Fatal(err)
	}
	v, err := ReadVariable(root, name)
	if err != nil {
		t.Fatal(err)
	}
	if v.Attributes != 5 || string(v.Data) != "short" {
		t.Fatalf("read back %#x %q, want 0x5 \"short\"", v.Attributes, v.Data)
	}

	// The same value again is not written: the file keeps its old mtime.
	old := time.Unix(1_000_000_000, 0)
	if err := os.Chtimes(Path(root, name), old, old); err != nil {
		t.Fatal(err)
	}
	if err := WriteVariable(root, name, AttrNonVolatile|AttrRuntimeAccess, []byte("short")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(Path(root, name)); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("an unchanged variable was written again (mtime %v, err %v)", st.ModTime(), err)
	}
}

func TestWriteVariableRefusals(t *testing.T) {
	root := t.TempDir() // no efivarfs folder: not an EFI machine
	err := WriteVariable(root, testVar, DefaultAttributes, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), Dir(root)) {
		t.Errorf("write without efivarfs: %v, want an error naming %s", err, Dir(root))
	}
	if err := WriteVariable(fakeRoot(t), testVar, DefaultAttributes, nil); err == nil {
		t.Error("write of no data (a delete to efivarfs) was taken")
	}
}

func TestReadVariableBadFiles(t *testing.T) {
	root := fakeRoot(t)
	write := func(name string, b []byte) {
		if err := os.WriteFile(Path(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Empty-x", nil)
	write("Short-x", []byte{7, 0})
	if _, err := ReadVariable(root, "Empty-x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("uncommitted (empty) variable: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadVariable(root, "Short-x"); err == nil || !strings.Contains(err.Error(), "shorter than its 4-byte attributes") {
		t.Errorf("2-byte variable: %v", err)
	}
	if _, err := ReadVariable(root, "Missing-x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing variable: %v, want fs.ErrNotExist", err)
	}
	if err := os.Mkdir(Path(root, "Dir-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVariable(root, "Dir-x"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder as a variable: %v", err)
	}
}

func TestDeleteVariable(t *testing.T) {
	root := fakeRoot(t)
	deleted, err := DeleteVariable(root, testVar)
	if err != nil || deleted {
		t.Fatalf("delete of an absent variable = %v, %v; want false, nil", deleted, err)
	}
	if err := WriteVariable(root, testVar, DefaultAttributes, []byte("x\x00")); err != nil {
		t.Fatal(err)
	}
	deleted, err = DeleteVariable(root, testVar)
	if err != nil || !deleted {
		t.Fatalf("delete = %v, %v; want true, nil", deleted, err)
	}
	if _, err := os.Lstat(Path(root, testVar)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("variable still there after delete: %v", err)
	}
}

// setImmutable does `chattr +i`, or skips the test saying why: it needs CAP_LINUX_IMMUTABLE and a
// file system with inode flags under the test's temporary folder.
func setImmutable(t *testing.T, p string) {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsImmutableFL))
	}
	if err != nil {
		t.Skipf("cannot make %s immutable here (needs root and inode flags on %s): %v", p, os.TempDir(), err)
	}
	// Whatever the test does, the folder must be removable afterwards.
	t.Cleanup(func() {
		if _, err := os.Lstat(p); err == nil {
			if _, _, err := clearImmutable(p); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
}

func immutable(t *testing.T, p string) bool {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatal(err)
	}
	return flags&fsImmutableFL != 0
}

// TestImmutableVariable is efivarfs's protection as a plain file system shows it: an immutable
// file can be neither opened for writing nor removed until the flag is cleared.
func TestImmutableVariable(t *testing.T) {
	root := fakeRoot(t)
	p := Path(root, testVar)
	if err := WriteVariable(root, testVar, DefaultAttributes, []byte("old\x00")); err != nil {
		t.Fatal(err)
	}
	setImmutable(t, p)
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Skip("this file system lets an immutable file be opened for writing: nothing to prove here")
	}

	if err := WriteVariable(root, testVar, DefaultAttributes, []byte("new\x00")); err != nil {
		t.Fatalf("write over an immutable variable: %v", err)
	}
	if v, err := ReadVariable(root, testVar); err != nil || string(v.Data) != "new\x00" {
		t.Fatalf("read back %q, %v", v.Data, err)
	}
	if !immutable(t, p) {
		t.Error("the immutable flag was not put back after the write")
	}

	deleted, err := DeleteVariable(root, testVar)
	if err != nil || !deleted {
		t.Fatalf("delete of an immutable variable = %v, %v; want true, nil", deleted, err)
	}
}

func TestClearImmutableNotRegular(t *testing.T) {
	root := fakeRoot(t)
	p := Path(root, "Fifo-x")
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opened O_NONBLOCK, so this returns rather than waiting for a writer.
	if _, _, err := clearImmutable(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO as a variable: %v", err)
	}
	if _, err := DeleteVariable(root, "Fifo-x"); err == nil {
		t.Error("a FIFO was deleted as a variable")
	}
	if _, err := os.Lstat(filepath.Join(Dir(root), "Fifo-x")); err != nil {
		t.Errorf("FIFO gone: %v", err)
	}
}
