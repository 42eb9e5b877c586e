package scenario

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The kexec path reads the kernel that made the image from the hibernated root, which holds an
// open-but-deleted file (the job's), so ext4's orphan list is not empty. Stopped at /init's
// kexec line, the disk holds every byte it held at power-off: the read-only mount wrote
// nothing (without the read-only block device, ext4's orphan cleanup wrote 3 MiB here).
func TestKexecPathWritesNoByteOfTheDisk(t *testing.T) {
	h := hibernated(t)
	ctx := timeout(t, 3*time.Minute)
	atPowerOff := filepath.Join(filepath.Dir(h.Guest.Disk), "at-power-off.img")
	if err := guestdisk.CopySparse(atPowerOff, h.Guest.Disk); err != nil {
		t.Fatal(err)
	}
	vm := stoppedAtKexec(t, ctx, h)
	if _, err := vm.WaitConsole(ctx, resume.MountedBootReadOnly); err != nil {
		t.Fatalf("the kexec line came without %q before it: %v", resume.MountedBootReadOnly, err)
	}
	if err := sameBytes(atPowerOff, h.Guest.Disk); err != nil {
		t.Fatalf("the disk changed before the image was resumed or discarded: %v\nlog: %s", err, vm.ConsoleLogPath())
	}
}

// stoppedAtKexec boots h with the cloud kernel and an initramfs of ours for it (built with the
// flags), so that /init kexecs into the kernel that made the image, and stops the guest (QMP
// stop) at the line of the kernel loaded for the kexec: before it boots it.
func stoppedAtKexec(t *testing.T, ctx context.Context, h *Machine, flags ...string) *harness.VM {
	t.Helper()
	cloud, err := FindKernel(testutil.KernelCache(), CloudFlavour)
	if err != nil {
		t.Fatalf("%v (make kernels fetches it)", err)
	}
	initrd := filepath.Join(h.Artifacts.WorkDir, t.Name(), "initrd.img-"+cloud.Release)
	if _, err := buildInitramfs(ctx, h.Artifacts, cloud.Release, cloud.ModulesDir, initrd, flags...); err != nil {
		t.Fatalf("initramfs for %s: %v", cloud.Release, err)
	}
	if h.Guest.Kernel, err = BootableKernel(cloud.Image); err != nil {
		t.Fatal(err)
	}
	h.Guest.Initrd = initrd
	vm, err := h.powerOn(ctx, h.Setup.KernelParams)
	killAtEnd(t, vm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitConsole(ctx, resume.KexecLoaded); err != nil {
		t.Fatalf("no %q: %v", resume.KexecLoaded, err)
	}
	if _, err := vm.QMP(ctx, "stop", nil); err != nil {
		t.Fatal(err)
	}
	return vm
}

// sameBytes says where two files differ, and how much of them: nil when every byte is equal.
func sameBytes(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	var first, differ int64 = -1, 0
	for off := int64(0); ; off += int64(len(ba)) {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if na != nb {
			return fmt.Errorf("%s and %s differ in size, from byte %d", a, b, off+int64(min(na, nb)))
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			differ++
			if first < 0 {
				for i := range ba[:na] {
					if ba[i] != bb[i] {
						first = off + int64(i)
						break
					}
				}
			}
		}
		if erra != nil || errb != nil {
			break
		}
	}
	if differ > 0 {
		return fmt.Errorf("%d MiB of %s differ from the copy, the first byte at %d", differ, b, first)
	}
	return nil
}

// A boot whose kernel takes no image (nohibernate; lockdown, as Secure Boot sets it) does not
// go on past a valid one: /init discards it before root is mounted, and the disk says so.
func TestKernelTakingNoImageDiscardsBeforeRoot(t *testing.T) {
	for _, param := range []string{"nohibernate", "lockdown=integrity"} {
		t.Run(param, func(t *testing.T) {
			h := hibernated(t)
			ctx := timeout(t, 2*time.Minute)
			vm, info := boot(t, ctx, h, h.Setup.KernelParams+" "+param)
			wantFreshBoot(t, ctx, h, vm, info, resume.TakesNoImage)
			if _, err := vm.WaitConsole(ctx, resume.Discarded); err != nil {
				t.Fatal(err)
			}
			powerOff(t, ctx, vm)
			// Read back from the disk itself: a plain swap area (inspect's exit 1), no image.
			out, code, err := h.HostHibernate("inspect", "--partition", "2", h.Guest.Disk)
			if err != nil || code != 1 || !strings.Contains(out, "swap") {
				t.Fatalf("inspect after the boot: exit %d, %v\n%s", code, err, out)
			}
		})
	}
}

// A stranger's disk with a crafted partition table (a valid header CRC, 2^32-1 entries) is
// attached at boot, and the resume device is named by PARTUUID=, so /init reads that table
// before deciding: it finds the resume device and boots, no panic. (Not on the hibernated
// guest: another disk changes the firmware memory map, and the kernel then refuses the image.)
func TestCraftedPartitionTableDoesNotStopTheBoot(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	m := newMachine(t, ctx)
	stick := filepath.Join(filepath.Dir(m.Guest.Disk), "crafted.img")
	if err := craftedDisk(stick); err != nil {
		t.Fatal(err)
	}
	m.Guest.ExtraDisks = []string{stick}
	spec := "PARTUUID=" + m.SwapPartUUID()
	vm, _ := boot(t, ctx, m, "resume="+spec)
	if _, err := vm.WaitConsole(ctx, fmt.Sprintf(resume.ResumeDeviceIs, spec, "/dev/vda2")); err != nil {
		t.Fatal(err)
	}
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, KernelPanic) || strings.Contains(l, GoPanic) {
			t.Fatalf("a panic on the console: %s\nlog: %s", l, vm.ConsoleLogPath())
		}
	}
}

// craftedDisk writes a 64 MiB disk whose MBR has one Linux partition (so the kernel lists
// vdX1 and /init reads the disk's table for PARTUUID=) and whose sector 1 holds a GPT header
// with a valid CRC claiming 2^32-1 entries of 128 bytes.
func craftedDisk(p string) error {
	const size = 64 << 20
	disk := make([]byte, 1024)
	e := disk[446:]
	e[4] = 0x83 // Linux
	binary.LittleEndian.PutUint32(e[8:], 2048)
	binary.LittleEndian.PutUint32(e[12:], 65536)
	disk[510], disk[511] = 0x55, 0xAA
	hdr := disk[512:604]
	copy(hdr, "EFI PART")
	binary.LittleEndian.PutUint32(hdr[8:], 0x00010000)
	binary.LittleEndian.PutUint32(hdr[12:], 92)
	binary.LittleEndian.PutUint64(hdr[24:], 1)
	binary.LittleEndian.PutUint64(hdr[32:], size/512-1)
	binary.LittleEndian.PutUint64(hdr[40:], 34)
	binary.LittleEndian.PutUint64(hdr[48:], size/512-34)
	binary.LittleEndian.PutUint64(hdr[72:], 2)
	binary.LittleEndian.PutUint32(hdr[80:], 0xffffffff)
	binary.LittleEndian.PutUint32(hdr[84:], 128)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr))
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	_, err = f.WriteAt(disk, 0)
	return err
}
