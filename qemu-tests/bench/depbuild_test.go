package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// TestDepBuildInGuest builds the MODULES=dep peer alone, as make bench does (minutes: it boots a
// guest that runs mkinitramfs). Only with HIBERNATE_BENCH=1.
func TestDepBuildInGuest(t *testing.T) {
	if os.Getenv("HIBERNATE_BENCH") != "1" {
		t.Skip("HIBERNATE_BENCH=1 runs it (make bench runs the whole benchmark)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := scenario.FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	a, err := scenario.Discover(root, scenario.DefaultFlavour)
	if err != nil {
		t.Fatal(err)
	}
	a.WorkDir = filepath.Join(root, "build/bench")
	p, err := ensurePeerRoots(ctx, a, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(t.TempDir(), "initrd")
	if out, err := runHibernate(ctx, a, "initramfs", "build", "--kernel-release", a.Kernel.Release, "--modules", a.Kernel.ModulesDir, "--base", a.Base, "--out", ours); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	in, took := buildToolsDepInGuest(ctx, a, p, "UUID=00000000-0000-4000-8000-000000000000", ours, t.TempDir(), os.Stderr)
	if in.Err != nil {
		t.Fatal(in.Err)
	}
	packed, unpacked, err := Sizes(in.Path)
	t.Logf("MODULES=dep: %s, %d bytes (%d unpacked, %v), built in %s in the guest", in.Path, packed, unpacked, err, took)
}
