// Package imagerecord fills our image record (swsusp.Record) for the running boot: which kernel
// runs, with which command line, and where its kernel image and initramfs are, so that a later
// boot under another kernel can find this one and kexec into it.
package imagerecord

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// KernelFiles are the names, in a boot file system, under which distributions keep kernel R's
// image and initramfs. The first that exists is recorded.
func KernelFiles(release string) (kernels, initrds []string) {
	return []string{"/boot/vmlinuz-" + release, "/vmlinuz-" + release},
		[]string{"/boot/initrd.img-" + release, "/boot/initramfs-" + release + ".img", "/initrd.img-" + release}
}

// ThisBoot is the record of the running boot, as the kernel files below fs show it. bootRoot is
// where the file system holding the kernel images is seen (a folder on the host or below a root
// prefix), bootFSUUID its UUID. What cannot be read stays empty.
func ThisBoot(fs sysfs.FS, bootRoot, bootFSUUID string, now time.Time) swsusp.Record {
	u, _ := fs.Uname()
	r := swsusp.Record{KernelRelease: u.Release, KernelVersion: u.Version, BootFSUUID: bootFSUUID, Stamped: now.UTC().Truncate(time.Second)}
	r.BootID, _ = fs.ReadString("proc/sys/kernel/random/boot_id")
	r.Cmdline, _ = fs.Cmdline()
	if mem, err := fs.Meminfo(); err == nil {
		if total, err := mem.MemTotal(); err == nil {
			r.RAMBytes = uint64(total)
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
	mounts, err := fs.Mounts()
	if err != nil {
		return ""
	}
	bestDev := ""
	for _, point := range []string{"/", "/boot"} {
		for _, m := range mounts {
			if m.Point == point && strings.HasPrefix(m.Device, "/dev/") {
				bestDev = m.Device
			}
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
