package swapsetup

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Options say what setup does.
type Options struct {
	Device   string // a partition (/dev/vda2) to make, or keep, a swap area
	Label    string
	Priority int  // swapon priority; < 0: kernel default
	Force    bool // remake the swap area even if the partition holds one (a new UUID) or another file system
	DryRun   bool // Setup and the other one-call forms only show the plan (the Plan* functions ignore it)
	// Record, when set, is stamped into the swap header before activation (our image record).
	Record *swsusp.Record

	// File, instead of Device: a swap file (absolute, as on the machine) to make or keep.
	File string
	// Size of a new swap file or partition in bytes; 0 means AutoSize.
	Size int64
	// NewPartition, instead of Device: a GPT disk in whose free space a swap partition is made.
	NewPartition string
	// Fstab adds the swap to /etc/fstab (once).
	Fstab bool
	// WriteBootConfig puts resume= and resume_offset= into the boot configuration found.
	WriteBootConfig bool
	// HibernateOnly makes File a hibernation file, never a swap for daily use: made and
	// stamped, but not activated (hibernate now activates it just before the image is written,
	// at the kernel's lowest priority, and deactivates it after). For machines whose daily swap
	// is zram.
	HibernateOnly bool
}

// Result is what setup did, and the kernel parameters that find this swap at boot.
type Result struct {
	Device       string   `json:"device"`
	DevT         string   `json:"devt"`
	UUID         string   `json:"uuid"`
	Label        string   `json:"label,omitempty"`
	SizeBytes    int64    `json:"size_bytes"`
	Made         bool     `json:"made_swap_area"` // false when an existing swap area was kept
	Activated    bool     `json:"activated"`
	Resume       string   `json:"resume"`        // resume= value
	ResumeOffset uint64   `json:"resume_offset"` // pages
	KernelParams string   `json:"kernel_params"`
	Actions      []string `json:"actions"` // each change made, in order (or, in a dry run, the plan)

	File     string   `json:"file,omitempty"`      // the swap file, as on the machine
	FSType   string   `json:"fs_type,omitempty"`   // the file system holding File
	SwapUUID string   `json:"swap_uuid,omitempty"` // a swap file's own area UUID (UUID is its file system's)
	Notes    []string `json:"notes,omitempty"`     // what was kept or skipped, and why

	Disk      string `json:"disk,omitempty"`      // --new-partition: the disk
	Partition int    `json:"partition,omitempty"` // --new-partition: the partition's number

	HibernateOnly bool `json:"hibernate_only,omitempty"` // File is a hibernation file, left inactive

	offsetPending bool // a new swap file's ResumeOffset: known once the file is made
}

// swapName is how the actions name the swap: the file, the partition, or a new partition's place
// on its disk until the kernel lists it.
func (r *Result) swapName() string {
	switch {
	case r.File != "":
		return r.File
	case r.Device != "":
		return r.Device
	}
	return fmt.Sprintf("partition %d of %s", r.Partition, r.Disk)
}

// swapPath is what swapon takes; "" for a new partition the kernel does not list yet.
func (r *Result) swapPath() string {
	if r.File != "" {
		return r.File
	}
	return r.Device
}

// setKernelParams fills resume= from the UUID (and, for a file, resume_offset=) as they are now.
func (r *Result) setKernelParams() {
	r.Resume = "UUID=" + r.UUID
	r.KernelParams = "resume=" + r.Resume
	switch {
	case r.File != "" && r.offsetPending:
		r.KernelParams += " resume_offset=?"
	case r.File != "":
		r.KernelParams += fmt.Sprintf(" resume_offset=%d", r.ResumeOffset)
	}
}

// PlanSetup decides `hibernate setup`: the swap (a partition, a new partition or a file), its
// activation, this boot's resume device, on request its /etc/fstab line and the boot
// configuration, and the record of what it adds (StateName) for Undo. It changes nothing.
func PlanSetup(fs sysfs.FS, o Options) (*Plan, error) { return newPlanner(fs, o).setup() }

// Setup is PlanSetup carried out (with o.DryRun, only shown).
func Setup(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	p, err := PlanSetup(fs, o)
	return carry(p, err, sw, o.DryRun)
}

func (pl planner) setup() (*Plan, error) {
	prev, err := LoadState(pl.fs)
	if err != nil {
		return nil, err
	}
	if n := pl.o.targets(); n != 1 {
		return nil, noTarget(pl.fs, n)
	}
	if err := pl.o.hibernateOnlyConflicts(); err != nil {
		return nil, err
	}
	if err := pl.sameSwap(prev); err != nil {
		return nil, err
	}
	rec := &recordSetup{prev: prev}
	rec.prevResume, _ = pl.fs.ReadString("sys/power/resume")
	rec.prevOffset, _ = pl.fs.ReadString("sys/power/resume_offset")
	p, err := pl.swap()
	if err != nil {
		return nil, err
	}
	if pl.o.Fstab {
		if err := planFstab(p, pl.o.Priority); err != nil {
			return nil, err
		}
	}
	if pl.o.WriteBootConfig {
		if err := planBootConfig(p); err != nil {
			return nil, err
		}
	}
	rec.res = p.res
	p.add(rec)
	return p, nil
}

func (pl planner) swap() (*Plan, error) {
	switch {
	case pl.o.File != "":
		return pl.file()
	case pl.o.NewPartition != "":
		return pl.newPartition()
	}
	return pl.partition()
}

func (o Options) targets() int {
	n := 0
	for _, s := range []string{o.Device, o.File, o.NewPartition} {
		if s != "" {
			n++
		}
	}
	return n
}

// hibernateOnlyConflicts refuses what a hibernation file cannot be: a partition, a line of
// /etc/fstab (every boot would activate it as daily swap), a swapon priority (it is never
// activated by setup).
func (o Options) hibernateOnlyConflicts() error {
	switch {
	case !o.HibernateOnly:
		return nil
	case o.File == "":
		return fmt.Errorf("--hibernate-only is for a hibernation file (--file PATH); a partition that is not daily swap is simply left out of /etc/fstab")
	case o.Fstab:
		return fmt.Errorf("--hibernate-only with --fstab: a hibernation file in /etc/fstab would be activated at every boot as daily swap")
	case o.Priority >= 0:
		return fmt.Errorf("--hibernate-only with --priority: setup does not activate a hibernation file; hibernate now activates it at the lowest priority, so that nothing else swaps to it")
	}
	return nil
}

// sameSwap refuses to set up another swap than the one an earlier setup recorded.
func (pl planner) sameSwap(prev *State) error {
	if prev == nil {
		return nil
	}
	var same bool
	switch {
	case pl.o.File != "":
		same = prev.target() == filepath.Clean(pl.o.File)
	case pl.o.NewPartition != "":
		same = prev.Disk == pl.o.NewPartition
	default:
		d, err := blockdev.Find(pl.fs, pl.o.Device)
		same = err != nil || prev.target() == d.Path // not found: the plan says so
	}
	if !same {
		return fmt.Errorf("setup was done for %s already: run `hibernate setup --undo` first", prev.target())
	}
	return nil
}

// recordSetup writes what setup added to StateName, into an earlier setup's record. It is done
// after a failure too once something was changed, for --undo to take that back.
type recordSetup struct {
	res                    *Result
	prev                   *State
	prevResume, prevOffset string // /sys/power/resume and resume_offset when planned
}

func (a *recordSetup) String() string {
	return "record what setup added in /" + StateName + " (for hibernate setup --undo)"
}

func (a *recordSetup) afterFailure(r *work) bool { return a.prev != nil || r.st.changed() }

func (a *recordSetup) apply(r *work) error {
	st := r.st
	st.File, st.DevT, st.SwapUUID = r.res.File, r.res.DevT, r.res.SwapUUID
	st.HibernateOnly = r.res.HibernateOnly
	st.PrevResume, st.PrevOffset = a.prevResume, a.prevOffset
	if r.res.File == "" {
		// The resolved path (/dev/vda2), not the spec as given (PARTUUID=…): a second run with
		// another spec of the same partition compares against it.
		st.Device = r.res.Device
		if st.SwapUUID == "" {
			st.SwapUUID = r.res.UUID
		}
	}
	rec := &st
	if a.prev != nil {
		rec = mergeState(a.prev, rec)
	}
	if err := saveState(r.fs, rec); err != nil {
		return fmt.Errorf("record what setup added: %w", err)
	}
	return nil
}

// noTarget says what setup needs, and what it saw: zram is never a resume device.
func noTarget(fs sysfs.FS, n int) error {
	if n > 1 {
		return fmt.Errorf("give one of --device, --file and --new-partition, not %d", n)
	}
	active, _ := ReadProcSwaps(fs)
	var zram, disk []string
	for _, s := range active {
		if s.IsZram() {
			zram = append(zram, s.Filename)
		} else {
			disk = append(disk, s.Filename)
		}
	}
	switch {
	case len(disk) > 0:
		return fmt.Errorf("say which swap to use: --device or --file (active disk swap: %s)", strings.Join(disk, ", "))
	case len(zram) > 0:
		return fmt.Errorf("this machine's only swap is zram (%s), a compressed RAM disk, which can never hold a hibernation image: add disk swap with --file /swapfile, --device DEV or --new-partition DISK", strings.Join(zram, ", "))
	}
	return fmt.Errorf("this machine has no swap: make some with --file /swapfile, --device DEV or --new-partition DISK")
}
