package scenario

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
)

// Clone copies a hibernated machine's disk (sparsely) for one trial, so that one hibernation
// serves several scenarios: each boots its own copy of the same image. A firmware guest's copy
// has its own copy of the UEFI variable store too, as it was at the hibernation (the boot of one
// copy writes its variables: HibernateLocation cleared, the firmware's own).
func (m *Machine) Clone(name string) (*Machine, error) {
	c := *m
	c.Config.Name = name
	c.Summary.Logs = append([]string(nil), m.Summary.Logs...)
	dir := filepath.Join(m.Artifacts.WorkDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c.Guest.Disk = filepath.Join(dir, "disk.img")
	if err := guestdisk.CopySparse(c.Guest.Disk, m.Guest.Disk); err != nil {
		return nil, fmt.Errorf("copy %s: %w", m.Guest.Disk, err)
	}
	if fw := m.Guest.Firmware; fw != nil && fw.Vars != "" {
		own := *fw
		own.Vars = filepath.Join(dir, filepath.Base(fw.Vars))
		if err := copyFile(fw.Vars, own.Vars, 0o644); err != nil {
			return nil, fmt.Errorf("copy the UEFI variable store %s: %w", fw.Vars, err)
		}
		c.Guest.Firmware = &own
	}
	return &c, nil
}

// HostHibernate runs the hibernate binary on the host (inspect, discard: commands that read or
// write the disk image file, never the host's own devices).
func (m *Machine) HostHibernate(args ...string) (string, int, error) {
	cmd := exec.Command(m.Artifacts.Hibernate, args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// FlipBytes changes n bytes at the given page of the swap partition, on the host.
func (m *Machine) FlipBytes(page uint64, off int64, n int) error {
	f, err := os.OpenFile(m.Guest.Disk, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	at := m.Guest.Layout.SwapStart + int64(page)*swsusp.PageSize + off
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
