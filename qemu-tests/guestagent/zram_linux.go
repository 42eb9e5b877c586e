package guestagent

import (
	"fmt"
	"os"
	"strconv"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/units"
)

// ZramSwap is `hibernate-guest-agent zram-swap SIZE PRIORITY`: the daily swap of a Fedora-like
// machine, as zram-generator makes it: /dev/zram0 of SIZE (bytes, K/M/G suffixes), a swap area
// in it, active at PRIORITY. The zram module is loaded first (insmod). The test guests have no
// util-linux (zramctl, mkswap, swapon).
func ZramSwap(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: zram-swap SIZE PRIORITY")
	}
	size, err := units.ParseBytes(args[0])
	if err != nil {
		return fmt.Errorf("size %q: %w", args[0], err)
	}
	prio, err := strconv.Atoi(args[1])
	if err != nil || prio < 0 || prio > 32767 {
		return fmt.Errorf("priority %q: want 0 to 32767", args[1])
	}
	if err := os.WriteFile("/sys/block/zram0/disksize", []byte(strconv.FormatInt(size, 10)), 0); err != nil {
		return fmt.Errorf("set the size of zram0 (is the zram module loaded?): %w", err)
	}
	f, err := os.OpenFile("/dev/zram0", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = swsusp.Mkswap(f, size, swsusp.MkswapOptions{PageSize: swsusp.PageSize, Label: "zram0"})
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("mkswap /dev/zram0: %w", err)
	}
	// The machine's own swapon, as hibernate setup does it (the agent runs in the guest only).
	return swapsetup.SystemSwapper{}.Swapon("/dev/zram0", prio)
}
