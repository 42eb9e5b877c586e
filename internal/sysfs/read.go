package sysfs

import (
	"errors"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// ReadFile reads a whole file below the root: made for the kernel's small files (a sysfs
// attribute, a /proc table), it serves any file.
func (fs FS) ReadFile(name string) ([]byte, error) { return readSmall(fs.Path(name)) }

// readSmall reads the file at path with one open, reads until the end, and one close. os.ReadFile
// was passed over for these: it hands every file to Go's poller first, and sysfs's attributes
// are pollable, so a read of one is nine system calls (fcntl twice, epoll_ctl in and out, fstat,
// two reads, open, close) where this makes four. /init reads a score of them each time it looks
// for the resume device, and the checks of hibernate now more: under QEMU's emulation, where a
// system call costs what it costs on a slow CPU, that was a millisecond a file
// (BenchmarkReadSmall beside BenchmarkOSReadFile gives the ratio on any machine).
func readSmall(path string) ([]byte, error) {
	fd, err := open(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // room for more: append grows the array
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

func open(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// RawFile is a file (a block device's node, mostly) opened read-only for reads at offsets, with
// plain system calls: os.File was passed over here for the reason readSmall gives (an open that
// tries the poller is five system calls, where this is one).
type RawFile struct {
	fd   int
	path string
}

// OpenRaw opens the file at path (a full path, not below a root) read-only.
func OpenRaw(path string) (*RawFile, error) {
	fd, err := open(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &RawFile{fd: fd, path: path}, nil
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt does: fewer only with an error, io.EOF at
// the end of the file.
func (f *RawFile) ReadAt(p []byte, off int64) (int, error) {
	got := 0
	for got < len(p) {
		n, err := unix.Pread(f.fd, p[got:], off+int64(got))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return got, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 {
			return got, io.EOF
		}
		got += n
	}
	return got, nil
}

// Close closes the file.
func (f *RawFile) Close() error { return unix.Close(f.fd) }
