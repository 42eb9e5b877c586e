package swapsetup

import (
	"fmt"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/crypttab"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// PlanPartition decides the setup of the partition o.Device: a swap area made there (unless it
// is one: kept), our image record stamped, activation, this boot's resume device. It changes
// nothing; what it refuses, it refuses here.
func PlanPartition(fs sysfs.FS, o Options) (*Plan, error) { return newPlanner(fs, o).partition() }

// SetupPartition is PlanPartition carried out (with o.DryRun, only shown).
func SetupPartition(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	p, err := PlanPartition(fs, o)
	return carry(p, err, sw, o.DryRun)
}

func (pl planner) partition() (*Plan, error) {
	devs, err := blockdev.List(pl.fs)
	if err != nil {
		return nil, err
	}
	dev, err := blockdev.Resolve(devs, pl.o.Device)
	if err != nil {
		return nil, fmt.Errorf("swap device %s: %w", pl.o.Device, err)
	}
	if err := refusePartition(dev, devs, pl.o.Force); err != nil {
		return nil, err
	}
	if err := refuseRandomKey(pl.fs, dev); err != nil {
		return nil, err
	}
	active, err := isActive(pl.fs, dev.Path)
	switch {
	case err != nil:
		return nil, err
	case active && (dev.Probe.Type != "swap" || pl.o.Force):
		return nil, fmt.Errorf("%s is already an active swap area: nothing to make (swapoff it first to remake it)", dev.Path)
	case !active && dev.Probe.Type != "" && dev.Probe.Type != "swap" && !pl.o.Force:
		return nil, fmt.Errorf("%s holds %s (blkid TYPE=%s): refusing to overwrite it without --force", dev.Path, dev.Probe.Describe(), dev.Probe.Type)
	}
	p := newPlan(pl.fs, Result{Device: dev.Path, DevT: dev.DevT(), SizeBytes: dev.Size})
	if !active {
		// Active, it is the kernel's: not opened (swapon holds it exclusively).
		if p.res.SizeBytes, err = deviceSize(pl.fs, dev.Path); err != nil {
			return nil, err
		}
	}
	if err := pl.swapArea(p, dev.Probe); err != nil {
		return nil, err
	}
	p.res.setKernelParams()
	pl.activation(p, active)
	return p, nil
}

// refusePartition says why dev can never be made a swap area for hibernation, or not without
// --force.
func refusePartition(dev blockdev.Device, devs []blockdev.Device, force bool) error {
	if strings.HasPrefix(dev.Name, "zram") {
		return fmt.Errorf("%s is a compressed RAM disk: it can never hold a hibernation image (RAM is what the image saves); use a disk partition or a swap file", dev.Path)
	}
	if dev.Probe.Type == "swsusp" {
		return fmt.Errorf("%s holds a hibernation image: resume it, or discard it with `hibernate discard %s`, before setting it up", dev.Path, dev.Path)
	}
	var parts []string
	for _, d := range devs {
		if d.Parent == dev.Name {
			parts = append(parts, d.Path)
		}
	}
	if len(parts) > 0 && !force {
		return fmt.Errorf("%s is a disk with partitions (%s): making it a swap area would destroy its partition table; name one partition, or use --new-partition %s", dev.Path, strings.Join(parts, ", "), dev.Path)
	}
	return nil
}

// deviceSize opens the device as setup will (exclusively: refused when it is mounted or in use)
// and says its size, if a swap area fits.
func deviceSize(fs sysfs.FS, path string) (int64, error) {
	f, err := openBelow(fs, path, 0) // O_RDONLY
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := blockdev.Size(f)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", path, err)
	}
	if size < 40*swsusp.PageSize {
		return 0, fmt.Errorf("%s: %d bytes is too small for a swap area", path, size)
	}
	return size, nil
}

// swapArea keeps the swap area the device holds, or plans a new one (--force: always).
func (pl planner) swapArea(p *Plan, pr blockdev.Probe) error {
	if pr.Type == "swap" && !pl.o.Force {
		p.res.UUID, p.res.Label = pr.UUID, pr.Label
		p.note("%s is already a swap area (UUID %s): kept", p.res.Device, pr.UUID)
		return nil
	}
	id, text, err := pl.uuid()
	if err != nil {
		return err
	}
	p.res.UUID, p.res.Label, p.res.Made = text, pl.o.Label, true
	p.add(mkswapDevice{res: p.res, id: id, label: pl.o.Label})
	return nil
}

// mkswapDevice makes a swap area on a partition, keeping its first page for --undo.
type mkswapDevice struct {
	res   *Result
	id    [16]byte
	label string
}

func (a mkswapDevice) String() string {
	s := fmt.Sprintf("make a swap area on %s (%d MiB, UUID %s", a.res.Device, a.res.SizeBytes>>20, swsusp.FormatUUID(a.id))
	if a.label != "" {
		s += ", label " + a.label
	}
	return s + ")"
}

func (a mkswapDevice) apply(r *work) error {
	path := r.res.Device
	f, err := openSwap(r.fs, path)
	if err != nil {
		return err
	}
	defer f.Close()
	page := make([]byte, swsusp.PageSize)
	if _, err := f.ReadAt(page, 0); err != nil {
		return fmt.Errorf("read the first page of %s (kept for --undo): %w", path, err)
	}
	if err := swsusp.Mkswap(f, r.res.SizeBytes, swsusp.MkswapOptions{UUID: a.id, Label: a.label, PageSize: swsusp.PageSize}); err != nil {
		return fmt.Errorf("mkswap %s: %w", path, err)
	}
	r.st.MadeArea, r.st.OldPage0 = true, page
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// refuseRandomKey refuses a device on a dm-crypt layer that /etc/crypttab keys anew at each
// boot: whatever it holds is unreadable after the next boot, an image too. --force does not
// change that.
func refuseRandomKey(fs sysfs.FS, dev blockdev.Device) error {
	layers, err := blockdev.Stack(fs, dev.Name)
	if err != nil {
		return err
	}
	e, ok, err := crypttab.RandomKeyed(fs, blockdev.CryptNames(layers))
	switch {
	case err != nil:
		return err
	case ok:
		return fmt.Errorf("%s is %s: %s; %s", dev.Path, blockdev.DescribeStack(layers), e.RandomKeyWhy(), crypttab.RandomKeyFix)
	}
	return nil
}
