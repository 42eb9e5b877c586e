package guestagent

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fsCompressFl is FS_COMPR_FL of linux/fs.h: the file's data is to be compressed (chattr +c).
const fsCompressFl = 0x00000004

// Chattr is `hibernate-guest-agent chattr +c FILE`: the test guests have no e2fsprogs'
// chattr, and a scenario needs a file marked for compression on btrfs.
func Chattr(args []string) error {
	if len(args) != 2 || (args[0] != "+c" && args[0] != "-c") {
		return fmt.Errorf("usage: chattr +c|-c FILE")
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("FS_IOC_GETFLAGS %s: %w", args[1], err)
	}
	if args[0] == "+c" {
		flags |= fsCompressFl
	} else {
		flags &^= fsCompressFl
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		return fmt.Errorf("FS_IOC_SETFLAGS %s: %w", args[1], err)
	}
	return nil
}
