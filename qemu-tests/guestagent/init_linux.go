package guestagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountSpec is one file system PID 1 needs.
type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// pid1Mounts are mounted by the agent when it is PID 1, unless already there (an initramfs that
// switch_root'ed into the agent's root moved /dev, /proc, /sys and /run over).
var pid1Mounts = []mountSpec{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
}

// isMountpoint reports whether dir is on another device than its parent.
func isMountpoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// setupPID1 mounts what is missing of pid1Mounts. It never fails: what it cannot mount is
// reported and left out, and the agent goes on.
func setupPID1(logf func(string, ...any)) {
	for _, m := range pid1Mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			logf("mkdir %s: %v", m.target, err)
			continue
		}
		if isMountpoint(m.target) {
			continue
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			logf("%v", fmt.Errorf("mount(%q, %q, %q, %#x, %q): %w", m.source, m.target, m.fstype, m.flags, m.data, err))
		}
	}
}
