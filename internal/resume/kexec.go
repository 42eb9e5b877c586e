package resume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/u-root/u-root/pkg/boot/kexec"
	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// KernelFiles are the kernel image and initramfs of another kernel, copied into /run.
type KernelFiles struct {
	Kernel, Initrd string // paths in the initramfs (copies)
	From           string // where they were read: "/dev/vda1:/boot/vmlinuz-R"
}

// FetchKernel finds the kernel that made the image, as its record says, and copies its image and
// initramfs to dir without writing a byte of the boot file system, which the hibernated kernel
// still has mounted: the block device is made read-only first (a read-only mount alone does not
// stop ext4's orphan cleanup, nor a btrfs log replay), the file system is mounted read-only
// without journal or log replay, and both are undone after the copy. go-diskfs's readers were used here first and passed over: they
// took every file system and decompressor it knows into /init, and their start-up cost (a CRC
// table built at init, under emulation 32 ms) at every boot, for a path the kernel's own
// drivers, already in the initramfs, do as well. The record's paths are tried first, then the names
// distributions use (/boot/vmlinuz-R, /vmlinuz-R; /boot/initrd.img-R, /boot/initramfs-R.img,
// /initrd.img-R).
func (b *Machine) FetchKernel(rec *swsusp.Record, dir string) (KernelFiles, error) {
	var kf KernelFiles
	devs, err := blockdev.List(b.FS)
	if err != nil {
		return kf, err
	}
	var cands []blockdev.Device
	if rec.BootFSUUID != "" {
		if d, err := blockdev.Resolve(devs, "UUID="+rec.BootFSUUID); err == nil {
			cands = append(cands, d)
		}
	}
	for _, d := range devs {
		if (d.Probe.Type == "ext4" || d.Probe.Type == "vfat") && (len(cands) == 0 || d.Name != cands[0].Name) {
			cands = append(cands, d)
		}
	}
	kernels, initrds := imagerecord.KernelFiles(rec.KernelRelease)
	if rec.KernelPath != "" {
		kernels = append([]string{rec.KernelPath}, kernels...)
	}
	if rec.InitrdPath != "" {
		initrds = append([]string{rec.InitrdPath}, initrds...)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return kf, err
	}
	var tried []string
	for _, d := range cands {
		open, closeFS, err := b.openBootFS(d, dir)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", d.Path, err))
			continue
		}
		k, kerr := copyFirst(open, kernels, filepath.Join(dir, "kernel"))
		i, ierr := copyFirst(open, initrds, filepath.Join(dir, "initrd"))
		closeFS()
		if kerr == nil && ierr == nil {
			return KernelFiles{Kernel: filepath.Join(dir, "kernel"), Initrd: filepath.Join(dir, "initrd"),
				From: fmt.Sprintf("%s:%s and %s", d.Path, k, i)}, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", d.Path, errors.Join(kerr, ierr)))
	}
	return kf, fmt.Errorf("kernel %s not found on any boot file system (%s)", rec.KernelRelease, strings.Join(tried, "; "))
}

type opener func(name string) (io.ReadCloser, error)

// noReplay is the mount option that keeps each file system from writing its journal or log on a
// read-only mount.
var noReplay = map[string]string{"ext4": "noload", "ext3": "noload", "btrfs": "nologreplay", "xfs": "norecovery"}

// openBootFS gives a way to open files of the file system on d, and a function that releases it.
func (b *Machine) openBootFS(d blockdev.Device, dir string) (opener, func(), error) {
	mnt := filepath.Join(dir, "bootfs")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return nil, nil, err
	}
	undoRO, err := setReadOnly(b.FS.Path(strings.TrimPrefix(d.Path, "/")))
	if err != nil {
		return nil, nil, err
	}
	data := noReplay[d.Probe.Type]
	if err := unix.Mount(d.Path, mnt, d.Probe.Type, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data); err != nil {
		undoRO()
		return nil, nil, fmt.Errorf("mount %s read-only (%s, %q): %w", d.Path, d.Probe.Type, data, err)
	}
	b.Logf("mounted %s "+MountedBootReadOnly+" (%s) to read the kernel", d.Path, data)
	root, err := os.Open(mnt)
	if err != nil {
		_ = unix.Unmount(mnt, 0)
		undoRO()
		return nil, nil, err
	}
	return func(name string) (io.ReadCloser, error) { return openInRoot(root, name) },
		func() { root.Close(); _ = unix.Unmount(mnt, 0); undoRO() }, nil
}

// setReadOnly makes the block device at path read-only (BLKROSET), as `blockdev --setro` does,
// and returns what puts its flag back. The flag lives in the running kernel only: a kexec'ed
// kernel starts with the device writable.
func setReadOnly(path string) (undo func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s to make it read-only: %w", path, err)
	}
	defer f.Close()
	was, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKROGET)
	if err != nil {
		return nil, fmt.Errorf("BLKROGET %s: %w", path, err)
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.BLKROSET, 1); err != nil {
		return nil, fmt.Errorf("BLKROSET %s: %w", path, err)
	}
	return func() {
		if was != 0 {
			return
		}
		if f, err := os.Open(path); err == nil {
			_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.BLKROSET, 0)
			f.Close()
		}
	}, nil
}

// openInRoot opens name (the record's path, or a name distributions use) inside root only: ".."
// and absolute symlinks resolve within it (openat2 RESOLVE_IN_ROOT), so a record naming
// "../../etc/x" cannot reach outside the boot file system.
func openInRoot(root *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func copyFirst(open opener, names []string, dst string) (string, error) {
	var errs []error
	for _, n := range names {
		r, err := open(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		out, err := os.Create(dst)
		if err != nil {
			r.Close()
			return "", err
		}
		_, err = io.Copy(out, r)
		r.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("copy %s: %w", n, err)
		}
		return n, nil
	}
	return "", errors.Join(errs...)
}

// KexecInto loads kernel and initrd with kexec_file_load and boots them with cmdline. On success it
// does not return.
func (b *Machine) KexecInto(kf KernelFiles, cmdline string) error {
	k, err := os.Open(kf.Kernel)
	if err != nil {
		return err
	}
	defer k.Close()
	i, err := os.Open(kf.Initrd)
	if err != nil {
		return err
	}
	defer i.Close()
	if err := kexec.FileLoad(k, i, cmdline); err != nil {
		return fmt.Errorf("kexec_file_load %s: %w", kf.From, err)
	}
	b.Logf(KexecLoaded+"%s; booting it with %q", kf.From, cmdline)
	unix.Sync()
	if err := kexec.Reboot(); err != nil {
		return fmt.Errorf("kexec reboot: %w", err)
	}
	return errors.New("kexec reboot returned")
}

// kexecCmdline is this boot's command line for the kernel we kexec into, marked so that its
// /init resumes in place instead of kexecing again.
func kexecCmdline(current string) string {
	var words []string
	for _, w := range splitCmdline(current) {
		if strings.HasPrefix(w, "BOOT_IMAGE=") || strings.HasPrefix(w, "hibernate.kexec") {
			continue
		}
		if strings.ContainsAny(w, " \t") {
			k, v, _ := strings.Cut(w, "=")
			w = k + `="` + v + `"`
		}
		words = append(words, w)
	}
	return strings.Join(append(words, KexecParam), " ")
}
