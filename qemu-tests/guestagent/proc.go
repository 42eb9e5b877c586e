package guestagent

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultPath is the PATH commands get when neither the agent's environment nor the request sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// reaper is the only waiter for child processes. As PID 1 the agent must reap every orphan that
// is re-parented to it, and a wait4(-1) loop would steal the exit status from os/exec's Wait. So
// nothing here uses exec.Cmd.Wait: processes are started through the reaper, which hands the
// status of the ones it started for exec to their waiter and drops all others.
type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
	sigs    chan os.Signal
}

// processReaper is the one reaper of this process: wait4(-1) collects every child of the process,
// so two reapers would take each other's children.
var processReaper = sync.OnceValue(func() *reaper {
	r := &reaper{waiting: map[int]chan unix.WaitStatus{}, sigs: make(chan os.Signal, 1)}
	signal.Notify(r.sigs, unix.SIGCHLD)
	go func() {
		for range r.sigs {
			r.reapAll()
		}
	}()
	return r
})

// reapAll collects every child that has exited. SIGCHLD is coalesced (the channel holds one), so
// one signal may stand for many exits; a child exiting after the last wait4 raises a new one.
func (r *reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		// start holds mu from fork to registration, so a child that exits at once is found here.
		r.mu.Lock()
		ch, ok := r.waiting[pid]
		delete(r.waiting, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
	}
}

// start starts a process. With wait set it returns a channel that gets its exit status;
// otherwise the process is reaped and forgotten.
func (r *reaper) start(argv0 string, argv []string, attr *os.ProcAttr, wait bool) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv0, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	pid := p.Pid
	_ = p.Release() // the reaper waits, not os.Process
	if !wait {
		return pid, nil, nil
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

// exitCode turns a wait status into a shell-style exit code: the status, or 128+signal.
func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return -1
}

// mergeEnv returns base with the KEY=VALUE entries of extra replacing or added, and PATH set to
// DefaultPath if neither has one.
func mergeEnv(base, extra []string) []string {
	var keys []string
	vals := map[string]string{}
	add := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = kv
	}
	for _, kv := range base {
		add(kv)
	}
	for _, kv := range extra {
		add(kv)
	}
	if _, ok := vals["PATH"]; !ok {
		add("PATH=" + DefaultPath)
	}
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, vals[k])
	}
	return env
}

// envValue returns the value of key in env.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath finds file in the colon-separated path, like exec.LookPath but with the command's own
// PATH rather than the agent's.
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: not found in PATH=%s", file, path)
}
