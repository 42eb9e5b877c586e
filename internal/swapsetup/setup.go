package swapsetup

import (
	"fmt"
	"os"
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
	DryRun   bool
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
	Actions      []string `json:"actions"` // each change made (or, with DryRun, that would be made)

	File     string   `json:"file,omitempty"`      // the swap file, as on the machine
	FSType   string   `json:"fs_type,omitempty"`   // the file system holding File
	SwapUUID string   `json:"swap_uuid,omitempty"` // a swap file's own area UUID (UUID is its file system's)
	Notes    []string `json:"notes,omitempty"`     // what was kept or skipped, and why

	Disk      string `json:"disk,omitempty"`      // --new-partition: the disk
	Partition int    `json:"partition,omitempty"` // --new-partition: the partition's number

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

// Setup is `hibernate setup`: the swap (a partition, a new partition or a file), its activation,
// this boot's resume device, and on request its /etc/fstab line and the boot configuration; it
// records what it added in StateName for Undo.
func Setup(fs sysfs.FS, sw Swapper, o Options) (Result, error) {
	prev, err := LoadState(fs)
	if err != nil {
		return Result{}, err
	}
	n := 0
	for _, s := range []string{o.Device, o.File, o.NewPartition} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return Result{}, noTarget(fs, n)
	}
	st := &State{}
	st.PrevResume, _ = fs.ReadString("sys/power/resume")
	st.PrevOffset, _ = fs.ReadString("sys/power/resume_offset")
	var res Result
	switch {
	case o.File != "":
		st.File = filepath.Clean(o.File)
		if prev != nil && prev.target() != st.File {
			return res, fmt.Errorf("setup was done for %s already: run `hibernate setup --undo` first", prev.target())
		}
		res, err = SetupFile(fs, sw, o)
		st.MadeFile = res.Made && !o.DryRun
	case o.NewPartition != "":
		if prev != nil && prev.Disk != o.NewPartition {
			return res, fmt.Errorf("setup was done for %s already: run `hibernate setup --undo` first", prev.target())
		}
		res, err = SetupNewPartition(fs, sw, o)
		if res.Made && !o.DryRun {
			st.Disk, st.Partition = res.Disk, res.Partition
		}
	default:
		var page []byte
		page, st.Device = firstPage(fs, o.Device)
		if prev != nil && prev.target() != st.Device {
			return res, fmt.Errorf("setup was done for %s already: run `hibernate setup --undo` first", prev.target())
		}
		res, err = SetupPartition(fs, sw, o)
		if res.Made && !o.DryRun {
			st.MadeArea, st.OldPage0 = true, page
		}
	}
	st.DevT, st.SwapUUID = res.DevT, res.SwapUUID
	if st.SwapUUID == "" && res.File == "" {
		st.SwapUUID = res.UUID
	}
	if res.File == "" && st.Device == "" {
		// Keep the resolved path (/dev/vda2), not the spec as given (PARTUUID=…): a second run
		// with another spec of the same partition compares against it.
		st.Device = res.Device
	}
	st.Activated = res.Activated && !containsPrefix(res.Notes, "already active") && !o.DryRun
	st.Runtime = err == nil && !o.DryRun
	if err == nil && o.Fstab {
		st.FstabLine, err = ensureFstab(fs, &res, o.Priority, o.DryRun)
	}
	if err == nil && o.WriteBootConfig {
		if strings.HasSuffix(res.KernelParams, "=?") {
			res.Notes = append(res.Notes, "the boot configuration is written once resume_offset is known (not in a dry run)")
		} else {
			st.Boot, err = writeBootConfig(fs, &res, o.DryRun)
		}
	}
	if o.DryRun {
		return res, err
	}
	if err != nil && prev == nil && !st.MadeFile && !st.MadeArea && st.Disk == "" && !st.Activated {
		return res, err // refused before any change: nothing to record
	}
	if prev != nil {
		st = mergeState(prev, st)
	}
	if serr := saveState(fs, st); serr != nil && err == nil {
		err = fmt.Errorf("record what setup added: %w", serr)
	}
	res.Actions = append(res.Actions, "record what setup added in /"+StateName+" (for hibernate setup --undo)")
	return res, err
}

func containsPrefix(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// firstPage reads the first page of the device a spec names, to put it back on undo.
func firstPage(fs sysfs.FS, spec string) ([]byte, string) {
	d, err := blockdev.Find(fs, spec)
	if err != nil {
		return nil, ""
	}
	f, err := os.Open(fs.Path(strings.TrimPrefix(d.Path, "/")))
	if err != nil {
		return nil, d.Path
	}
	defer f.Close()
	page := make([]byte, swsusp.PageSize)
	if _, err := f.ReadAt(page, 0); err != nil {
		return nil, d.Path
	}
	return page, d.Path
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
