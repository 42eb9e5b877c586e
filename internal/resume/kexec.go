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
// initramfs to dir, without mounting anything read-write: the boot file system is mounted
// read-only, ext4 without journal replay (ro,noload: the hibernated kernel still has it
// mounted), and unmounted again. go-diskfs's readers were used here first and passed over: they
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

// openBootFS gives a way to open files of the file system on d, and a function that releases it.
func (b *Machine) openBootFS(d blockdev.Device, dir string) (opener, func(), error) {
	// Mount it strictly read-only: MS_RDONLY, and for ext4 noload, so no journal is replayed on a
	// file system the hibernated kernel still has mounted.
	mnt := filepath.Join(dir, "bootfs")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return nil, nil, err
	}
	data := ""
	if d.Probe.Type == "ext4" {
		data = "noload"
	}
	if err := unix.Mount(d.Path, mnt, d.Probe.Type, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data); err != nil {
		return nil, nil, fmt.Errorf("mount %s read-only (%s, %q): %w", d.Path, d.Probe.Type, data, err)
	}
	b.Logf("mounted %s read-only (%s) to read the kernel", d.Path, data)
	return func(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(mnt, name)) },
		func() { _ = unix.Unmount(mnt, 0) }, nil
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
	b.Logf("kexec: loaded %s; booting it with %q", kf.From, cmdline)
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
