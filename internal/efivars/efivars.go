// Package efivars reads and writes EFI variables through efivarfs below a root prefix
// (ROOT/sys/firmware/efi/efivars), and knows one of them exactly: systemd's HibernateLocation,
// with which systemd-sleep tells its initrd where the hibernation image is.
//
// The root is "/" on a real machine and a t.TempDir() in tests, where the variables are plain
// files: everything here works on both, and says where efivarfs behaves differently. The
// format and systemd's semantics are in docs/hibernatelocation.md, with the systemd source
// each fact was read from.
package efivars

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The attribute bits of an EFI variable (UEFI spec, SetVariable), the first 4 bytes
// (little-endian) of each efivarfs file.
const (
	AttrNonVolatile       uint32 = 0x1
	AttrBootserviceAccess uint32 = 0x2
	AttrRuntimeAccess     uint32 = 0x4

	// DefaultAttributes are the ones systemd sets on every variable it writes
	// (src/basic/efivars.c, efi_set_variable): kept across power cycles, readable by the
	// boot loader and by the running OS.
	DefaultAttributes = AttrNonVolatile | AttrBootserviceAccess | AttrRuntimeAccess
)

// fsImmutableFL is FS_IMMUTABLE_FL of include/uapi/linux/fs.h (chattr's 'i'), which
// golang.org/x/sys/unix does not define.
const fsImmutableFL = 0x00000010

// maxVariableSize bounds what Read accepts: systemd refuses variables over 4 MiB as
// "ridiculously large" (efi_get_variable); firmware stores far less.
const maxVariableSize = 4 << 20

// Dir is where efivarfs is mounted below root.
func Dir(root string) string {
	return filepath.Join(root, "sys", "firmware", "efi", "efivars")
}

// Path is the efivarfs file of a variable: name is NAME-GUID, as efivarfs names its files.
func Path(root, name string) string {
	return filepath.Join(Dir(root), name)
}

// IsEFIBoot says whether the machine below root was booted through UEFI: the kernel makes
// /sys/firmware/efi only then. systemd asks the same (is_efi_boot) before it reads or writes
// HibernateLocation.
func IsEFIBoot(root string) bool {
	st, err := os.Stat(filepath.Join(root, "sys", "firmware", "efi"))
	return err == nil && st.IsDir()
}

// Variable is an EFI variable as efivarfs shows it.
type Variable struct {
	Attributes uint32
	Data       []byte
}

// ReadVariable reads one variable. A variable that does not exist, or that efivarfs lists but
// the firmware does not hold (a zero-length file: "uncommitted"), is an error for which
// errors.Is(err, fs.ErrNotExist) holds.
//
// It reads the file in one read(2) of a buffer larger than its size, as systemd does: each
// read of an efivarfs file fetches the variable from the firmware anew, so reading in pieces
// could mix two versions of it.
func ReadVariable(root, name string) (Variable, error) {
	p := Path(root, name)
	f, err := os.Open(p)
	if err != nil {
		return Variable{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Variable{}, err
	}
	switch {
	case !st.Mode().IsRegular():
		return Variable{}, fmt.Errorf("EFI variable %s: not a regular file", p)
	case st.Size() == 0:
		return Variable{}, fmt.Errorf("EFI variable %s: uncommitted (empty): %w", p, fs.ErrNotExist)
	case st.Size() > maxVariableSize+4:
		return Variable{}, fmt.Errorf("EFI variable %s: %d bytes, more than any firmware holds", p, st.Size())
	}
	buf := make([]byte, st.Size()+1)
	n, err := f.Read(buf)
	if err == io.EOF && n == 0 {
		// efivarfs answers EOF for a variable it lists and the firmware no longer holds
		// (systemd's efi_get_variable takes that as "uncommitted" too).
		return Variable{}, fmt.Errorf("EFI variable %s: uncommitted (read nothing): %w", p, fs.ErrNotExist)
	}
	if err != nil {
		return Variable{}, fmt.Errorf("read EFI variable %s: %w", p, err)
	}
	if n == len(buf) {
		// Changed under us (it grew between stat and read): systemd retries; we say so.
		return Variable{}, fmt.Errorf("EFI variable %s changed while it was read", p)
	}
	return decodeVariable(p, buf[:n])
}

func decodeVariable(p string, b []byte) (Variable, error) {
	if len(b) == 0 {
		return Variable{}, fmt.Errorf("EFI variable %s: uncommitted (empty): %w", p, fs.ErrNotExist)
	}
	if len(b) < 4 {
		return Variable{}, fmt.Errorf("EFI variable %s: %d bytes, shorter than its 4-byte attributes", p, len(b))
	}
	return Variable{Attributes: binary.LittleEndian.Uint32(b), Data: b[4:]}, nil
}

// WriteVariable sets a variable to data with the given attributes, as systemd's
// efi_set_variable does:
//   - an unchanged variable is not written again (each write wears the firmware's flash);
//   - the immutable flag that efivarfs puts on variables it does not know is cleared first
//     (an immutable file cannot be opened for writing) and put back afterwards;
//   - the attributes and the data go in one write(2): efivarfs makes each write one
//     SetVariable call, so a second write would replace the variable with its tail.
//
// The file is opened without O_TRUNC: efivarfs replaces the whole variable on a write and has
// no use for a truncate. On a plain file system (a test tree) the file is cut to the length
// written instead, so that it reads back as efivarfs would.
func WriteVariable(root, name string, attrs uint32, data []byte) error {
	p := Path(root, name)
	if len(data) == 0 {
		// To efivarfs a write of the attributes alone deletes the variable: that is
		// DeleteVariable's job, said by name.
		return fmt.Errorf("write EFI variable %s: no data (use DeleteVariable to remove it)", p)
	}
	if old, err := ReadVariable(root, name); err == nil && old.Attributes == attrs && bytes.Equal(old.Data, data) {
		return nil
	}
	flags, cleared, err := clearImmutable(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOCTTY, 0o644)
	if err != nil {
		if cleared {
			restoreImmutablePath(p, flags)
		}
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	werr := writeWhole(fd, p, attrs, data)
	if werr == nil {
		// efivarfs does not update mtime on a write; systemd sets it so that caches of the
		// variable notice the change. A failure here leaves the variable written and right,
		// so it is not an error of the write.
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, p, nil, 0)
	}
	if cleared {
		// Put the flag back as it was; on efivarfs a new variable is immutable already.
		_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
	}
	if err := unix.Close(fd); err != nil && werr == nil {
		werr = &os.PathError{Op: "close", Path: p, Err: err}
	}
	return werr
}

func writeWhole(fd int, p string, attrs uint32, data []byte) error {
	buf := make([]byte, 4+len(data))
	binary.LittleEndian.PutUint32(buf, attrs)
	copy(buf[4:], data)
	var n int
	var err error
	for {
		n, err = unix.Write(fd, buf)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write EFI variable %s (%d bytes, attributes %#x): %w", p, len(buf), attrs, err)
	}
	if n != len(buf) {
		return fmt.Errorf("write EFI variable %s: %d of %d bytes written in one write", p, n, len(buf))
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return &os.PathError{Op: "statfs", Path: p, Err: err}
	}
	if sfs.Type != unix.EFIVARFS_MAGIC {
		if err := unix.Ftruncate(fd, int64(len(buf))); err != nil {
			return &os.PathError{Op: "truncate", Path: p, Err: err}
		}
	}
	return nil
}

// DeleteVariable removes a variable, and says whether there was one to remove. It clears the
// immutable flag first (efivarfs refuses to unlink an immutable file), and it has looked:
// deleted is true only when the file was there before and is gone after.
func DeleteVariable(root, name string) (deleted bool, err error) {
	p := Path(root, name)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	flags, cleared, err := clearImmutable(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := os.Remove(p); err != nil {
		if cleared {
			restoreImmutablePath(p, flags)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("delete EFI variable: %w", err)
	}
	if _, err := os.Lstat(p); err == nil {
		return false, fmt.Errorf("delete EFI variable %s: still there after it was removed", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("delete EFI variable %s: look after removal: %w", p, err)
	}
	return true, nil
}

// clearImmutable drops FS_IMMUTABLE_FL from p, the way `chattr -i` does, and returns the flags
// it had. cleared says whether it changed anything (so that the caller puts the flag back if
// its own step fails).
//
// Newer kernels make every efivarfs variable that is not a well-known one immutable, so that
// nothing deletes it by accident: firmware has been bricked by the removal of variables it
// expected. On a file system without inode flags (a test tree on tmpfs before Linux 6.0, an
// overlay) the ioctl fails with ENOTTY or EOPNOTSUPP: then there is no such flag to clear,
// and that is no error.
func clearImmutable(p string) (flags uint32, cleared bool, err error) {
	// O_NONBLOCK so that a FIFO put where a variable should be cannot hang us; O_NOFOLLOW
	// and the regular-file check because the same ioctl numbers mean other things to device
	// drivers (DRM uses them), as systemd's chattr_full notes.
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, false, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, false, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false, fmt.Errorf("EFI variable %s: not a regular file", p)
	}
	flags, err = unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err == unix.ENOTTY || err == unix.EOPNOTSUPP {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, &os.PathError{Op: "ioctl FS_IOC_GETFLAGS", Path: p, Err: err}
	}
	if flags&fsImmutableFL == 0 {
		return flags, false, nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags&^fsImmutableFL)); err != nil {
		return flags, false, &os.PathError{Op: "ioctl FS_IOC_SETFLAGS (chattr -i)", Path: p, Err: err}
	}
	// Some file systems (btrfs) accept a flag change and do not make it: look.
	now, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return flags, true, &os.PathError{Op: "ioctl FS_IOC_GETFLAGS", Path: p, Err: err}
	}
	if now&fsImmutableFL != 0 {
		return flags, false, fmt.Errorf("EFI variable %s: still immutable after chattr -i", p)
	}
	return flags, true, nil
}

// restoreImmutablePath puts back the flags clearImmutable found, after a failed step. It is
// best effort: the step's own error is the one to report, and a variable left mutable is only
// less protected, not wrong.
func restoreImmutablePath(p string, flags uint32) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
}
