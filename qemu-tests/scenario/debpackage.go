package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// guestPackageDir is where the Debian guest finds the .deb (FromPackage).
const guestPackageDir = "/root"

// FindPackage is the .deb that make deb left in build/ (one; the newest), or an error saying so.
func FindPackage(a Artifacts) (string, error) {
	debs, _ := filepath.Glob(filepath.Join(a.Root, "build", "hibernate_*_amd64.deb"))
	if len(debs) == 0 {
		return "", fmt.Errorf("no build/hibernate_*_amd64.deb: run make deb (DEB_ALLOW_DIRTY=1 in a tree with changes)")
	}
	sort.Slice(debs, func(i, j int) bool { return modTime(debs[i]) > modTime(debs[j]) })
	return debs[0], nil
}

func modTime(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.ModTime().UnixNano()
}

// guestFiles lists every path of the guest's root file system (find -xdev: not /proc, /sys,
// /dev, /run, /tmp), for the before-and-after of a package's install and purge.
func guestFiles(ctx context.Context, vm *harness.VM) (map[string]bool, error) {
	r, err := run(ctx, vm, "find", "/", "-xdev")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		out[l] = true
	}
	return out, nil
}

// InstallPackage notes every file of the guest (for PurgePackage), then installs the .deb with
// apt (AptInstall).
func (m *Machine) InstallPackage(ctx context.Context, vm *harness.VM) error {
	var err error
	if m.filesBeforePackage, err = guestFiles(ctx, vm); err != nil {
		return err
	}
	return m.AptInstall(ctx, vm)
}

// AptInstall installs the .deb with apt, as a user does.
func (m *Machine) AptInstall(ctx context.Context, vm *harness.VM) error {
	deb := filepath.Join(m.packageDir(), filepath.Base(m.Config.Package))
	r, err := run(ctx, vm, "apt-get", "install", "-y", deb)
	if err != nil {
		return err
	}
	m.say("apt-get install %s:\n%s", deb, indent(r.Stdout+r.Stderr))
	return nil
}

// RemovePackage removes the package: its postrm must put the distribution's initramfs in place
// of ours. It notes the new initramfs's sha256 and syncs it to the disk, for UseGuestInitramfs.
func (m *Machine) RemovePackage(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "apt-get", "remove", "-y", "hibernate")
	if err != nil {
		return err
	}
	m.say("apt-get remove hibernate:\n%s", indent(r.Stdout+r.Stderr))
	if !strings.Contains(r.Stdout+r.Stderr, "making the distribution's") {
		return vm.Fail("apt-get remove did not rebuild the distribution's initramfs:\n%s%s", r.Stdout, r.Stderr)
	}
	if r, err = run(ctx, vm, "sha256sum", m.guestInitrdPath()); err != nil {
		return err
	}
	m.guestInitrdSum, _, _ = strings.Cut(strings.TrimSpace(r.Stdout), " ")
	_, err = run(ctx, vm, "sync")
	return err
}

// NotOurInitramfs checks that the initramfs the guest boots next is not hibernate's.
func (m *Machine) NotOurInitramfs(_ context.Context, _ *harness.VM) error {
	ic, err := m.inspectInitrd()
	if err != nil {
		return err
	}
	if ic.Ours() {
		return fmt.Errorf("%s is still hibernate's after the package's removal", m.Guest.Initrd)
	}
	what, _ := ic.ResumeSupport(m.Guest.Release)
	m.say("the guest's initramfs after the removal: %s (%s)", ic.Compression, what)
	return nil
}

// inspectInitrd reads the initramfs the guest boots next (Guest.Initrd) as hibernate check does.
func (m *Machine) inspectInitrd() (initramfs.Contents, error) {
	f, err := os.Open(m.Guest.Initrd)
	if err != nil {
		return initramfs.Contents{}, err
	}
	defer f.Close()
	ic, err := initramfs.Inspect(f)
	if err != nil {
		return ic, fmt.Errorf("%s: %w", m.Guest.Initrd, err)
	}
	return ic, nil
}

// PurgePackage purges the package and compares the guest's files with those before the
// install: none of ours may be left, and nothing else may have gone. Only what dpkg, apt and
// the system keep for themselves may differ.
func (m *Machine) PurgePackage(ctx context.Context, vm *harness.VM) error {
	r, err := run(ctx, vm, "apt-get", "purge", "-y", "hibernate")
	if err != nil {
		return err
	}
	m.say("apt-get purge hibernate:\n%s", indent(r.Stdout+r.Stderr))
	after, err := guestFiles(ctx, vm)
	if err != nil {
		return err
	}
	var left, gone []string
	for p := range after {
		if !m.filesBeforePackage[p] && !ownedBySystem(p) {
			left = append(left, p)
		}
	}
	for p := range m.filesBeforePackage {
		if !after[p] && !ownedBySystem(p) {
			gone = append(gone, p)
		}
	}
	sort.Strings(left)
	sort.Strings(gone)
	if len(left) > 0 || len(gone) > 0 {
		return vm.Fail("after the purge, new files %q, files gone %q", left, gone)
	}
	m.say("after the purge: the guest's %d files are those before the install (dpkg's and the system's own records aside)", len(after))
	return nil
}

// ownedBySystem says whether a path is one that dpkg, apt, systemd (its private /tmp folders), the logs or the demo keep
// changing on their own, whatever a package does.
func ownedBySystem(p string) bool {
	for _, prefix := range []string{"/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/", "/var/log/", "/var/lib/systemd/",
		"/var/tmp/", "/tmp/", "/var/lib/hibernate-demo/", "/etc/ld.so.cache", "/boot/initrd.img-"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
