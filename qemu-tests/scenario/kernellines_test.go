package scenario

import (
	"testing"
	"time"
)

// Console lines of a 6.12 guest's hibernation (TestTrixieCanary's console).
var trixieDown = []string{
	"[    8.471079] hibernate: writing disk to /sys/power/state: the machine hibernates now",
	"[    9.677978] PM: hibernation: Allocated 170176 kbytes in 1.19 seconds (143.00 MB/s)",
	"[    9.744219] PM: hibernation: Need to copy 38962 pages",
	"[   11.008669] PM: hibernation: Wrote 141896 kbytes in 1.27 seconds (111.72 MB/s)",
	"[   11.009611] PM: Image size after compression: 96254 kbytes",
	"hibernate: [   6.210] not a kernel line",
}

func TestKernelLines(t *testing.T) {
	if d, l, ok := ConsoleStamp(trixieDown, "Need to copy "); !ok || d != 9744219*time.Microsecond || l != trixieDown[2] {
		t.Errorf("ConsoleStamp = %s %q %v", d, l, ok)
	}
	if _, _, ok := ConsoleStamp(trixieDown, "reboot: Power down"); ok {
		t.Error("ConsoleStamp found a line that is not there")
	}
	if kb, d, l, err := KernelSpeed(trixieDown, "Wrote"); err != nil || kb != 141896 || d != 1270*time.Millisecond || l != trixieDown[3] {
		t.Errorf("KernelSpeed Wrote = %d %s %q %v", kb, d, l, err)
	}
	if kb, d, _, err := KernelSpeed(trixieDown, "Allocated"); err != nil || kb != 170176 || d != 1190*time.Millisecond {
		t.Errorf("KernelSpeed Allocated = %d %s %v", kb, d, err)
	}
	if _, _, _, err := KernelSpeed(trixieDown, "Read"); err == nil {
		t.Error("KernelSpeed Read: no error without the line")
	}
	if kb := CompressedKiB(trixieDown); kb != 96254 {
		t.Errorf("CompressedKiB = %d", kb)
	}
	if kb := CompressedKiB(trixieDown[:3]); kb != 0 {
		t.Errorf("CompressedKiB without the line = %d", kb)
	}
}
