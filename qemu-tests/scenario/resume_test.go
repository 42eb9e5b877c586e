package scenario

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// shared is one hibernated guest that the scenarios below each boot a sparse copy of.
var shared *Machine

func hibernated(t *testing.T) *Machine {
	t.Helper()
	a := artifacts(t)
	if shared == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		m, err := Hibernate(ctx, a, "shared-image", Output(testWriter{t}))
		if err != nil {
			t.Fatalf("hibernate the shared guest: %v", err)
		}
		shared = m
	}
	c, err := shared.Clone(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	c.Config.Out = testWriter{t}
	return c
}

// wantFreshBoot checks that a boot did not resume: another boot ID, the given /init line said.
func wantFreshBoot(t *testing.T, ctx context.Context, h *Machine, vm *harness.VM, info harness.AgentInfo, line string) {
	t.Helper()
	if info.BootID == h.BootID {
		t.Fatalf("boot ID %s is the hibernated boot's: the image was resumed", info.BootID)
	}
	if _, err := vm.WaitConsole(ctx, line); err != nil {
		t.Fatalf("no %q from /init: %v", line, err)
	}
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, KernelPanic) || strings.Contains(l, GoPanic) {
			t.Fatalf("a panic on the console: %s\nlog: %s", l, vm.ConsoleLogPath())
		}
	}
}

// bootFreshSwapWorks boots the guest with the base command line plus extra and checks that it
// booted fresh (saying line) and that its swap partition can be activated again.
func bootFreshSwapWorks(t *testing.T, ctx context.Context, h *Machine, extra, line string) {
	t.Helper()
	vm, info := boot(t, ctx, h, extra)
	wantFreshBoot(t, ctx, h, vm, info, line)
	swapWorks(t, ctx, h, vm)
}

// swapWorks checks in the guest that the swap partition can be activated again.
func swapWorks(t *testing.T, ctx context.Context, h *Machine, vm *harness.VM) {
	t.Helper()
	if _, err := run(ctx, vm, h.Command("setup", "--device", "PARTUUID="+h.Guest.Layout.SwapPartUUID)...); err != nil {
		t.Fatal(err)
	}
	swaps, err := vm.ReadFile(ctx, "/proc/swaps")
	if err != nil || !strings.Contains(string(swaps), "/dev/vda2") {
		t.Fatalf("/proc/swaps after setup: %q, %v", swaps, err)
	}
}

// Inspect from the host names the kernel that made the image; discard invalidates it;
// the next boot is fresh and the area is plain swap again.
func TestInspectAndDiscard(t *testing.T) {
	h := hibernated(t)
	ctx := timeout(t, 2*time.Minute)
	off := "2" // the swap partition of the guest disk: inspect reads it through the GPT
	out, code, err := h.HostHibernate("inspect", "--json", "--partition", off, h.Guest.Disk)
	if err != nil || code != 0 {
		t.Fatalf("inspect: exit %d, %v\n%s", code, err, out)
	}
	var rep struct {
		Kind          string  `json:"kind"`
		Valid         bool    `json:"valid"`
		KernelRelease *string `json:"kernel_release"`
		ImagePages    uint64  `json:"image_pages"`
		Compressed    bool    `json:"compressed"`
		SwapUUID      string  `json:"swap_uuid"`
		Record        *struct {
			BootID string `json:"BootID"`
		} `json:"record"`
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}
	if rep.Kind != "swsusp" || !rep.Valid || rep.ImagePages == 0 || !rep.Compressed || rep.SwapUUID != h.Setup.UUID {
		t.Fatalf("inspect: %+v", rep)
	}
	if rep.KernelRelease == nil || *rep.KernelRelease != h.Release {
		t.Fatalf("kernel_release %v, want the guest's uname -r %q", rep.KernelRelease, h.Release)
	}
	if rep.Record == nil || rep.Record.BootID != h.BootID {
		t.Fatalf("record %+v, want the hibernated boot %s", rep.Record, h.BootID)
	}
	if out, code, _ := h.HostHibernate("discard", "--dry-run", "--partition", off, h.Guest.Disk); code != 0 || !strings.Contains(out, "would write") {
		t.Fatalf("discard --dry-run: exit %d\n%s", code, out)
	}
	if _, code, _ := h.HostHibernate("inspect", "--partition", off, h.Guest.Disk); code != 0 {
		t.Fatalf("discard --dry-run changed the image: inspect exit %d", code)
	}
	if out, code, _ := h.HostHibernate("discard", "--partition", off, h.Guest.Disk); code != 0 {
		t.Fatalf("discard: exit %d\n%s", code, out)
	}
	if out, code, _ := h.HostHibernate("inspect", "--partition", off, h.Guest.Disk); code != 1 || !strings.Contains(out, ": swap") {
		t.Fatalf("inspect after discard: exit %d, want 1 (plain swap)\n%s", code, out)
	}
	if out, code, _ := h.HostHibernate("discard", "--partition", off, h.Guest.Disk); code == 0 {
		t.Fatalf("a second discard succeeded:\n%s", out)
	}
	bootFreshSwapWorks(t, ctx, h, h.Setup.KernelParams, resume.NoImage+"/dev/vda2 (swap)")
}

// Resume= as UUID=, PARTUUID=, a /dev path, and absent (the initramfs scans): each resumes.
func TestResumeDeviceSpecs(t *testing.T) {
	for _, c := range []struct{ name, param string }{
		{"UUID", "resume=UUID=%u"},
		{"PARTUUID", "resume=PARTUUID=%s"},
		{"devpath", "resume=/dev/vda2"},
		{"none", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := hibernated(t)
			ctx := timeout(t, 2*time.Minute)
			param := c.param
			param = strings.NewReplacer("%s", h.Guest.Layout.SwapPartUUID, "%u", h.Setup.UUID).Replace(param)
			vm := resumeBoot(t, ctx, h, param)
			if _, err := vm.WaitConsole(ctx, resume.LinePrefix); err != nil {
				t.Fatal(err)
			}
			t.Logf("resumed with %q in %s", param, h.Summary.ResumeTime)
		})
	}
}

// The image was made by the amd64 kernel; the machine boots the cloud kernel with its own
// initramfs (ours): /init reads the record, finds the amd64 kernel on the disk and kexecs into it,
// whose /init resumes the job.
func TestKernelMismatchKexecs(t *testing.T) {
	h := hibernated(t)
	ctx := timeout(t, 3*time.Minute)
	cloud, err := FindKernel(testutil.KernelCache(), CloudFlavour)
	if err != nil {
		t.Fatalf("%v (make kernels fetches it)", err)
	}
	initrd := filepath.Join(h.Artifacts.WorkDir, t.Name(), "initrd.img-"+cloud.Release)
	if _, err := buildInitramfs(ctx, h.Artifacts, cloud.Release, cloud.ModulesDir, initrd); err != nil {
		t.Fatalf("initramfs for %s: %v", cloud.Release, err)
	}
	k, err := BootableKernel(cloud.Image)
	if err != nil {
		t.Fatal(err)
	}
	h.Guest.Kernel, h.Guest.Initrd = k, initrd
	vm := resumeBoot(t, ctx, h, h.Setup.KernelParams)
	for _, want := range []string{resume.Starting + cloud.Release, resume.KexecInto + h.Release, resume.KexecParam, resume.Starting + h.Release} {
		if _, err := vm.WaitConsole(ctx, want); err != nil {
			t.Fatalf("no %q on the console: %v", want, err)
		}
	}
	t.Logf("resumed through kexec in %s", h.Summary.ResumeTime)
}

// Noresume boots fresh and invalidates the image; a later boot without it does not resume it.
func TestNoresumeDiscards(t *testing.T) {
	h := hibernated(t)
	ctx := timeout(t, 2*time.Minute)
	vm, info := boot(t, ctx, h, h.Setup.KernelParams+" noresume")
	wantFreshBoot(t, ctx, h, vm, info, resume.NoResume+resume.Discarding)
	if _, err := vm.WaitConsole(ctx, resume.Discarded); err != nil {
		t.Fatal(err)
	}
	powerOff(t, ctx, vm)
	bootFreshSwapWorks(t, ctx, h, h.Setup.KernelParams, resume.NoImage+"/dev/vda2 (swap)")
}

// A corrupted image (bytes flipped on the host) boots fresh with the reason, no panic.
func TestCorruptedImageBootsFresh(t *testing.T) {
	for _, c := range []struct {
		name string
		page func(h *Machine) (uint64, int64, int)
		why  string
	}{
		{"info page", func(h *Machine) (uint64, int64, int) { return infoPage(t, h), 400, 32 }, resume.NotValid},
		{"map page", func(h *Machine) (uint64, int64, int) { return firstMapPage(t, h), 0, 64 }, resume.NotValid},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := hibernated(t)
			ctx := timeout(t, 2*time.Minute)
			page, off, n := c.page(h)
			if err := h.FlipBytes(page, off, n); err != nil {
				t.Fatal(err)
			}
			bootFreshSwapWorks(t, ctx, h, h.Setup.KernelParams, c.why)
		})
	}
}

func firstMapPage(t *testing.T, h *Machine) uint64 {
	a, err := h.SwapArea()
	if err != nil || a.Header == nil {
		t.Fatalf("read the image: %v", err)
	}
	return a.Header.Image
}

func infoPage(t *testing.T, h *Machine) uint64 {
	f, err := os.Open(h.Guest.Disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, h.Guest.Layout.SwapStart+int64(firstMapPage(t, h))*4096); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b)
}

// The resume device never appears: /init says what it waits for, gives up after the
// bounded wait, and the boot goes on.
func TestResumeDeviceAbsent(t *testing.T) {
	h := hibernated(t)
	ctx := timeout(t, 2*time.Minute)
	const missing = "UUID=00000000-0000-4000-8000-00000000dead"
	vm, info := boot(t, ctx, h, "resume="+missing+" hibernate.wait=3")
	if _, err := vm.WaitConsole(ctx, fmt.Sprintf(resume.WaitingFor, missing, 3*time.Second)); err != nil {
		t.Fatal(err)
	}
	wantFreshBoot(t, ctx, h, vm, info, fmt.Sprintf(resume.DeviceNotFound, missing))
}

// The power fails while the kernel writes the image: the header is written last, so the
// next boot finds no image, boots fresh, and the swap is usable.
func TestPowerCutWhileWritingImage(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	h, vm := firstBoot(t, ctx, ThrottleDisk(8<<20), CutPower(KernelSaving10))
	do(t, ctx, vm, h.HibernateCheck, h.HibernateNow)
	h.Config.DiskBPS = 0
	area, err := h.SwapArea()
	if err != nil {
		t.Fatal(err)
	}
	if area.HasImage() {
		t.Fatalf("the header says S1SUSPEND after a cut at 10%%: %+v", area.Header)
	}
	bootFreshSwapWorks(t, ctx, h, h.Setup.KernelParams, resume.NoImage+"/dev/vda2 (swap)")
}

// A kernel whose modules are .ko.xz (Debian's 6.12 are): hibernate initramfs build
// puts them in decompressed (no xz at boot, which took /init 12 s in Go), and /init loads them;
// here the 6.1 modules, xz-compressed as the kernel's own build compresses them (crc32 check),
// resume the image.
func TestXZModulesLoad(t *testing.T) {
	h := hibernated(t)
	src := h.Artifacts.Kernel.ModulesDir
	tree := filepath.Join(h.Artifacts.WorkDir, t.Name(), "modules", h.Release)
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		if err := copyFile(filepath.Join(src, f), filepath.Join(tree, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"kernel/drivers/virtio", "kernel/drivers/block", "kernel/drivers/scsi", "kernel/drivers/ata",
		"kernel/drivers/nvme", "kernel/drivers/md", "kernel/fs/ext4", "kernel/fs/jbd2", "kernel/fs/mbcache.ko", "kernel/lib", "kernel/crypto", "kernel/arch/x86/crypto", "kernel/block"} {
		if _, err := os.Stat(filepath.Join(src, dir)); err != nil {
			continue
		}
		cmd := exec.Command("sh", "-c", `cd "$0" && find "$2" -name '*.ko' | while read -r m; do mkdir -p "$1/$(dirname "$m")" && xz --check=crc32 -c "$m" > "$1/$m.xz" || exit 1; done`, src, tree, dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("compress %s: %v\n%s", dir, err, out)
		}
	}
	// The bound counts from here: the compression above took about 115 s on a loaded host (a clean-clone
	// make test beside three other guests), where the 2 minutes it shared with the boot ran out.
	ctx := timeout(t, 2*time.Minute)
	initrd := filepath.Join(h.Artifacts.WorkDir, t.Name(), "initrd-xz.img")
	out, err := buildInitramfs(ctx, h.Artifacts, h.Release, tree, initrd)
	if err != nil || !strings.Contains(out, "virtio_blk") {
		t.Fatalf("initramfs from .ko.xz modules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	h.Guest.Initrd = initrd
	vm := resumeBoot(t, ctx, h, h.Setup.KernelParams)
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, resume.LinePrefix) && strings.Contains(l, resume.LoadModuleFailed) {
			t.Errorf("a module of the .ko.xz tree failed to load: %s", l)
		}
	}
}

// The resume device is a disk that is not attached at the next boot: /init says what it
// waits for, gives up after the bounded wait, and the boot goes on (fresh: another boot ID).
func TestResumeDiskDetached(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	m := newMachine(t, ctx, SwapOnSecondDisk())
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.SetupSwap, m.HibernateNow)
	m.Guest.SwapDisk = "" // detached
	vm2, info2 := boot(t, ctx, m, m.Setup.KernelParams+" hibernate.wait=3")
	if _, err := vm2.WaitConsole(ctx, fmt.Sprintf(resume.WaitingFor, m.Setup.Resume, 3*time.Second)); err != nil {
		t.Fatal(err)
	}
	wantFreshBoot(t, ctx, m, vm2, info2, fmt.Sprintf(resume.DeviceNotFound, m.Setup.Resume))
}
