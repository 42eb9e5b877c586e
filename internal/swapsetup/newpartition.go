package swapsetup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// NewPartitionName is the GPT name of the swap partition setup makes; a second setup finds it
// by this name and type instead of making another.
const NewPartitionName = "hibernate-swap"

const mib = 1 << 20

// freeSpan is the first free span of the table, 1 MiB aligned, that holds size bytes: its first
// and last sector.
func freeSpan(t *gpt.Table, size int64) (start, end uint64, err error) {
	ss := uint64(t.LogicalSectorSize)
	align := uint64(mib) / ss
	need := (uint64(size) + ss - 1) / ss
	var used [][2]uint64
	for _, p := range t.Partitions {
		if p != nil && p.Start != 0 {
			used = append(used, [2]uint64{p.Start, p.End})
		}
	}
	sort.Slice(used, func(i, j int) bool { return used[i][0] < used[j][0] })
	last := t.LastDataSector()
	next, biggest := align, uint64(0) // 2048: where partitioning tools start
	try := func(limit uint64) bool {
		s := (next + align - 1) / align * align
		if limit > s {
			biggest = max(biggest, limit-s)
		}
		if limit >= s && limit-s >= need {
			start, end = s, s+need-1
			return true
		}
		return false
	}
	for _, u := range used {
		if u[0] > next && try(u[0]) {
			return start, end, nil
		}
		next = max(next, u[1]+1)
	}
	if try(last + 1) {
		return start, end, nil
	}
	return 0, 0, fmt.Errorf("no free span of %d MiB: the largest is %d MiB (give a smaller --size)", size/mib, biggest*ss/mib)
}

// PlanNewPartition decides the setup of a new swap partition of o.Size bytes (0: AutoSize) in the
// free space of the GPT disk o.NewPartition: the partition made with its swap area, then set up as
// PlanPartition does once the kernel lists it. A partition an earlier setup made there is set up
// again, not made twice. It changes nothing.
func PlanNewPartition(fs sysfs.FS, o Options) (*Plan, error) { return newPlanner(fs, o).newPartition() }

// SetupNewPartition is PlanNewPartition carried out (with o.DryRun, only shown).
func SetupNewPartition(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	p, err := PlanNewPartition(fs, o)
	return carry(p, err, sw, o.DryRun)
}

func (pl planner) newPartition() (*Plan, error) {
	d, err := blockdev.Find(pl.fs, pl.o.NewPartition)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", pl.o.NewPartition, err)
	}
	if d.PartN != 0 {
		return nil, fmt.Errorf("%s is a partition: --new-partition takes the whole disk (use --device for a partition)", d.Path)
	}
	dk, t, err := openGPT(pl.fs, d.Path, diskfs.ReadOnly)
	if err != nil {
		return nil, err
	}
	defer dk.Close()
	for i, part := range t.Partitions {
		if part != nil && part.Start != 0 && part.Name == NewPartitionName && part.Type == gpt.LinuxSwap {
			return pl.keptPartition(d, dk, t, partIndex(part, i))
		}
	}
	return pl.madePartition(d, t)
}

// openGPT opens a disk below fs and reads its GPT.
func openGPT(fs sysfs.FS, path string, mode diskfs.OpenModeOption) (*disk.Disk, *gpt.Table, error) {
	dk, err := diskfs.Open(fs.Path(strings.TrimPrefix(path, "/")), diskfs.WithOpenMode(mode))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	pt, err := dk.GetPartitionTable()
	if err != nil {
		dk.Close()
		return nil, nil, fmt.Errorf("read the partition table of %s: %w", path, err)
	}
	t, ok := pt.(*gpt.Table)
	if !ok {
		dk.Close()
		return nil, nil, fmt.Errorf("%s has a %s partition table: --new-partition needs GPT", path, pt.Type())
	}
	return dk, t, nil
}

// keptPartition is setup run again on the partition an earlier one made: set up as a partition
// once the kernel lists it; until then, only its kernel parameters are known.
func (pl planner) keptPartition(d blockdev.Device, dk *disk.Disk, t *gpt.Table, index int) (*Plan, error) {
	kept := fmt.Sprintf("%s already has partition %d %q, made by an earlier setup: kept", d.Path, index, NewPartitionName)
	dev, err := blockdev.PartitionOf(pl.fs, d.Name, index)
	if err == nil {
		sub := pl
		sub.o.Device, sub.o.NewPartition = dev.Path, ""
		p, err := sub.partition()
		if err != nil {
			return nil, err
		}
		p.res.Disk, p.res.Partition, p.res.SwapUUID = d.Path, index, p.res.UUID
		p.res.Notes = append([]string{kept}, p.res.Notes...)
		return p, nil
	}
	if !errors.Is(err, blockdev.ErrNotFound) {
		return nil, err
	}
	uuid, err := regionUUID(dk, partStart(t, index))
	if err != nil {
		return nil, fmt.Errorf("partition %d of %s: %w", index, d.Path, err)
	}
	p := newPlan(pl.fs, Result{Disk: d.Path, Partition: index, UUID: uuid, SwapUUID: uuid})
	p.res.setKernelParams()
	p.note("%s", kept)
	p.note("%s", notListed(p.res))
	return p, nil
}

func notListed(res *Result) string {
	return fmt.Sprintf("the kernel does not list partition %d of %s yet: run `partprobe %s` (or reboot), then `hibernate setup --device UUID=%s` to activate it", res.Partition, res.Disk, res.Disk, res.SwapUUID)
}

// madePartition plans the partition made in the first free span that holds it, with a new swap
// area, before activation.
func (pl planner) madePartition(d blockdev.Device, t *gpt.Table) (*Plan, error) {
	size := pl.o.Size
	if size == 0 {
		var err error
		if size, err = AutoSize(pl.fs); err != nil {
			return nil, err
		}
	}
	size = (size + mib - 1) / mib * mib
	start, end, err := freeSpan(t, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path, err)
	}
	id, uuid, err := pl.uuid()
	if err != nil {
		return nil, err
	}
	p := newPlan(pl.fs, Result{Disk: d.Path, Partition: nextIndex(t), Made: true, UUID: uuid, SwapUUID: uuid, Label: pl.o.Label,
		SizeBytes: int64(end-start+1) * int64(t.LogicalSectorSize)})
	p.add(makePartition{res: p.res, disk: d, start: start, id: id})
	p.res.setKernelParams()
	p.unknown = append(p.unknown, "the new partition is activated once the kernel lists it (it reads the new table when it is written)")
	pl.activation(p, false)
	return p, nil
}

// makePartition writes a swap area in a free span of the disk, then the partition that holds it
// into the GPT, and asks the kernel for its device.
type makePartition struct {
	res   *Result
	disk  blockdev.Device
	start uint64 // first sector
	id    [16]byte
}

func (a makePartition) String() string {
	return fmt.Sprintf("make partition %d of %s: %d MiB at sector %d, type Linux swap, name %q, holding a swap area (UUID %s)",
		a.res.Partition, a.disk.Path, a.res.SizeBytes/mib, a.start, NewPartitionName, swsusp.FormatUUID(a.id))
}

func (a makePartition) apply(r *work) error {
	dk, t, err := openGPT(r.fs, a.disk.Path, diskfs.ReadWrite)
	if err != nil {
		return err
	}
	defer dk.Close()
	if start, _, err := freeSpan(t, r.res.SizeBytes); err != nil || start != a.start || nextIndex(t) != r.res.Partition {
		return fmt.Errorf("the partition table of %s changed since setup read it: run setup again", a.disk.Path)
	}
	ss := int64(t.LogicalSectorSize)
	if err := mkswapRegion(dk, int64(a.start)*ss, r.res.SizeBytes, a.id, r.res.Label); err != nil {
		return fmt.Errorf("%s: %w", a.disk.Path, err)
	}
	end := a.start + uint64(r.res.SizeBytes/ss) - 1
	t.Partitions = append(t.Partitions, &gpt.Partition{Index: r.res.Partition, Start: a.start, End: end, Type: gpt.LinuxSwap, Name: NewPartitionName})
	err = dk.Partition(t)
	if err != nil && !errors.Is(err, disk.ErrReReadDeferred) {
		return fmt.Errorf("write the partition table of %s: %w", a.disk.Path, err)
	}
	r.st.Disk, r.st.Partition = a.disk.Path, r.res.Partition
	if err != nil {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("the kernel will see partition %d of %s after a reboot (the disk is busy)", r.res.Partition, a.disk.Path))
	}
	dev, err := blockdev.PartitionOf(r.fs, a.disk.Name, r.res.Partition)
	if errors.Is(err, blockdev.ErrNotFound) {
		r.res.Notes = append(r.res.Notes, notListed(r.res))
		return nil // the actions on its device are skipped
	}
	r.res.Device, r.res.DevT = dev.Path, dev.DevT()
	return err
}

func partIndex(p *gpt.Partition, i int) int {
	if p.Index != 0 {
		return p.Index
	}
	return i + 1
}

func nextIndex(t *gpt.Table) int {
	used := map[int]bool{}
	for i, p := range t.Partitions {
		if p != nil && p.Start != 0 {
			used[partIndex(p, i)] = true
		}
	}
	n := 1
	for used[n] {
		n++
	}
	return n
}

// mkswapRegion clears the first MiB of a span of the disk (old signatures blkid would find) and
// makes a swap area there, before any partition table points at it.
func mkswapRegion(dk *disk.Disk, off, size int64, id [16]byte, label string) error {
	w, err := dk.Backend.Writable()
	if err != nil {
		return err
	}
	if _, err := w.WriteAt(make([]byte, min(size, mib)), off); err != nil {
		return fmt.Errorf("clear the new partition's start: %w", err)
	}
	if err := swsusp.Mkswap(io.NewOffsetWriter(w, off), size, swsusp.MkswapOptions{UUID: id, Label: label, PageSize: swsusp.PageSize}); err != nil {
		return fmt.Errorf("mkswap: %w", err)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	return nil
}

// partStart is the byte where partition index of t starts.
func partStart(t *gpt.Table, index int) int64 {
	for i, p := range t.Partitions {
		if p != nil && p.Start != 0 && partIndex(p, i) == index {
			return int64(p.Start) * int64(t.LogicalSectorSize)
		}
	}
	return 0
}

// regionUUID is the UUID of the swap area at byte off of the disk.
func regionUUID(dk *disk.Disk, off int64) (string, error) {
	page := make([]byte, swsusp.PageSize)
	if _, err := dk.Backend.ReadAt(page, off); err != nil {
		return "", err
	}
	pr, _ := blockdev.ProbeReader(bytes.NewReader(page))
	if pr.Type != "swap" {
		return "", fmt.Errorf("holds no swap area (%q): remake it with --device and --force", pr.Type)
	}
	return pr.UUID, nil
}

// removeNewPartition takes partition index, made by setup, out of disk's GPT.
func removeNewPartition(fs sysfs.FS, diskPath string, index int) error {
	dk, t, err := openGPT(fs, diskPath, diskfs.ReadWrite)
	if err != nil {
		return err
	}
	defer dk.Close()
	var keep []*gpt.Partition
	found := false
	for i, p := range t.Partitions {
		if p != nil && p.Start != 0 && partIndex(p, i) == index && p.Name == NewPartitionName && p.Type == gpt.LinuxSwap {
			found = true
			continue
		}
		keep = append(keep, p)
	}
	if !found {
		return fmt.Errorf("%s has no partition %d named %q: left as it is", diskPath, index, NewPartitionName)
	}
	t.Partitions = keep
	if err := dk.Partition(t); err != nil && !errors.Is(err, disk.ErrReReadDeferred) {
		return fmt.Errorf("write the partition table of %s: %w", diskPath, err)
	}
	return nil
}
