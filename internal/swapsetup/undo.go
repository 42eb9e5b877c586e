package swapsetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// StateName is where setup records what it added, for --undo (below the root).
const StateName = "var/lib/hibernate/setup.json"

// State is what setup added to the machine. A second setup of the same swap keeps the first
// one's record (what it made, what was there before) and adds to it.
type State struct {
	Format     int        `json:"format"`
	File       string     `json:"file,omitempty"`   // the swap file, as on the machine
	Device     string     `json:"device,omitempty"` // the swap partition (or the file's file system device)
	DevT       string     `json:"devt"`
	SwapUUID   string     `json:"swap_uuid"`
	MadeFile   bool       `json:"made_file,omitempty"`   // setup created File
	MadeArea   bool       `json:"made_area,omitempty"`   // setup ran mkswap on Device
	OldPage0   []byte     `json:"old_page0,omitempty"`   // Device's first page before mkswap
	Activated  bool       `json:"activated,omitempty"`   // setup ran swapon
	FstabLine  string     `json:"fstab_line,omitempty"`  // the line setup added to /etc/fstab
	PrevResume string     `json:"prev_resume,omitempty"` // /sys/power/resume and resume_offset before setup
	PrevOffset string     `json:"prev_offset,omitempty"`
	Runtime    bool       `json:"runtime,omitempty"` // setup wrote /sys/power/resume
	Boot       []BootEdit `json:"boot,omitempty"`
	// NewPartition: the disk and the partition number setup made there
	Disk      string `json:"disk,omitempty"`
	Partition int    `json:"partition,omitempty"`
}

func (s *State) target() string {
	if s.File != "" {
		return s.File
	}
	if s.Disk != "" && s.Device == "" {
		return s.Disk
	}
	return s.Device
}

// LoadState reads the record of an earlier setup; nil when there is none.
func LoadState(fs sysfs.FS) (*State, error) {
	b, err := os.ReadFile(fs.Path(StateName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fs.Path(StateName), err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", fs.Path(StateName), err)
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("%s: format %d, this hibernate reads format 1", fs.Path(StateName), s.Format)
	}
	return &s, nil
}

func saveState(fs sysfs.FS, s *State) error {
	s.Format = 1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(fs.Path(StateName)), 0o755); err != nil {
		return err
	}
	_, _, err = editFile(fs, StateName, true, false, false, func(string) (string, error) { return string(b) + "\n", nil })
	return err
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

// mergeState keeps what the first setup made and what was there before it.
func mergeState(old, neu *State) *State {
	m := *old
	m.MadeFile = old.MadeFile || neu.MadeFile
	if !old.MadeArea && neu.MadeArea {
		m.MadeArea, m.OldPage0 = true, neu.OldPage0
	}
	m.Activated = old.Activated || neu.Activated
	m.Runtime = old.Runtime || neu.Runtime
	if neu.SwapUUID != "" {
		m.SwapUUID = neu.SwapUUID
	}
	if neu.DevT != "" {
		m.DevT = neu.DevT
	}
	if m.FstabLine == "" {
		m.FstabLine = neu.FstabLine
	}
	for _, e := range neu.Boot {
		found := false
		for i := range m.Boot {
			if m.Boot[i].File == e.File {
				// the first run's Prev is what the machine had; this run's Set is what is there now
				m.Boot[i].Set = e.Set
				found = true
			}
		}
		if !found {
			m.Boot = append(m.Boot, e)
		}
	}
	return &m
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

// Undo takes back what the recorded setup added: the boot configuration's parameters, the fstab
// line, this boot's resume device, the activation, and the file or swap area it made.
func Undo(fs sysfs.FS, sw Swapper, dryRun bool) (Result, error) {
	var res Result
	st, err := LoadState(fs)
	if err != nil {
		return res, err
	}
	if st == nil {
		return res, fmt.Errorf("nothing to undo: %s does not exist (setup records there what it adds)", fs.Path(StateName))
	}
	res.File, res.Device, res.DevT = st.File, st.Device, st.DevT
	var errs []error
	do := func(what string, f func() error) {
		res.Actions = append(res.Actions, what)
		if !dryRun {
			if err := f(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			}
		}
	}
	for _, e := range st.Boot {
		changed, err := undoBootEdit(fs, e, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !changed {
			res.Notes = append(res.Notes, fmt.Sprintf("/%s no longer has setup's parameters", e.File))
			continue
		}
		what := fmt.Sprintf("take %s out of /%s", strings.Join(e.Set, " "), e.File)
		if len(e.Prev) > 0 {
			what += ", putting back " + strings.Join(e.Prev, " ")
		}
		do(what, func() error { _, err := undoBootEdit(fs, e, false); return err })
	}
	if st.FstabLine != "" {
		if changed, _ := removeFstabLine(fs, st.FstabLine, true); changed {
			do(fmt.Sprintf("remove %q from /etc/fstab", st.FstabLine), func() error { _, err := removeFstabLine(fs, st.FstabLine, false); return err })
		}
	}
	if st.Runtime {
		cur, _ := fs.ReadString("sys/power/resume")
		if cur == st.DevT {
			off := st.PrevOffset
			if off == "" {
				off = "0"
			}
			do("write "+off+" to /sys/power/resume_offset", func() error { return fs.WriteString("sys/power/resume_offset", off) })
			if st.PrevResume != "" && st.PrevResume != "0:0" && st.PrevResume != st.DevT {
				do("write "+st.PrevResume+" to /sys/power/resume", func() error { return fs.WriteString("sys/power/resume", st.PrevResume) })
			} else {
				res.Notes = append(res.Notes, "/sys/power/resume keeps "+cur+" until reboot (the kernel takes no 0:0); hibernation would still use this swap if it stays active")
			}
		}
	}
	target := st.target()
	active, _ := ReadProcSwaps(fs)
	for _, s := range active {
		if s.Filename == target && st.Activated {
			do("swapoff "+target, func() error { return sw.Swapoff(target) })
		}
	}
	if st.MadeFile {
		if _, err := os.Lstat(fs.Path(strings.TrimPrefix(st.File, "/"))); err == nil {
			do("remove "+st.File, func() error { return os.Remove(fs.Path(strings.TrimPrefix(st.File, "/"))) })
		}
	}
	if st.Disk != "" && st.Partition > 0 {
		do(fmt.Sprintf("remove partition %d (%s) from %s", st.Partition, NewPartitionName, st.Disk), func() error { return removeNewPartition(fs, st.Disk, st.Partition) })
	}
	if st.MadeArea && len(st.OldPage0) == swsusp.PageSize {
		do("put back the first page of "+st.Device+" as it was before mkswap", func() error { return restorePage0(fs, st) })
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	do("remove /"+StateName, func() error { return os.Remove(fs.Path(StateName)) })
	return res, nil
}

// restorePage0 writes the saved first page back, only over the swap area setup made.
func restorePage0(fs sysfs.FS, st *State) error {
	f, err := os.OpenFile(fs.Path(strings.TrimPrefix(st.Device, "/")), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	cur := make([]byte, swsusp.PageSize)
	if _, err := f.ReadAt(cur, 0); err != nil {
		return err
	}
	a := swsusp.ParsePage0(cur)
	if a.Sig != swsusp.SigSwap || !bytes.Equal(cur[1036:1052], uuidBytes(st.SwapUUID)) {
		return fmt.Errorf("%s no longer holds the swap area setup made (UUID %s): left as it is", st.Device, st.SwapUUID)
	}
	if _, err := f.WriteAt(st.OldPage0, 0); err != nil {
		return err
	}
	return f.Sync()
}

func uuidBytes(s string) []byte {
	u, err := swsusp.ParseUUID(s)
	if err != nil {
		return nil
	}
	return u[:]
}
