// Package imagerecord fills our image record (swsusp.Record) for the running boot: which kernel
// runs, with which command line, and where its kernel image and initramfs are, so that a later
// boot under another kernel can find this one and kexec into it.
package imagerecord

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Uname is the part of uname(2) the record keeps.
type Uname struct{ Release, Version string }

// Running reads uname(2) of this kernel.
func Running() Uname {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Uname{}
	}
	return Uname{Release: unix.ByteSliceToString(u.Release[:]), Version: unix.ByteSliceToString(u.Version[:])}
}

// KernelFiles are the names, in a boot file system, under which distributions keep kernel R's
// image and initramfs. The first that exists is recorded.
func KernelFiles(release string) (kernels, initrds []string) {
	return []string{"/boot/vmlinuz-" + release, "/vmlinuz-" + release},
		[]string{"/boot/initrd.img-" + release, "/boot/initramfs-" + release + ".img", "/initrd.img-" + release}
}

// ThisBoot is the record of the running boot. bootRoot is where the file system holding the
// kernel images is seen (a folder on the host or below a root prefix), bootFSUUID its UUID.
func ThisBoot(fs sysfs.FS, u Uname, bootRoot, bootFSUUID string, now time.Time) swsusp.Record {
	r := swsusp.Record{KernelRelease: u.Release, KernelVersion: u.Version, BootFSUUID: bootFSUUID, Stamped: now.UTC().Truncate(time.Second)}
	r.BootID, _ = fs.ReadString("proc/sys/kernel/random/boot_id")
	r.Cmdline, _ = fs.ReadString("proc/cmdline")
	if mem, err := fs.ReadString("proc/meminfo"); err == nil {
		for _, l := range strings.Split(mem, "\n") {
			var kib uint64
			if n, _ := fmt.Sscanf(l, "MemTotal: %d kB", &kib); n == 1 {
				r.RAMBytes = kib << 10
			}
		}
	}
	kernels, initrds := KernelFiles(u.Release)
	r.KernelPath = firstExisting(bootRoot, kernels)
	r.InitrdPath = firstExisting(bootRoot, initrds)
	return r
}

func firstExisting(root string, names []string) string {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, n)); err == nil {
			return n
		}
	}
	return ""
}

// BootFSUUID is the UUID of the file system that holds /boot (the root's when /boot is no mount).
func BootFSUUID(fs sysfs.FS) string {
	mounts, err := fs.ReadString("proc/mounts")
	if err != nil {
		return ""
	}
	best, bestDev := "", ""
	for _, l := range strings.Split(mounts, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[0], "/dev/") {
			continue
		}
		if (f[1] == "/" || f[1] == "/boot") && len(f[1]) > len(best) {
			best, bestDev = f[1], f[0]
		}
	}
	if bestDev == "" {
		return ""
	}
	devs, err := blockdev.List(fs)
	if err != nil {
		return ""
	}
	d, err := blockdev.Resolve(devs, bestDev)
	if err != nil {
		return ""
	}
	return d.Probe.UUID
}
