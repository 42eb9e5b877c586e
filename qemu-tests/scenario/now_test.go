package scenario

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The end-to-end cases of hibernate now. Each builds its own guest (not the shared image):
// they need a first boot to act in, not an image.

// sysPower are the values hibernate now may change.
var sysPower = []string{"/sys/power/disk", "/sys/power/image_size", "/sys/power/resume", "/sys/power/resume_offset", "/sys/power/pm_test"}

func readPower(t *testing.T, ctx context.Context, vm *harness.VM) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range sysPower {
		b, err := vm.ReadFile(ctx, p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		m[p] = strings.TrimSpace(string(b))
	}
	return m
}

func samePower(t *testing.T, before, after map[string]string) {
	t.Helper()
	for _, p := range sysPower {
		if before[p] != after[p] {
			t.Errorf("%s is %q after, %q before", p, after[p], before[p])
		}
	}
}

// nowGuest is a first boot (firstBoot) for hibernate now to act in: its swap made, the job's
// first line seen.
func nowGuest(t *testing.T, ctx context.Context, opts ...Option) (*Machine, *harness.VM) {
	t.Helper()
	return firstBoot(t, ctx, append([]Option{JobTicks(1)}, opts...)...)
}

// hookBinary compiles a hook for the guest (it has no shell): it appends its name, arguments
// and SYSTEMD_SLEEP_ACTION to HooksLog.
func hookBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	f, err := os.OpenFile(` + strconv.Quote(HooksLog) + `, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		os.Exit(1)
	}
	fmt.Fprintf(f, "%s %s SYSTEMD_SLEEP_ACTION=%s\n", filepath.Base(os.Args[0]), strings.Join(os.Args[1:], " "), os.Getenv("SYSTEMD_SLEEP_ACTION"))
	f.Sync()
	f.Close()
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "hook", "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the hook: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "hook"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// (1) Too little swap: hibernate now exits 1 naming the swap, the guest runs on, nothing changed.
func TestNowRefusesTooLittleSwap(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	m, vm := nowGuest(t, ctx, SwapPartition(16), JobState(64))
	before := readPower(t, ctx, vm)
	r, err := vm.Run(ctx, m.Command("now", "--mode", "shutdown", "--image-size", "min")...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exit != 1 || !strings.Contains(r.Stderr+r.Stdout, "swap: ") || !strings.Contains(r.Stderr+r.Stdout, "hibernation would not come back") {
		t.Fatalf("hibernate now: exit %d, want 1 with the swap reason\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate now refused:\n%s", indent(r.Stderr))
	mark := len(vm.ConsoleLines()) - 1
	if _, err := waitJobLine(ctx, vm, mark, func(demojob.Line) bool { return true }); err != nil {
		t.Fatalf("the job stopped: %v", err)
	}
	if _, err := vm.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	samePower(t, before, readPower(t, ctx, vm))
}

// The canary (write the image and read it back without powering off) refuses on the guests'
// Linux 6.1, whose test_resume writes the image and then cannot read it back from an active swap
// partition (EBUSY; seen here before the refusal: the image stayed, its swap slots stayed
// taken, so a swapoff never ended and the area could not be written while on). Refused, loudly:
// nothing written (the swap area byte-identical, read from the host), /sys/power as before, the
// job going on in the same boot.
func TestCanaryRefusesOn61(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	m, vm := nowGuest(t, ctx)
	before := readPower(t, ctx, vm)
	info, err := vm.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	swapBefore := swapHead(t, m)
	r, err := vm.Run(ctx, m.Command("canary")...)
	if err != nil {
		t.Fatal(err)
	}
	said := r.Stdout + r.Stderr
	if r.Exit != 1 || !strings.Contains(said, "cannot read it back from an active swap area (fixed in Linux 6.6)") || !strings.Contains(said, "nothing done") {
		t.Fatalf("hibernate canary on %s: exit %d, want 1 and the reason\n%s", m.Release, r.Exit, said)
	}
	t.Logf("hibernate canary refused:\n%s", indent(said))
	jobGoesOn(t, ctx, vm, info.BootID)
	samePower(t, before, readPower(t, ctx, vm))
	powerOff(t, ctx, vm)
	if !bytes.Equal(swapBefore, swapHead(t, m)) {
		t.Error("the swap area's first 64 KiB changed")
	}
}

// jobGoesOn checks that the job writes another line after the console's last and that the guest
// is still in boot bootID: nothing froze it for good, nothing rebooted it.
func jobGoesOn(t *testing.T, ctx context.Context, vm *harness.VM, bootID string) {
	t.Helper()
	mark := len(vm.ConsoleLines()) - 1
	if _, err := waitJobLine(ctx, vm, mark, func(demojob.Line) bool { return true }); err != nil {
		t.Fatalf("the job stopped: %v", err)
	}
	if after, err := vm.Ping(ctx); err != nil || after.BootID != bootID {
		t.Fatalf("boot %v, %v; want the same boot %s", after.BootID, err, bootID)
	}
}

// swapHead is the first 64 KiB of m's swap partition, read from the host's disk file (what a
// refusal must leave byte-identical).
func swapHead(t *testing.T, m *Machine) []byte {
	t.Helper()
	b, err := readRange(m.Guest.Disk, m.Guest.Layout.SwapStart, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRange reads n bytes at off of the file at path.
func readRange(path string, off, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	return b, err
}

// (2) and (4): a pre hook and a post hook (one in systemd's folder) around a real hibernate and
// resume, in order, with systemd's arguments; /sys/power as before after the resume.
func TestNowHooksAroundResume(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	hook := hookBinary(t)
	// The hooks go onto the guest's disk when it is made: through the agent's serial line the
	// 1.6 MiB binary took 1m48s.
	h, vm := nowGuest(t, ctx, JobState(32), NowFlags("--image-size", "min"), Files(
		GuestFile{Path: "/etc/hibernate/hooks.d/10-ours", Data: hook, Mode: 0o755},
		GuestFile{Path: "/usr/lib/systemd/system-sleep/20-systemd", Data: hook, Mode: 0o755}))
	before := readPower(t, ctx, vm)
	do(t, ctx, vm, h.HibernateNow)
	vm2 := resumeBoot(t, ctx, h, h.Setup.KernelParams)
	t.Logf("hibernate now said:\n%s", indent(nowFinished(t, ctx, vm2)))
	log, err := vm2.ReadFile(ctx, HooksLog)
	if err != nil {
		t.Fatal(err)
	}
	want := "10-ours pre hibernate SYSTEMD_SLEEP_ACTION=hibernate\n20-systemd pre hibernate SYSTEMD_SLEEP_ACTION=hibernate\n" +
		"10-ours post hibernate SYSTEMD_SLEEP_ACTION=hibernate\n20-systemd post hibernate SYSTEMD_SLEEP_ACTION=hibernate"
	if got := strings.TrimSpace(string(log)); got != want {
		t.Fatalf("hooks.log:\n%s\nwant:\n%s", got, want)
	}
	samePower(t, before, readPower(t, ctx, vm2))
}

// (3) and (4): --mode reboot: the guest writes its image, reboots by itself (the same QEMU) and
// resumes it; /sys/power as before.
func TestNowModeReboot(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	h, vm := nowGuest(t, ctx, JobState(32))
	before := readPower(t, ctx, vm)
	mark := len(vm.ConsoleLines()) - 1
	if _, err := vm.Spawn(ctx, NowOut, h.Command("now", "--mode", "reboot")...); err != nil {
		t.Fatal(err)
	}
	resumedInPlace(t, ctx, vm, mark, h.BootID, true)
	samePower(t, before, readPower(t, ctx, vm))
}

// resumedInPlace waits, after console line mark, for the image written, the reboot of the same
// QEMU (--mode reboot), the image loaded back and the job going on with the same memory, the
// boot ID of the boot that hibernated (bootID) and, where hibernate now hibernated (byNow),
// its line that it resumed.
func resumedInPlace(t *testing.T, ctx context.Context, vm *harness.VM, mark int, bootID string, byNow bool) {
	t.Helper()
	_, saved, err := vm.WaitConsoleAfter(ctx, mark, KernelImageSaved)
	if err != nil {
		t.Fatal(err)
	}
	_, booted, err := vm.WaitConsoleAfter(ctx, saved, resume.Starting)
	if err != nil {
		t.Fatalf("no second boot in the same QEMU: %v", err)
	}
	_, loaded, err := vm.WaitConsoleAfter(ctx, booted, KernelImageLoaded)
	if err != nil {
		t.Fatal(err)
	}
	jobBefore := lastJobLine(vm.ConsoleLines()[:saved])
	after, err := waitJobLine(ctx, vm, loaded, func(demojob.Line) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if after.Count <= jobBefore.Count || after.Sum != jobBefore.Sum {
		t.Fatalf("job after resume %+v, before %+v: want it going on with the same memory", after, jobBefore)
	}
	info, err := vm.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.BootID != bootID {
		t.Fatalf("boot ID %s, want the hibernated boot's %s", info.BootID, bootID)
	}
	if !byNow {
		return
	}
	if _, _, err := vm.WaitConsoleAfter(ctx, loaded, NowResumedKmsg); err != nil {
		t.Fatal(err)
	}
}

// (5) --test devices goes through hibernation up to the devices and returns in the same boot,
// with /sys/power as it was.
func TestNowTestDevices(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	h, vm := nowGuest(t, ctx, JobState(16))
	before := readPower(t, ctx, vm)
	r, err := run(ctx, vm, h.Command("now", "--mode", "shutdown", "--test", "devices")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hibernate now --test devices:\n%s%s", indent(r.Stdout), indent(r.Stderr))
	info, err := vm.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.BootID != h.BootID {
		t.Fatalf("boot ID changed: %s, was %s", info.BootID, h.BootID)
	}
	if _, err := vm.WaitConsole(ctx, KernelTestWait); err != nil {
		t.Logf("no pm_test wait line on the console: %v", err)
	}
	samePower(t, before, readPower(t, ctx, vm))
	if _, err := waitJobLine(ctx, vm, len(vm.ConsoleLines())-1, func(demojob.Line) bool { return true }); err != nil {
		t.Fatalf("the job stopped: %v", err)
	}
}
