package swapsetup

import (
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

// SetupNewPartition makes a swap partition of o.Size bytes (0: AutoSize) in the free space of the
// GPT disk o.NewPartition, or finds the one an earlier run made, then sets it up as SetupPartition
// does once the kernel lists it.
func SetupNewPartition(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	res := Result{}
	d, err := blockdev.Find(fs, o.NewPartition)
	if err != nil {
		return res, fmt.Errorf("disk %s: %w", o.NewPartition, err)
	}
	if d.PartN != 0 {
		return res, fmt.Errorf("%s is a partition: --new-partition takes the whole disk (use --device for a partition)", d.Path)
	}
	size := o.Size
	if size == 0 {
		if size, err = AutoSize(fs); err != nil {
			return res, err
		}
	}
	size = (size + mib - 1) / mib * mib
	mode := diskfs.ReadWrite
	if o.DryRun {
		mode = diskfs.ReadOnly
	}
	dk, err := diskfs.Open(fs.Path(strings.TrimPrefix(d.Path, "/")), diskfs.WithOpenMode(mode))
	if err != nil {
		return res, fmt.Errorf("open %s: %w", d.Path, err)
	}
	defer dk.Close()
	pt, err := dk.GetPartitionTable()
	if err != nil {
		return res, fmt.Errorf("read the partition table of %s: %w", d.Path, err)
	}
	t, ok := pt.(*gpt.Table)
	if !ok {
		return res, fmt.Errorf("%s has a %s partition table: --new-partition needs GPT", d.Path, pt.Type())
	}
	res.Disk = d.Path
	index, part := 0, (*gpt.Partition)(nil)
	for i, p := range t.Partitions {
		if p != nil && p.Start != 0 && p.Name == NewPartitionName && p.Type == gpt.LinuxSwap {
			index, part = partIndex(p, i), p
		}
	}
	if part != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("%s already has partition %d %q, made by an earlier setup: kept", d.Path, index, NewPartitionName))
	} else {
		start, end, err := freeSpan(t, size)
		if err != nil {
			return res, fmt.Errorf("%s: %w", d.Path, err)
		}
		index = nextIndex(t)
		part = &gpt.Partition{Index: index, Start: start, End: end, Type: gpt.LinuxSwap, Name: NewPartitionName}
		ss := uint64(t.LogicalSectorSize)
		res.Actions = append(res.Actions, fmt.Sprintf("make partition %d of %s: %d MiB at sector %d, type Linux swap, name %q", index, d.Path, (end-start+1)*ss/mib, start, NewPartitionName))
		res.Made = true
		if !o.DryRun {
			uuid, err := mkswapRegion(dk, int64(start*ss), int64((end-start+1)*ss), o.Label)
			if err != nil {
				return res, fmt.Errorf("%s: %w", d.Path, err)
			}
			res.SwapUUID = uuid
			t.Partitions = append(t.Partitions, part)
			if err := dk.Partition(t); err != nil {
				if !errors.Is(err, disk.ErrReReadDeferred) {
					return res, fmt.Errorf("write the partition table of %s: %w", d.Path, err)
				}
				res.Notes = append(res.Notes, fmt.Sprintf("the kernel will see partition %d of %s after a reboot (the disk is busy)", index, d.Path))
			}
		}
	}
	res.Partition = index
	if o.DryRun && res.Made {
		res.Notes = append(res.Notes, "the new partition's swap UUID is made with it (not in a dry run)")
		return res, nil
	}
	if res.SwapUUID == "" {
		if res.SwapUUID, err = regionUUID(dk, int64(part.Start)*int64(t.LogicalSectorSize)); err != nil {
			return res, fmt.Errorf("partition %d of %s: %w", index, d.Path, err)
		}
	}
	p, err := blockdev.PartitionOf(fs, d.Name, index)
	if err == nil {
		sub := o
		sub.Device, sub.NewPartition = p.Path, ""
		r, err := SetupPartition(fs, sw, sub)
		r.Actions = append(res.Actions, r.Actions...)
		r.Notes = append(res.Notes, r.Notes...)
		r.Made = r.Made || res.Made
		r.Disk, r.Partition = d.Path, index
		return r, err
	}
	if !errors.Is(err, blockdev.ErrNotFound) {
		return res, err
	}
	res.UUID, res.Resume = res.SwapUUID, "UUID="+res.SwapUUID
	res.KernelParams = "resume=" + res.Resume
	res.Notes = append(res.Notes, fmt.Sprintf("the kernel does not list partition %d of %s yet: run `partprobe %s` (or reboot), then `hibernate setup --device UUID=%s` to activate it", index, d.Path, d.Path, res.SwapUUID))
	return res, nil
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
func mkswapRegion(dk *disk.Disk, off, size int64, label string) (string, error) {
	w, err := dk.Backend.Writable()
	if err != nil {
		return "", err
	}
	if _, err := w.WriteAt(make([]byte, min(size, mib)), off); err != nil {
		return "", fmt.Errorf("clear the new partition's start: %w", err)
	}
	id, err := swsusp.NewUUID()
	if err != nil {
		return "", err
	}
	if err := swsusp.Mkswap(io.NewOffsetWriter(w, off), size, swsusp.MkswapOptions{UUID: id, Label: label, PageSize: swsusp.PageSize}); err != nil {
		return "", fmt.Errorf("mkswap: %w", err)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		if err := f.Sync(); err != nil {
			return "", fmt.Errorf("sync: %w", err)
		}
	}
	return swsusp.FormatUUID(id), nil
}

func regionUUID(dk *disk.Disk, off int64) (string, error) {
	page := make([]byte, swsusp.PageSize)
	if _, err := dk.Backend.ReadAt(page, off); err != nil {
		return "", err
	}
	pr, _ := blockdev.ProbeReader(bytesReaderAt(page))
	if pr.Type != "swap" {
		return "", fmt.Errorf("holds no swap area (%q): remake it with --device and --force", pr.Type)
	}
	return pr.UUID, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// removeNewPartition takes partition index, made by setup, out of disk's GPT.
func removeNewPartition(fs sysfs.FS, diskPath string, index int) error {
	dk, err := diskfs.Open(fs.Path(strings.TrimPrefix(diskPath, "/")), diskfs.WithOpenMode(diskfs.ReadWrite))
	if err != nil {
		return fmt.Errorf("open %s: %w", diskPath, err)
	}
	defer dk.Close()
	pt, err := dk.GetPartitionTable()
	if err != nil {
		return fmt.Errorf("read the partition table of %s: %w", diskPath, err)
	}
	t, ok := pt.(*gpt.Table)
	if !ok {
		return fmt.Errorf("%s: not a GPT disk", diskPath)
	}
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
