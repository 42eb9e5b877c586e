package guestdisk

import (
	"bytes"
	"fmt"
	"io"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/filesystem"
)

// The EFI system partition's files, read and written from the host with go-diskfs's FAT32 (the
// host has no loop mount to spare: the tests never mount a guest's file system on the host).
// Only for a disk no guest runs from and no hibernated system has the ESP mounted on: a system
// resumed over a FAT it had mounted would write its cached copy back over what changed here.

// ReadESPFile returns the file at path (absolute, "/EFI/BOOT/grub.cfg") of the EFI system
// partition (ESPPartIndex) of the disk image disk.
func ReadESPFile(disk, path string) ([]byte, error) {
	var b []byte
	err := withESP(disk, diskfs.ReadOnly, func(fs filesystem.FileSystem) error {
		var err error
		b, err = readFS(fs, path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s on the EFI system partition of %s: %w", path, disk, err)
	}
	return b, nil
}

// WriteESPFile replaces (or creates) the file at path of the EFI system partition of disk with
// data, and reads it back: it returns an error unless the partition then holds data there.
func WriteESPFile(disk, path string, data []byte) error {
	err := withESP(disk, diskfs.ReadWrite, func(fs filesystem.FileSystem) error {
		f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("write %s on the EFI system partition of %s: %w", path, disk, err)
	}
	got, err := ReadESPFile(disk, path)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("%s on the EFI system partition of %s: %d bytes read back differ from the %d written", path, disk, len(got), len(data))
	}
	return nil
}

func withESP(disk string, mode diskfs.OpenModeOption, f func(filesystem.FileSystem) error) error {
	d, err := diskfs.Open(disk, diskfs.WithOpenMode(mode))
	if err != nil {
		return err
	}
	defer d.Close()
	fs, err := d.GetFilesystem(ESPPartIndex)
	if err != nil {
		return fmt.Errorf("partition %d: %w", ESPPartIndex, err)
	}
	if fs.Type() != filesystem.TypeFat32 {
		return fmt.Errorf("partition %d holds %v, not FAT32", ESPPartIndex, fs.Type())
	}
	return f(fs)
}

func readFS(fs filesystem.FileSystem, path string) ([]byte, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
