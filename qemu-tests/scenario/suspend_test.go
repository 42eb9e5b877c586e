package scenario

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// hibernate now --after-suspend, both ways a suspended machine wakes, on one guest with ACPI S3:
//  1. --after-suspend 10m, and the machine woken before the alarm (QMP system_wakeup, as a key
//     press): it stays up, the job goes on, the RTC alarm is cleared;
//  2. --after-suspend 20s, and nothing pressed: QEMU reports the suspend and then the wake-up
//     (the RTC's: the test sends none), the guest hibernates (and reboots, see below); it
//     resumes with its job, and hibernate now says the alarm woke it.
//
// (2) runs first, (1) in the resumed machine.
func TestSuspendThenHibernate(t *testing.T) {
	ctx := timeout(t, 6*time.Minute)
	m, vm := firstBoot(t, ctx, SuspendToRAM())

	// (2) first: a second suspend of the same QEMU woke at once (seen here: no QMP SUSPEND, the
	// kernel back from S3 in 30 ms, "ACPI Error: Could not disable RealTimeClock events"). QEMU's
	// wake-up resets the devices, the ICH9 LPC's PM I/O base among them, and SeaBIOS does not set
	// it again: after a suspend the guest's ACPI power-off goes nowhere (seen: "reboot: Power
	// down", then the kernel halts). So the hibernation after the alarm reboots the same QEMU
	// (--mode reboot, reset through 0xcf9, which the LPC's base does not move), whose SeaBIOS
	// sets everything up again, and our /init resumes the image there.
	mark := len(vm.ConsoleLines()) - 1
	events := len(vm.Events())
	if _, err := vm.Spawn(ctx, NowOut, m.Command("now", "--mode", "reboot", "--after-suspend", "20s")...); err != nil {
		t.Fatal(err)
	}
	if _, err := waitEvent(ctx, vm, events, "SUSPEND"); err != nil {
		t.Fatal(err)
	}
	asleep := time.Now()
	if _, err := waitEvent(ctx, vm, events, "WAKEUP"); err != nil {
		t.Fatal(err)
	}
	t.Logf("QMP SUSPEND, then WAKEUP %s after (no wake-up sent: the RTC's alarm)", time.Since(asleep).Round(100*time.Millisecond))
	resumedInPlace(t, ctx, vm, mark, m.BootID, true)
	said := waitOutput(t, ctx, vm, NowResumedOut)
	if !strings.Contains(said, "woken by the alarm") {
		t.Fatalf("hibernate now after the resume did not say the alarm woke it:\n%s", said)
	}
	t.Logf("hibernate now said:\n%s", indent(said))

	// (1)
	events = len(vm.Events())
	if _, err := vm.Spawn(ctx, NowOut, m.Command("now", "--mode", "shutdown", "--after-suspend", "10m")...); err != nil {
		t.Fatal(err)
	}
	if _, err := waitEvent(ctx, vm, events, "SUSPEND"); err != nil {
		t.Fatal(err)
	}
	t.Logf("suspended to RAM (QMP SUSPEND): waking it before the alarm (QMP system_wakeup)")
	if _, err := vm.QMP(ctx, "system_wakeup", nil); err != nil {
		t.Fatal(err)
	}
	said = waitOutput(t, ctx, vm, "staying up")
	t.Logf("hibernate now said:\n%s", indent(said))
	if alarm, err := vm.ReadFile(ctx, "/sys/class/rtc/rtc0/wakealarm"); err != nil || strings.TrimSpace(string(alarm)) != "" {
		t.Fatalf("the RTC wake alarm after the early wake-up: %q (%v), want it cleared", alarm, err)
	}
	// Two whole lines of the job after the wake-up's: it runs on.
	after := len(vm.ConsoleLines())
	first, err := waitJobLine(ctx, vm, after, func(demojob.Line) bool { return true })
	if err == nil {
		_, err = waitJobLine(ctx, vm, after, func(l demojob.Line) bool { return l.Count > first.Count })
	}
	if err != nil {
		t.Fatalf("the job does not go on after the early wake-up: %v", err)
	}
}

// waitOutput waits for hibernate now's output (NowOut) to hold want, and returns it.
func waitOutput(t *testing.T, ctx context.Context, vm *harness.VM, want string) string {
	t.Helper()
	var out []byte
	for !strings.Contains(string(out), want) {
		select {
		case <-ctx.Done():
			t.Fatalf("hibernate now did not say %q:\n%s", want, out)
		case <-time.After(200 * time.Millisecond):
		}
		out, _ = vm.ReadFile(ctx, NowOut)
	}
	return string(out)
}
