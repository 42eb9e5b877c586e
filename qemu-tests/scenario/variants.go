package scenario

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Clone copies a hibernated guest's disk (sparsely) for one trial, so that one hibernation serves
// several scenarios: each boots its own copy of the same image.
func (h *Hibernated) Clone(name string) (*Hibernated, error) {
	c := *h
	c.Options.Name = name
	c.Summary.Logs = append([]string(nil), h.Summary.Logs...)
	dir := filepath.Join(h.Artifacts.WorkDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c.Guest.Disk = filepath.Join(dir, "disk.img")
	if err := guestdisk.CopySparse(c.Guest.Disk, h.Guest.Disk); err != nil {
		return nil, fmt.Errorf("copy %s: %w", h.Guest.Disk, err)
	}
	return &c, nil
}

// Boot powers on the guest with the base command line plus extra, and waits until /init has
// handed over to the guest's init (the agent answers). It does not expect a resume.
func (h *Hibernated) Boot(ctx context.Context, extra string) (*harness.VM, harness.AgentInfo, error) {
	vm, err := harness.Start(ctx, h.Spec(strings.TrimSpace(h.BaseCmdline()+" "+extra)))
	if err != nil {
		return nil, harness.AgentInfo{}, err
	}
	h.Summary.Logs = append(h.Summary.Logs, vm.ConsoleLogPath())
	h.say("power on (%s): %s", extra, vm.ConsoleLogPath())
	info, err := vm.Ping(ctx)
	return vm, info, err
}

// HostHibernate runs the hibernate binary on the host (inspect, discard: commands that read or
// write the disk image file, never the host's own devices).
func (h *Hibernated) HostHibernate(args ...string) (string, int, error) {
	cmd := exec.Command(h.Artifacts.Hibernate, args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// FlipBytes changes n bytes at the given page of the swap partition, on the host.
func (h *Hibernated) FlipBytes(page uint64, off int64, n int) error {
	f, err := os.OpenFile(h.Guest.Disk, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	at := h.Guest.Layout.SwapStart + int64(page)*swsusp.PageSize + off
	b := make([]byte, n)
	if _, err := f.ReadAt(b, at); err != nil {
		return err
	}
	for i := range b {
		b[i] ^= 0xff
	}
	_, err = f.WriteAt(b, at)
	return err
}
