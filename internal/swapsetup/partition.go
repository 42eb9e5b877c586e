package swapsetup

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// SetupPartition makes opts.Device a swap area (unless it already is one), activates it and
// points this boot's hibernation at it (/sys/power/resume).
func SetupPartition(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	res := Result{Device: o.Device}
	devs, err := blockdev.List(fs)
	if err != nil {
		return res, err
	}
	dev, err := blockdev.Resolve(devs, o.Device)
	if err != nil {
		return res, fmt.Errorf("swap device %s: %w", o.Device, err)
	}
	if strings.HasPrefix(dev.Name, "zram") {
		return res, fmt.Errorf("%s is a compressed RAM disk: it can never hold a hibernation image (RAM is what the image saves); use a disk partition or a swap file", dev.Path)
	}
	if dev.Probe.Type == "swsusp" {
		return res, fmt.Errorf("%s holds a hibernation image: resume it, or discard it with `hibernate discard %s`, before setting it up", dev.Path, dev.Path)
	}
	var parts []string
	for _, d := range devs {
		if d.Parent == dev.Name {
			parts = append(parts, d.Path)
		}
	}
	if len(parts) > 0 && !o.Force {
		return res, fmt.Errorf("%s is a disk with partitions (%s): making it a swap area would destroy its partition table; name one partition, or use --new-partition %s", dev.Path, strings.Join(parts, ", "), dev.Path)
	}
	active, err := ReadProcSwaps(fs)
	if err != nil {
		return res, err
	}
	for _, s := range active {
		if s.Filename == dev.Path {
			if dev.Probe.Type != "swap" || o.Force {
				return res, fmt.Errorf("%s is already an active swap area: nothing to make (swapoff it first to remake it)", dev.Path)
			}
			return keepActivePartition(fs, res, dev, o)
		}
	}
	if dev.Probe.Type != "" && dev.Probe.Type != "swap" && !o.Force {
		return res, fmt.Errorf("%s holds a %s file system: refusing to overwrite it without --force", dev.Path, dev.Probe.Type)
	}
	res.DevT = dev.DevT()
	path := fs.Path(strings.TrimPrefix(dev.Path, "/"))
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_EXCL, 0)
	if err != nil && errors.Is(err, unix.EINVAL) {
		f, err = os.OpenFile(path, os.O_RDWR, 0) // regular files (tests, images) take no O_EXCL
	}
	if err != nil {
		return res, fmt.Errorf("open %s: %w", dev.Path, err)
	}
	defer f.Close()
	size, err := blockdev.Size(f)
	if err != nil {
		return res, fmt.Errorf("size of %s: %w", dev.Path, err)
	}
	res.SizeBytes = size
	if size < 40*swsusp.PageSize {
		return res, fmt.Errorf("%s: %d bytes is too small for a swap area", dev.Path, size)
	}
	if dev.Probe.Type == "swap" && !o.Force {
		res.UUID, res.Label = dev.Probe.UUID, dev.Probe.Label
	} else {
		id, err := swsusp.NewUUID()
		if err != nil {
			return res, err
		}
		res.UUID = swsusp.SwapHeader{UUID: id}.UUIDString()
		res.Label = o.Label
		res.Made = true
		res.Actions = append(res.Actions, fmt.Sprintf("make a swap area on %s (%d MiB, UUID %s)", dev.Path, size>>20, res.UUID))
		if !o.DryRun {
			if err := swsusp.Mkswap(f, size, swsusp.MkswapOptions{UUID: id, Label: o.Label, PageSize: swsusp.PageSize}); err != nil {
				return res, fmt.Errorf("mkswap %s: %w", dev.Path, err)
			}
		}
	}
	if o.Record != nil {
		res.Actions = append(res.Actions, fmt.Sprintf("stamp the image record for %s into the swap header of %s", o.Record.KernelRelease, dev.Path))
		if !o.DryRun {
			if err := swsusp.StampRecord(f, 0, *o.Record); err != nil {
				return res, fmt.Errorf("stamp image record on %s: %w", dev.Path, err)
			}
		}
	}
	if !o.DryRun {
		if err := f.Sync(); err != nil {
			return res, fmt.Errorf("sync %s: %w", dev.Path, err)
		}
	}
	// swapon claims the device exclusively: our O_EXCL descriptor must be gone first (EBUSY).
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("close %s: %w", dev.Path, err)
	}
	res.Resume = "UUID=" + res.UUID
	res.KernelParams = "resume=" + res.Resume
	res.Actions = append(res.Actions, fmt.Sprintf("swapon %s", dev.Path))
	if !o.DryRun {
		if err := sw.Swapon(dev.Path, o.Priority); err != nil {
			return res, err
		}
		res.Activated = true
	}
	res.Actions = append(res.Actions, fmt.Sprintf("write %s to /sys/power/resume (offset 0)", res.DevT))
	if !o.DryRun {
		if err := fs.WriteString("sys/power/resume_offset", "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("set /sys/power/resume_offset: %w", err)
		}
		if err := fs.WriteString("sys/power/resume", res.DevT); err != nil {
			return res, fmt.Errorf("set /sys/power/resume to %s: %w", res.DevT, err)
		}
	}
	return res, nil
}

// keepActivePartition is setup run again on a swap partition it already activated: nothing to
// make, nothing to activate; the resume device is set again.
func keepActivePartition(fs sysfs.FS, res Result, dev blockdev.Device, o Options) (Result, error) {
	res.DevT, res.UUID, res.Label, res.SizeBytes = dev.DevT(), dev.Probe.UUID, dev.Probe.Label, dev.Size
	res.Activated = true
	res.Notes = append(res.Notes, fmt.Sprintf("%s is already an active swap area (UUID %s): kept, not activated again", dev.Path, res.UUID))
	if o.Record != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("not stamping the image record: %s is active (swapoff it to stamp one)", dev.Path))
	}
	res.Resume = "UUID=" + res.UUID
	res.KernelParams = "resume=" + res.Resume
	return res, setRuntimeResume(fs, &res, o.DryRun)
}
