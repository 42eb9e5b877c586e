package swapsetup

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// PlanUndo decides how to take back what the recorded setup added: the boot configuration's
// parameters, the fstab line, this boot's resume device, the activation, and the file, partition
// or swap area it made; last the record itself. It changes nothing. Carried out, every action is
// tried; the record stays while any failed.
func PlanUndo(fs sysfs.FS) (*Plan, error) {
	st, err := LoadState(fs)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("nothing to undo: %s does not exist (setup records there what it adds)", fs.Path(StateName))
	}
	p := newPlan(fs, Result{File: st.File, Device: st.Device, DevT: st.DevT})
	p.tryAll = true
	for _, e := range st.Boot {
		planUndoBootEdit(p, e)
	}
	if st.FstabLine != "" {
		planRemoveFstabLine(p, st.FstabLine)
	}
	if st.Runtime {
		planUndoResume(p, st)
	}
	planUndoSwap(p, st)
	p.add(removeRecord{})
	return p, nil
}

// Undo is PlanUndo carried out (with dryRun, only shown).
func Undo(fs sysfs.FS, sw Swapper, dryRun bool) (Result, error) {
	p, err := PlanUndo(fs)
	return carry(p, err, sw, dryRun)
}

// planUndoResume puts back this boot's resume device, if it is still setup's.
func planUndoResume(p *Plan, st *State) {
	cur, _ := p.fs.ReadString("sys/power/resume")
	if cur != st.DevT {
		return
	}
	off := st.PrevOffset
	if off == "" {
		off = "0"
	}
	p.add(writeSysfs{name: "sys/power/resume_offset", value: off})
	if st.PrevResume != "" && st.PrevResume != "0:0" && st.PrevResume != st.DevT {
		p.add(writeSysfs{name: "sys/power/resume", value: st.PrevResume})
	} else {
		p.note("/sys/power/resume keeps %s until reboot (the kernel takes no 0:0); hibernation would still use this swap if it stays active", cur)
	}
}

// planUndoSwap deactivates the swap if setup activated it, and takes away what setup made.
func planUndoSwap(p *Plan, st *State) {
	if active, _ := isActive(p.fs, st.target()); active && st.Activated {
		p.add(swapoff{path: st.target()})
	}
	if st.MadeFile && p.fs.Exists(strings.TrimPrefix(st.File, "/")) {
		p.add(removeFile{path: st.File})
	}
	if st.Disk != "" && st.Partition > 0 {
		p.add(removePartition{disk: st.Disk, index: st.Partition})
	}
	if st.MadeArea && len(st.OldPage0) == swsusp.PageSize {
		p.add(restorePage0{st: st})
	}
}

// writeSysfs writes one file of /sys.
type writeSysfs struct{ name, value string }

func (a writeSysfs) String() string      { return fmt.Sprintf("write %s to /%s", a.value, a.name) }
func (a writeSysfs) apply(r *work) error { return r.fs.WriteString(a.name, a.value) }

type swapoff struct{ path string }

func (a swapoff) String() string      { return "swapoff " + a.path }
func (a swapoff) apply(r *work) error { return r.sw.Swapoff(a.path) }

// removePartition takes the partition setup made out of the disk's GPT.
type removePartition struct {
	disk  string
	index int
}

func (a removePartition) String() string {
	return fmt.Sprintf("remove partition %d (%s) from %s", a.index, NewPartitionName, a.disk)
}
func (a removePartition) apply(r *work) error { return removeNewPartition(r.fs, a.disk, a.index) }

// restorePage0 puts back the first page of the partition setup made a swap area.
type restorePage0 struct{ st *State }

func (a restorePage0) String() string {
	return "put back the first page of " + a.st.Device + " as it was before mkswap"
}
func (a restorePage0) apply(r *work) error { return putBackPage0(r.fs, a.st) }

// removeRecord removes setup's record, once everything it names is taken back.
type removeRecord struct{}

func (removeRecord) String() string          { return "remove /" + StateName }
func (removeRecord) afterFailure(*work) bool { return false }
func (removeRecord) apply(r *work) error     { return os.Remove(r.fs.Path(StateName)) }

// putBackPage0 writes the saved first page back, only over the swap area setup made.
func putBackPage0(fs sysfs.FS, st *State) error {
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
