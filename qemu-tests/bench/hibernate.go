package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

const (
	methodNow    = "hibernate now"
	methodDirect = "echo disk > /sys/power/state"
	methodMin    = "hibernate now --image-size min"
)

// hibernateOnce boots a fresh guest, makes its swap with hibernate setup, starts the demo job
// (64 MiB of state), and hibernates it by method; it measures from the request to QEMU gone,
// and reads the image's size from the disk. The direct write gets /sys/power/disk=shutdown
// first, as hibernate now --mode shutdown sets it.
func hibernateOnce(ctx context.Context, a scenario.Artifacts, method, name string) HibernateRun {
	r := HibernateRun{Method: method}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	fail := func(err error) HibernateRun { r.Err = err; return r }
	var opts []scenario.Option
	if method == methodMin {
		opts = append(opts, scenario.NowFlags("--image-size", "min"))
	}
	m, err := scenario.New(ctx, a, name, opts...)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(filepath.Dir(m.Guest.Disk))
	vm, _, err := m.Boot(ctx, "")
	if vm != nil {
		defer vm.Kill()
	}
	if err != nil {
		return fail(err)
	}
	if err := scenario.Do(ctx, vm, m.SetupSwap, m.StartJob); err != nil {
		return fail(err)
	}
	switch method {
	case methodNow, methodMin:
		if err := m.HibernateNow(ctx, vm); err != nil {
			return fail(err)
		}
		r.Took = m.Summary.HibernateTime
	case methodDirect:
		if err := vm.WriteFile(ctx, "/sys/power/disk", []byte("shutdown"), 0o644); err != nil {
			return fail(err)
		}
		start := time.Now()
		// The write returns only after a resume: its answer never comes, the guest powers off.
		go vm.WriteFile(ctx, "/sys/power/state", []byte("disk"), 0o644)
		exit, err := vm.WaitExit(ctx)
		if err != nil {
			return fail(err)
		}
		r.Took = time.Since(start)
		if !exit.GuestShutdown {
			return fail(vm.Fail("QEMU exited without the guest powering off (%s)", exit.Reason))
		}
	}
	r.WriteTime = saveTime(vm.ConsoleLogPath())
	r.BeforeEntry = beforeEntry(vm.ConsoleLogPath())
	area, err := m.SwapArea()
	if err != nil {
		return fail(err)
	}
	if !area.HasImage() {
		return fail(fmt.Errorf("no image on the swap partition after %s", method))
	}
	if area.Info != nil {
		r.ImageMem = area.Info.Size
	}
	r.ImageDisk = (area.DataPages + uint64(area.MapPages)) * swsusp.PageSize
	return r
}

// beforeEntry is, on the kernel's clock of a console log, from hibernate now's first line (it
// writes each step to /dev/kmsg) to the kernel's "hibernation entry", printed when disk is
// written to /sys/power/state: what hibernate now does before the kernel starts. 0 when the
// log has not both.
func beforeEntry(log string) time.Duration {
	start := -1.0
	for _, l := range kernelLines(log) {
		switch {
		case strings.Contains(l.text, "hibernate: hibernate now: checking") && start < 0:
			start = l.at
		case strings.Contains(l.text, "PM: hibernation: hibernation entry") && start >= 0:
			return time.Duration((l.at - start) * float64(time.Second))
		}
	}
	return 0
}
