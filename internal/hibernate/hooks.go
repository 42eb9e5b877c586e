package hibernate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// HookDirs are where hooks live, first the one that wins when two hold the same name (as
// systemd's /etc/systemd/system-sleep overrides /usr/lib/systemd/system-sleep).
var HookDirs = []string{"/etc/hibernate/hooks.d", "/etc/systemd/system-sleep", "/usr/lib/systemd/system-sleep"}

// DefaultHookTimeout bounds each hook's run.
const DefaultHookTimeout = 30 * time.Second

// hookOutputLimit is how much of a hook's output is kept.
const hookOutputLimit = 4096

// HookRun is one run of one hook.
type HookRun struct {
	Path     string        `json:"path"` // as on the machine (without the root prefix)
	Args     []string      `json:"args"` // pre hibernate, post hibernate
	Exit     int           `json:"exit"` // -1 when it did not exit by itself (timeout, signal, not started)
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Err      string        `json:"error,omitempty"`
}

// OK says the hook ran and exited 0.
func (h HookRun) OK() bool { return h.Err == "" && h.Exit == 0 }

func (h HookRun) String() string {
	s := fmt.Sprintf("%s %s", h.Path, strings.Join(h.Args, " "))
	switch {
	case h.Err != "":
		s += ": " + h.Err
	case h.Exit != 0:
		s += fmt.Sprintf(": exit %d", h.Exit)
	default:
		s += ": ok"
	}
	if out := strings.TrimSpace(h.Output); out != "" && !h.OK() {
		s += "; output: " + out
	}
	return s
}

// findHooks lists the executable hooks below the root, ordered by file name across all folders
// (as systemd orders them); of two with one name, the first folder's wins. A hook that someone
// other than the machine's owner (root: the owner of /) could have changed is not run, as it
// would run as root: it is in refused, with the reason and the fix.
func findHooks(fs sysfs.FS) (hooks, refused []string, err error) {
	owner, err := fs.RootOwner()
	if err != nil {
		return nil, nil, fmt.Errorf("hooks: %w", err)
	}
	byName := map[string]string{}
	for _, dir := range HookDirs {
		ents, err := os.ReadDir(fs.Path(strings.TrimPrefix(dir, "/")))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("hooks: %w", err)
		}
		for _, e := range ents {
			if _, seen := byName[e.Name()]; seen || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := path.Join(dir, e.Name())
			st, err := os.Stat(fs.Path(strings.TrimPrefix(p, "/"))) // follows links, as exec does
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
				// systemd skips what it cannot run, and so do we; a name taken by a
				// non-executable (a link to /dev/null) masks the hooks of later folders.
				byName[e.Name()] = ""
				continue
			}
			if why := unsafeHook(fs, p, owner); why != "" {
				byName[e.Name()] = ""
				refused = append(refused, why)
				continue
			}
			byName[e.Name()] = p
		}
	}
	var names []string
	for n, p := range byName {
		if p != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		hooks = append(hooks, byName[n])
	}
	return hooks, refused, nil
}

// unsafeHook says why the hook at p (as on the machine) must not run as root, or "": the hook,
// what a link points to, and the folder holding it must belong to owner and be writable by no
// one else.
func unsafeHook(fs sysfs.FS, p string, owner uint32) string {
	for _, q := range []string{p, path.Dir(p)} {
		real := fs.Path(strings.TrimPrefix(q, "/"))
		st, err := os.Stat(real)
		if err != nil {
			return fmt.Sprintf("%s: not run: %v", p, err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		switch {
		case !ok:
			return fmt.Sprintf("%s: not run: cannot read the owner of %s", p, q)
		case sys.Uid != owner:
			return fmt.Sprintf("%s: not run: %s belongs to uid %d, not root, and would run as root (fix: chown root %s)", p, q, sys.Uid, q)
		case st.Mode().Perm()&0o022 != 0:
			return fmt.Sprintf("%s: not run: %s is writable by group or others (mode %04o), and would run as root (fix: chmod go-w %s)", p, q, st.Mode().Perm(), q)
		}
	}
	return ""
}

// sleepAction is the verb systemd passes hooks for a hibernation in this mode.
func sleepAction(mode string) string {
	if mode == "suspend" {
		return "hybrid-sleep"
	}
	return "hibernate"
}

// runHook runs one hook as systemd-sleep does: argv phase action, SYSTEMD_SLEEP_ACTION=env
// (action where env is ""; for suspend-then-hibernate, the step under way: suspend, hibernate or
// suspend-after-failed-hibernate), stdin /dev/null, in its own process group, killed with the
// group at the timeout.
func runHook(fs sysfs.FS, p, phase, action, env string, timeout time.Duration) HookRun {
	if env == "" {
		env = action
	}
	r := HookRun{Path: p, Args: []string{phase, action}, Exit: -1}
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The output goes to a file, not a pipe: a hook may leave a child behind that keeps its
	// output open (a daemon it restarted), and the hook is done when it exits, as for systemd.
	out, err := os.CreateTemp("", "hibernate-hook-*")
	if err != nil {
		r.Err = fmt.Sprintf("not run: a file for its output: %v", err)
		return r
	}
	defer out.Close()
	_ = os.Remove(out.Name())
	cmd := exec.CommandContext(ctx, fs.Path(strings.TrimPrefix(p, "/")), phase, action)
	cmd.Env = append(os.Environ(), "SYSTEMD_SLEEP_ACTION="+env)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	err = cmd.Run()
	r.Duration = time.Since(start)
	head := make([]byte, hookOutputLimit)
	n, _ := out.ReadAt(head, 0)
	r.Output = string(head[:n])
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		r.Err = fmt.Sprintf("killed after the %s timeout", timeout)
	case errors.As(err, &ee) && ee.Exited():
		r.Exit = ee.ExitCode()
	case err != nil:
		r.Err = err.Error()
	default:
		r.Exit = 0
	}
	return r
}

// kernelLog reads the kernel's log records through the root prefix, message text only.
func kernelLog(fs sysfs.FS) ([]string, error) {
	recs, err := kernelRecords(fs)
	return messages(recs), err
}

// messages are the records' texts.
func messages(recs []logRecord) []string {
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = r.Msg
	}
	return lines
}

// kernelRecords reads the kernel's log records through the root prefix (/dev/kmsg, one record a
// read, without blocking at its end; a plain file in tests), each with its time.
func kernelRecords(fs sysfs.FS) ([]logRecord, error) {
	// Raw syscalls: an *os.File of a non-blocking descriptor waits in Go's poller at EAGAIN,
	// which at the end of /dev/kmsg is forever (seen in a guest: hibernate now hung there).
	fd, err := syscall.Open(fs.Path("dev/kmsg"), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var recs []logRecord
	buf := make([]byte, 16<<10)
	for i := 0; i < 1<<20; i++ {
		n, err := syscall.Read(fd, buf)
		n = max(n, 0)
		for _, l := range strings.Split(string(buf[:n]), "\n") {
			if l == "" || strings.HasPrefix(l, " ") { // a record's continuation (SUBSYSTEM=...)
				continue
			}
			recs = append(recs, parseKmsgRecord(l))
		}
		switch {
		case errors.Is(err, syscall.EPIPE): // records overwritten while reading: go on
		case err != nil || n == 0:
			return recs, nil
		}
	}
	return recs, nil
}

// parseKmsgRecord reads one /dev/kmsg record, "prio,seq,usec,flags;message"; a line without
// that header is a message without a time.
func parseKmsgRecord(l string) logRecord {
	hdr, msg, ok := strings.Cut(l, ";")
	f := strings.Split(hdr, ",")
	if !ok || len(f) < 4 {
		return logRecord{At: -1, Msg: l}
	}
	usec, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || usec < 0 {
		return logRecord{At: -1, Msg: msg}
	}
	return logRecord{At: time.Duration(usec) * time.Microsecond, Msg: msg}
}

// restoreFromLog finds, in the kernel log after our last line before the write of disk, how long
// the kernel took to read the image back: "PM: hibernation: Read N kbytes in X seconds".
// The booting kernel prints it, and its log is gone once the image runs, so most kernels' logs
// after the resume lack it (6.1 in the guests does); then ok is false. A test_resume (the
// canary) loses it too: the same kernel reads the image back, and the memory it restores holds
// the log as it was before the write (seen on 6.12: the lines reach the console, not the log).
func restoreFromLog(lines []string) (d time.Duration, line string, ok bool) {
	return speedFromLog(lines, "Read")
}

// writeFromLog is the kernel's line of the image written: "PM: hibernation: Wrote N kbytes in
// X seconds", where the log after the return has it (a kernel whose restore keeps its log; none
// seen here, see restoreFromLog).
func writeFromLog(lines []string) (d time.Duration, line string, ok bool) {
	return speedFromLog(lines, "Wrote")
}

// speedFromLog finds the kernel's swsusp_show_speed line of verb (Read, Wrote) after our line
// before the write of disk.
func speedFromLog(lines []string, verb string) (d time.Duration, line string, ok bool) {
	start := 0
	for i, l := range lines {
		if strings.Contains(l, writeDiskLine) {
			start = i + 1
		}
	}
	for _, l := range lines[start:] {
		i := strings.Index(l, "PM: hibernation: "+verb+" ")
		if i < 0 {
			i = strings.Index(l, "PM: "+verb+" ")
		}
		if i < 0 {
			continue
		}
		var kb int64
		var secs float64
		rest := l[i:]
		if _, err := fmt.Sscanf(rest[strings.Index(rest, verb+" "):], verb+" %d kbytes in %g seconds", &kb, &secs); err == nil {
			return time.Duration(secs * float64(time.Second)), strings.TrimSpace(rest), true
		}
	}
	return 0, "", false
}
