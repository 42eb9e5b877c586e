package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// Initrd is one initramfs under test.
type Initrd struct {
	Name      string // ours, initramfs-tools (most), …
	Path      string
	Generator string // the generator and its version
	Cold      time.Duration
	Warm      time.Duration
	Packed    int64 // bytes on disk
	Unpacked  int64 // bytes of the cpio archives inside
	Err       error // why it is missing, when Path is empty
}

// peerRoots are the chroots the peers build in.
type peerRoots struct {
	tools, dracut debroot.KernelRoot
	versions      map[string]string // package -> version, both roots
}

// ensurePeerRoots makes (once, cached) the two Debian 12 roots with the kernel package the guests
// boot installed by dpkg, and checks that their linux-image is that very version.
func ensurePeerRoots(ctx context.Context, a scenario.Artifacts, log io.Writer) (peerRoots, error) {
	var p peerRoots
	p.versions = map[string]string{}
	for _, r := range []struct {
		spec debroot.Spec
		dst  *debroot.KernelRoot
		gen  string
	}{{debroot.InitramfsToolsPeer(), &p.tools, "initramfs-tools"}, {debroot.DracutPeer(), &p.dracut, "dracut"}} {
		k, err := kernelRoot(ctx, a, r.spec, log)
		if err != nil {
			return p, err
		}
		*r.dst = k
		v, err := debroot.DpkgVersions(k.Dir, "linux-image-", r.gen, "udev", "systemd")
		if err != nil {
			return p, err
		}
		if got := v["linux-image-"+a.Kernel.Release]; got != a.Kernel.Version {
			return p, fmt.Errorf("%s has linux-image-%s %q, the guests boot %s", k.Dir, a.Kernel.Release, got, a.Kernel.Version)
		}
		for pk, ver := range v {
			p.versions[pk] = ver
		}
	}
	return p, nil
}

// buildPeers builds the peers' initrds for the kernel the guests boot, told resume (UUID=…), each
// twice (cold: the first build of this run; warm: the same again at once).
func buildPeers(ctx context.Context, a scenario.Artifacts, p peerRoots, resume, ourInitrd, outDir string, log io.Writer) ([]Initrd, time.Duration) {
	rel := a.Kernel.Release
	var out []Initrd
	// initramfs-tools, MODULES=most (Debian's default) and MODULES=dep, each with the resume
	// device in conf.d as a user's system has it. MODULES=dep reads the running system, so it
	// is built in a guest booted from the peer root (its time is the guest's, reported apart).
	for _, mode := range []string{"most"} {
		in := Initrd{Name: "initramfs-tools (MODULES=" + mode + ")", Generator: "initramfs-tools " + p.versions["initramfs-tools"]}
		in.Path = filepath.Join(outDir, "initrd-initramfs-tools-"+mode+".img")
		var err error
		in.Cold, in.Warm, err = twice(func() error { return buildTools(ctx, p.tools.Dir, mode, resume, rel, in.Path, log) })
		if err != nil {
			in.Path, in.Err = "", err
		}
		out = append(out, in)
	}
	dep, depTook := buildToolsDepInGuest(ctx, a, p, resume, ourInitrd, outDir, log)
	out = append(out, dep)
	in := Initrd{Name: "dracut", Generator: "dracut " + p.versions["dracut"], Path: filepath.Join(outDir, "initrd-dracut.img")}
	var err error
	in.Cold, in.Warm, err = twice(func() error {
		return debroot.Chroot(ctx, p.dracut.Dir, log, "dracut", "--force", "--no-hostonly", "--add", "resume", "--kver", rel, "/tmp/bench-initrd.img")
	})
	if err == nil {
		err = moveOut(filepath.Join(p.dracut.Dir, "tmp/bench-initrd.img"), in.Path)
	}
	if err != nil {
		in.Path, in.Err = "", err
	}
	return append(out, in), depTook
}

// buildTools runs mkinitramfs in the peer root for kernel rel, with MODULES=mode and RESUME=resume
// (writePeerConf), and moves the initramfs out to out.
func buildTools(ctx context.Context, root, mode, resume, rel, out string, log io.Writer) error {
	conf := filepath.Join("etc/initramfs-tools-bench-" + mode)
	if err := writePeerConf(root, conf, mode, resume); err != nil {
		return err
	}
	if err := debroot.Chroot(ctx, root, log, "mkinitramfs", "-d", "/"+conf, "-o", "/tmp/bench-initrd.img", rel); err != nil {
		return err
	}
	return moveOut(filepath.Join(root, "tmp/bench-initrd.img"), out)
}

// writePeerConf makes an initramfs-tools configuration folder (a copy of /etc/initramfs-tools
// with MODULES=mode and RESUME=resume) for mkinitramfs -d.
func writePeerConf(root, conf, mode, resume string) error {
	dst := filepath.Join(root, conf)
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(root, "etc/initramfs-tools"), dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a: %w: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dst, "conf.d/resume"), []byte("RESUME="+resume+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "conf.d/zz-bench-modules"), []byte("MODULES="+mode+"\n"), 0o644)
}

func twice(f func() error) (cold, warm time.Duration, err error) {
	t := time.Now()
	if err = f(); err != nil {
		return
	}
	cold = time.Since(t)
	t = time.Now()
	err = f()
	warm = time.Since(t)
	return
}

func moveOut(src, dst string) error {
	if out, err := exec.Command("mv", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("mv %s %s: %w: %s", src, dst, err, out)
	}
	return nil
}

// buildOurs times `hibernate initramfs build` for the same kernel: cold (first build, new
// output) and warm (the same again), and returns the initrd the guest boots.
func buildOurs(ctx context.Context, a scenario.Artifacts, guestInitrd, outDir string) Initrd {
	in := Initrd{Name: "ours", Path: guestInitrd, Generator: "hibernate " + hibernateVersion(a)}
	out := filepath.Join(outDir, "initrd-ours-rebuilt.img")
	var err error
	in.Cold, in.Warm, err = twice(func() error {
		cmd := exec.CommandContext(ctx, a.Hibernate, "initramfs", "build", "--kernel-release", a.Kernel.Release,
			"--modules", a.Kernel.ModulesDir, "--base", a.Base, "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %w\n%s", cmd.Args, err, b)
		}
		return nil
	})
	if err != nil {
		in.Err = err
	}
	return in
}

func hibernateVersion(a scenario.Artifacts) string {
	b, err := exec.Command(a.Hibernate, "--version").CombinedOutput()
	if err != nil {
		return "?"
	}
	return firstLine(string(b))
}
