// Command gofloor is floor.c in Go: the same steps (sysfs, the modules of /floor/modules by
// finit_module, the wait for /floor/resume's device, its write to /sys/power/resume), with
// nothing but the Go runtime and golang.org/x/sys/unix. Beside the C floor, it measures what
// the Go runtime's start alone costs an /init (make bench's floor section).
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	mods, err1 := os.ReadFile("/floor/modules")
	dev, err2 := os.ReadFile("/floor/resume")
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "gofloor: cannot read /floor/modules or /floor/resume")
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	for _, m := range strings.Fields(string(mods)) {
		fd, err := unix.Open(m, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.FinitModule(fd, "", 0)
			unix.Close(fd)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gofloor: load %s: %v\n", m, err)
		}
	}
	devt := strings.TrimSpace(string(dev))
	for i := 0; i < 30000; i++ {
		if unix.Access("/sys/dev/block/"+devt, unix.F_OK) == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if fd, err := unix.Open("/sys/power/resume", unix.O_WRONLY, 0); err == nil {
		unix.Write(fd, []byte(devt))
	}
	fmt.Fprintf(os.Stderr, "gofloor: the kernel did not resume from %s\n", devt)
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
