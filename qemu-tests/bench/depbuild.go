package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

// depBuilder is the script the guest runs as its init to build the MODULES=dep initramfs: it
// needs the running system (its sysfs, its root device), so it cannot be built in a chroot.
// It writes a tar of the initrd, the log and the build's time to the second disk, then powers
// off. RELEASE and CONF are filled in.
const depBuilder = `#!/bin/sh
# Written by make bench (qemu-tests/bench/depbuild.go): the init of a guest booted from the
# initramfs-tools peer root, to build its MODULES=dep initramfs on the running system.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -o remount,rw /
mkdir -p /tmp/bench-out
start=$(cut -d' ' -f1 /proc/uptime)
mkinitramfs -d CONF -o /tmp/bench-out/initrd.img RELEASE >/tmp/bench-out/mkinitramfs.log 2>&1
echo "exit $?" >>/tmp/bench-out/mkinitramfs.log
end=$(cut -d' ' -f1 /proc/uptime)
echo "$start $end" >/tmp/bench-out/times
cd /tmp/bench-out && tar -cf /dev/vdb initrd.img mkinitramfs.log times
sync
echo o >/proc/sysrq-trigger
sleep 60
`

// buildToolsDepInGuest builds the initramfs-tools MODULES=dep initrd where mkinitramfs wants it
// built, on the running system: a guest booted (by our generic initrd, no resume) from a disk
// made of the peer root, with the trials' hardware (virtio-blk, ext4 root). Its build time is
// the guest's, under TCG: not comparable with the host builds, and reported apart.
func buildToolsDepInGuest(ctx context.Context, a scenario.Artifacts, p peerRoots, resume, ourInitrd, outDir string, log io.Writer) (Initrd, time.Duration) {
	rel := a.Kernel.Release
	in := Initrd{Name: "initramfs-tools (MODULES=dep)", Generator: "initramfs-tools " + p.versions["initramfs-tools"]}
	fail := func(err error) (Initrd, time.Duration) { in.Err = err; return in, 0 }
	conf := "etc/initramfs-tools-bench-dep"
	if err := writePeerConf(p.tools.Dir, conf, "dep", resume); err != nil {
		return fail(err)
	}
	script := strings.NewReplacer("CONF", "/"+conf, "RELEASE", rel).Replace(depBuilder)
	if err := os.WriteFile(filepath.Join(p.tools.Dir, "usr/local/sbin/bench-dep-build"), []byte(script), 0o755); err != nil {
		return fail(err)
	}
	work := filepath.Join(a.WorkDir, "dep-build")
	if err := os.RemoveAll(work); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(work)
	rootImg, outImg := filepath.Join(work, "root.img"), filepath.Join(work, "out.img")
	for _, c := range [][]string{
		{"truncate", "-s", "2G", rootImg},
		{"mkfs.ext4", "-q", "-F", "-L", "peerroot", "-d", p.tools.Dir, rootImg},
		{"truncate", "-s", "256M", outImg},
	} {
		if out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out))
		}
	}
	kernel, err := scenario.BootableKernel(a.Kernel.Image)
	if err != nil {
		return fail(err)
	}
	gctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	vm, err := harness.Start(gctx, harness.Spec{Name: "bench-dep-build", Kernel: kernel, Initrd: ourInitrd, MemoryMiB: 1024,
		Cmdline: "root=/dev/vda rw init=/usr/local/sbin/bench-dep-build", LogDir: a.LogDir,
		Disks: []harness.Disk{{Path: rootImg}, {Path: outImg}}})
	if err != nil {
		return fail(err)
	}
	defer vm.Kill()
	if _, err := vm.WaitExit(gctx); err != nil {
		return fail(fmt.Errorf("the guest building MODULES=dep (console %s): %w", vm.ConsoleLogPath(), err))
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xf", outImg, "-C", work).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("read the guest's output disk (console %s): %w: %s", vm.ConsoleLogPath(), err, out))
	}
	if b, err := os.ReadFile(filepath.Join(work, "mkinitramfs.log")); err == nil {
		fmt.Fprintf(log, "--- mkinitramfs MODULES=dep in the guest:\n%s", b)
		if !strings.Contains(string(b), "exit 0") {
			return fail(fmt.Errorf("mkinitramfs in the guest failed: %s", lastLine(string(b))))
		}
	}
	var took time.Duration
	if b, err := os.ReadFile(filepath.Join(work, "times")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			s, _ := strconv.ParseFloat(f[0], 64)
			e, _ := strconv.ParseFloat(f[1], 64)
			took = time.Duration((e - s) * float64(time.Second))
		}
	}
	in.Path = filepath.Join(outDir, "initrd-initramfs-tools-dep.img")
	if err := moveOut(filepath.Join(work, "initrd.img"), in.Path); err != nil {
		return fail(err)
	}
	return in, took
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func runHibernate(ctx context.Context, a scenario.Artifacts, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, a.Hibernate, args...).CombinedOutput()
}
