// Package scenario holds the end-to-end scenarios: guests built from what `make build` made
// (hibernate, its initramfs base, the guest agent, the demo job) and a Debian kernel, driven
// through the harness. The demo (cmd/hibernate-demo) and `make test` run the same code.
package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs/modules"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// Artifacts are the files a guest is made of.
type Artifacts struct {
	Root      string // the module root (for build/)
	Hibernate string // build/bin/hibernate
	Base      string // build/lib/hibernate/initramfs-base.cpio
	Agent     string // build/bin/hibernate-guest-agent
	DemoJob   string // build/bin/hibernate-demo-job
	Kernel    Kernel
	WorkDir   string // where disks and trees of this run go
	LogDir    string // where every guest's logs go
}

// The kernels the tests boot, named by suite so that they are the same on every host (a Debian 13
// machine's own apt sources would give Linux 6.12 for "amd64"): Debian 12's generic and cloud
// kernels of its point release, and Debian 13's (TrixieFlavour). make kernels fetches the three.
const (
	DefaultFlavour = "bookworm-amd64"
	CloudFlavour   = "bookworm-cloud-amd64"
	TrixieFlavour  = "trixie-amd64"
)

// Kernel is an unpacked Debian kernel package.
type Kernel struct {
	Release    string // 6.1.0-50-amd64
	Suite      string // the Debian suite it was fetched from (bookworm, trixie), "" for this machine's apt sources'
	Version    string // the package version, 6.1.176-1
	Image      string // boot/vmlinuz-R
	ModulesDir string // lib/modules/R, or usr/lib/modules/R (Debian 13's packages: merged /usr)
	Deb        string // the package it was unpacked from, in the cache's debs/ beside it ("" when gone)
}

// FindModuleRoot is the folder holding go.mod, above the working folder (harness.ModuleRoot).
func FindModuleRoot() (string, error) { return harness.ModuleRoot() }

// Discover finds the artifacts that `make build` left under root and qemu-tests/scripts/fetch-kernel.sh
// left in the test cache (testutil.KernelCache). flavour picks the kernel (amd64, cloud-amd64; trixie-amd64: see
// FindKernel). What is missing is named, with the command that makes it.
func Discover(root, flavour string) (Artifacts, error) {
	a := Artifacts{
		Root:      root,
		Hibernate: filepath.Join(root, "build/bin/hibernate"),
		Base:      filepath.Join(root, "build/lib/hibernate/initramfs-base.cpio"),
		Agent:     filepath.Join(root, "build/bin/hibernate-guest-agent"),
		DemoJob:   filepath.Join(root, "build/bin/hibernate-demo-job"),
		WorkDir:   filepath.Join(root, "build/guests"),
		LogDir:    filepath.Join(root, "build/test-logs"),
	}
	if d := os.Getenv("HIBERNATE_TEST_LOGS"); d != "" {
		a.LogDir = d
	}
	var missing []string
	for _, p := range []string{a.Hibernate, a.Base, a.Agent, a.DemoJob} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return a, fmt.Errorf("missing %s: run make build", strings.Join(missing, ", "))
	}
	k, err := FindKernel(testutil.KernelCache(), flavour)
	if err != nil {
		return a, err
	}
	a.Kernel = k
	return a, nil
}

// amd64Flavours are Debian's kernel flavours for amd64. A word before one of them names a
// Debian suite (trixie-amd64), as qemu-tests/scripts/fetch-kernel.sh reads it.
var amd64Flavours = []string{"amd64", "cloud-amd64", "rt-amd64"}

// SplitFlavour splits [SUITE-]FLAVOUR: "trixie-amd64" is Debian 13's amd64 kernel, "amd64" the
// one of this machine's own apt sources (suite ""), "cloud-amd64" a flavour with no suite. The
// tests boot suites' kernels only (DefaultFlavour).
func SplitFlavour(s string) (suite, flavour string) {
	if slices.Contains(amd64Flavours, s) {
		return "", s
	}
	if w, rest, ok := strings.Cut(s, "-"); ok && w != "" && slices.Contains(amd64Flavours, rest) {
		return w, rest
	}
	return "", s
}

// FindKernel picks the newest unpacked kernel of a flavour in the cache: [SUITE-]FLAVOUR, as
// fetch-kernel.sh unpacked it, into cache/R for this machine's own apt sources' kernels, into
// cache/SUITE/R for a suite's (trixie-amd64: Debian 13's 6.12). The two never mix: the
// machine's flavour finds none of a suite's kernels, whose releases could sort after its own.
func FindKernel(cache, flavour string) (Kernel, error) {
	suite, fl := SplitFlavour(flavour)
	dir := cache
	if suite != "" {
		dir = filepath.Join(cache, suite)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*-"+fl, ".done"))
	var dirs []string
	for _, m := range matches {
		d := filepath.Dir(m)
		// The amd64 pattern also matches the cloud-amd64 and rt-amd64 kernels: keep those out of it.
		if slices.ContainsFunc(amd64Flavours, func(f string) bool {
			return f != fl && strings.HasSuffix(f, "-"+fl) && strings.HasSuffix(filepath.Base(d), "-"+f)
		}) {
			continue
		}
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return Kernel{}, fmt.Errorf("no %s kernel in %s: run qemu-tests/scripts/fetch-kernel.sh %s", flavour, dir, flavour)
	}
	sort.Strings(dirs)
	d := dirs[len(dirs)-1]
	rel := filepath.Base(d)
	k := Kernel{Release: rel, Suite: suite, Image: filepath.Join(d, "boot", "vmlinuz-"+rel)}
	if v, err := os.ReadFile(filepath.Join(d, ".version")); err == nil {
		k.Version = strings.TrimSpace(string(v))
		if debs, _ := filepath.Glob(filepath.Join(dir, "debs", "linux-image-"+rel+"_"+k.Version+"_*.deb")); len(debs) == 1 {
			k.Deb = debs[0]
		}
	}
	if _, err := os.Stat(k.Image); err != nil {
		return k, fmt.Errorf("kernel %s: %w", rel, err)
	}
	var err error
	if k.ModulesDir, err = modules.FindDir(d, rel); err != nil {
		return k, fmt.Errorf("kernel %s: %w", rel, err)
	}
	return k, nil
}
