package swapsetup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

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
