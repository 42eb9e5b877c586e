package hibernate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/units"
)

// The image's size: what hibernate now writes to /sys/power/image_size before the write of
// disk, the kernel's target for the image. Where the memory in use is above it, the kernel
// reclaims first (hibernate_preallocate_memory's shrink_all_memory): it drops page cache and
// swaps anonymous memory out, to the same disk, uncompressed. What it drops the machine gets back
// after the resume, from the disk, at the moment a process touches it; what it keeps it
// compresses, writes and reads back whole, sequentially.
const (
	// ImageSizeKernel leaves image_size as it is: the kernel's 2/5 of RAM unless changed.
	ImageSizeKernel = "kernel"
	// ImageSizeAuto keeps what the processes hold and lets the kernel drop only the page cache
	// no process maps (AutoImageSize).
	ImageSizeAuto = "auto"
	// ImageSizeMin asks for the smallest image the kernel can make (0).
	ImageSizeMin = "min"
	// DefaultImageSize is hibernate now's choice. docs/benchmarks.md "The image's size" has
	// the measurement behind it: the three choices' write, restore and the job's first pass
	// after the resume.
	DefaultImageSize = ImageSizeAuto
)

// AutoImageSize is the image size that keeps in the image what the processes hold and leaves
// out the page cache that no process maps, in bytes: MemTotal − MemFree, less the unmapped
// page cache (Cached + Buffers − Shmem − Mapped) and the reclaimable slab (SReclaimable), all
// from /proc/meminfo. It is capped at swapFree, the free disk swap, so that the image fits there
// uncompressed (0: no cap); hibernate now gives the free space of the area the image goes to.
//
// Why: memory left out of the image comes back after the resume a page at a time, as it is
// touched: anonymous memory from swap, file pages from their files. The job cannot run until its
// working set is back, so leaving it out trades a sequential compressed write and read for
// random reads later; the page cache no process maps may never be needed again, and the kernel
// may drop it at no cost. The kernel still caps the image at about half of RAM (the copy
// needs the other half), whatever this asks.
func AutoImageSize(mem sysfs.Meminfo, swapFree int64) (int64, error) {
	for _, k := range []string{"MemTotal", "MemFree", "Cached", "Mapped"} {
		if _, ok := mem[k]; !ok {
			return 0, fmt.Errorf("/proc/meminfo has no %s", k)
		}
	}
	used := mem["MemTotal"] - mem["MemFree"]
	unmapped := max(0, mem["Cached"]+mem["Buffers"]-mem["Shmem"]-mem["Mapped"])
	const mib = 1 << 20
	held := (max(0, used-unmapped-mem["SReclaimable"]) + mib - 1) / mib * mib
	if swapFree > 0 && held > swapFree {
		held = swapFree
	}
	return held, nil
}

// imageSizeValue is what --image-size opt asks to write to /sys/power/image_size, "" for
// nothing; auto is computed from mem and swapFree (AutoImageSize).
func imageSizeValue(opt string, mem sysfs.Meminfo, swapFree int64) (string, error) {
	switch strings.TrimSpace(opt) {
	case ImageSizeKernel:
		return "", nil
	case "", ImageSizeAuto:
		if mem == nil {
			return "", errors.New("--image-size auto: /proc/meminfo was not read")
		}
		n, err := AutoImageSize(mem, swapFree)
		if err != nil {
			return "", fmt.Errorf("--image-size auto: %w (or --image-size kernel)", err)
		}
		return fmt.Sprint(n), nil
	case ImageSizeMin:
		return "0", nil
	}
	n, err := units.ParseBytes(opt)
	if err != nil {
		return "", fmt.Errorf("--image-size %q: %v; or auto, kernel, or min", opt, err)
	}
	return fmt.Sprint(n), nil
}

// predictedImageSize is the image_size hibernate now will leave in force, in bytes.
func predictedImageSize(fs sysfs.FS, opt string, mem sysfs.Meminfo) (int64, error) {
	size, err := imageSizeValue(opt, mem, freeDiskSwap(fs))
	if err != nil {
		return 0, err
	}
	if size == "" {
		if size, err = fs.ReadString("sys/power/image_size"); err != nil {
			return 0, fmt.Errorf("read /sys/power/image_size: %w", err)
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("image size %q: %w", size, err)
	}
	return n, nil
}

// freeDiskSwap is the free disk swap that can hold an image (zram left out; an inactive
// hibernation file counted whole, as the swap check counts it), 0 where it cannot be read.
func freeDiskSwap(fs sysfs.FS) int64 {
	swaps, _, err := swapsWithFile(fs)
	if err != nil {
		return 0
	}
	var free int64
	for _, s := range swaps {
		if !s.IsZram() {
			free += s.Free()
		}
	}
	return free
}
