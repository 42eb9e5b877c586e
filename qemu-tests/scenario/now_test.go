package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Issue 5's end-to-end cases of hibernate now. Each builds its own guest (not the shared image):
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

// firstBoot builds a guest with a swap partition of swapMiB, boots it, runs hibernate setup on
// it and starts the demo job with stateMiB, and waits for the job's first line.
func firstBoot(t *testing.T, ctx context.Context, swapMiB, stateMiB int, files ...GuestFile) (*Hibernated, *harness.VM) {
	t.Helper()
	a := artifacts(t)
	o := RoundTripOptions{Name: t.Name(), Out: testWriter{t}}
	o.defaults()
	g, err := BuildGuest(a, GuestOptions{Name: t.Name(), SwapMiB: swapMiB, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	h := &Hibernated{Artifacts: a, Options: o, Guest: g}
	vm, info, err := h.Boot(ctx, "")
	killAtEnd(t, vm)
	if err != nil {
		t.Fatal(err)
	}
	h.BootID = info.BootID
	r, err := run(ctx, vm, "/usr/sbin/hibernate", "setup", "--device", "PARTUUID="+g.Layout.SwapPartUUID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &h.Setup); err != nil {
		t.Fatalf("setup --json: %v: %q", err, r.Stdout)
	}
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/job.out", "/usr/bin/hibernate-demo-job",
		"--state-mib", fmt.Sprint(stateMiB), "--log", "/var/lib/hibernate-demo/job.log"); err != nil {
		t.Fatal(err)
	}
	l, err := waitJobLine(ctx, vm, -1, func(demojob.Line) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	h.Summary.Before = l
	return h, vm
}

// lastJobLine is the job's last whole line on the console so far.
func lastJobLine(vm *harness.VM) demojob.Line {
	var last demojob.Line
	for _, l := range vm.ConsoleLines() {
		if jl, ok := demojob.ParseLine(l); ok && strings.Contains(l, "demo-job: ") {
			last = jl
		}
	}
	return last
}

// hookBinary compiles a hook for the guest (it has no shell): it appends its name, arguments
// and SYSTEMD_SLEEP_ACTION to /var/lib/hibernate-demo/hooks.log.
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
	f, err := os.OpenFile("/var/lib/hibernate-demo/hooks.log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
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
	_, vm := firstBoot(t, ctx, 16, 64)
	before := readPower(t, ctx, vm)
	r, err := vm.Run(ctx, "/usr/sbin/hibernate", "now", "--mode", "shutdown", "--image-size", "min")
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

// (2) and (4): a pre hook and a post hook (one in systemd's folder) around a real hibernate and
// resume, in order, with systemd's arguments; /sys/power as before after the resume.
func TestNowHooksAroundResume(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	hook := hookBinary(t)
	// The hooks go onto the guest's disk when it is made: through the agent's serial line the
	// 1.6 MiB binary took 1m48s.
	h, vm := firstBoot(t, ctx, 0, 32,
		GuestFile{Path: "/etc/hibernate/hooks.d/10-ours", Data: hook, Mode: 0o755},
		GuestFile{Path: "/usr/lib/systemd/system-sleep/20-systemd", Data: hook, Mode: 0o755})
	before := readPower(t, ctx, vm)
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/hibernate-now.out", "/usr/sbin/hibernate", "now", "--mode", "shutdown", "--image-size", "min"); err != nil {
		t.Fatal(err)
	}
	exit, err := vm.WaitExit(ctx)
	if err != nil || !exit.GuestShutdown {
		t.Fatalf("the guest did not power off: %+v, %v", exit, err)
	}
	h.Summary.Before = lastJobLine(vm)
	vm2, err := h.Resume(ctx, h.Setup.KernelParams)
	killAtEnd(t, vm2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm2.WaitConsole(ctx, "hibernate: resumed after"); err != nil {
		t.Fatal(err)
	}
	// The post hooks run after that line: wait for hibernate now's last one, "resumed: off for",
	// which it prints once they have all run.
	var out []byte
	for !strings.Contains(string(out), "resumed: off for") {
		select {
		case <-ctx.Done():
			t.Fatalf("hibernate now did not finish after the resume:\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
		out, _ = vm2.ReadFile(ctx, "/var/lib/hibernate-demo/hibernate-now.out")
	}
	t.Logf("hibernate now said:\n%s", indent(string(out)))
	log, err := vm2.ReadFile(ctx, "/var/lib/hibernate-demo/hooks.log")
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
	h, vm := firstBoot(t, ctx, 0, 32)
	before := readPower(t, ctx, vm)
	mark := len(vm.ConsoleLines()) - 1
	if _, err := vm.Spawn(ctx, "/var/lib/hibernate-demo/hibernate-now.out", "/usr/sbin/hibernate", "now", "--mode", "reboot"); err != nil {
		t.Fatal(err)
	}
	_, saved, err := vm.WaitConsoleAfter(ctx, mark, "PM: Image saving done")
	if err != nil {
		t.Fatal(err)
	}
	_, boot, err := vm.WaitConsoleAfter(ctx, saved, "init of hibernate starting on")
	if err != nil {
		t.Fatalf("no second boot in the same QEMU: %v", err)
	}
	_, loaded, err := vm.WaitConsoleAfter(ctx, boot, "PM: Image loading done")
	if err != nil {
		t.Fatal(err)
	}
	jobBefore := lastJobLineBefore(vm, saved)
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
	if info.BootID != h.BootID {
		t.Fatalf("boot ID %s, want the hibernated boot's %s", info.BootID, h.BootID)
	}
	if _, _, err := vm.WaitConsoleAfter(ctx, loaded, "hibernate: resumed after"); err != nil {
		t.Fatal(err)
	}
	samePower(t, before, readPower(t, ctx, vm))
}

func lastJobLineBefore(vm *harness.VM, idx int) demojob.Line {
	var last demojob.Line
	for i, l := range vm.ConsoleLines() {
		if i >= idx {
			break
		}
		if jl, ok := demojob.ParseLine(l); ok && strings.Contains(l, "demo-job: ") {
			last = jl
		}
	}
	return last
}

// (5) --test devices goes through hibernation up to the devices and returns in the same boot,
// with /sys/power as it was.
func TestNowTestDevices(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	h, vm := firstBoot(t, ctx, 0, 16)
	before := readPower(t, ctx, vm)
	r, err := run(ctx, vm, "/usr/sbin/hibernate", "now", "--mode", "shutdown", "--test", "devices")
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
	if _, err := vm.WaitConsole(ctx, "PM: hibernation: debug: Waiting for 5 seconds."); err != nil {
		t.Logf("no pm_test wait line on the console: %v", err)
	}
	samePower(t, before, readPower(t, ctx, vm))
	if _, err := waitJobLine(ctx, vm, len(vm.ConsoleLines())-1, func(demojob.Line) bool { return true }); err != nil {
		t.Fatalf("the job stopped: %v", err)
	}
}
