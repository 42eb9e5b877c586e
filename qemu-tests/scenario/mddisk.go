package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/debroot"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The md RAID1 root: the Debian installer's "RAID1 of two disks" for /, one partition on each
// disk (vda1, vdb1), an md array of metadata 1.2 over both, ext4 on the array. The guest boots
// without a boot loader, so /boot is on it too. Like the encrypted disk, it is laid out in the
// tools guest (the host must not assemble md arrays), from the root file system made on the
// host (guestdisk, mke2fs -d), and cached (diskCache).

// MD is how the md RAID1 pair was laid out.
type MD struct {
	Members  []string // the partitions in the guest: /dev/vda1 /dev/vdb1
	Level    string   // raid1
	Metadata string   // 1.2
	Name     string   // the array's name in its superblock, homehost:N as the installer names it
	UUID     string   // the array's UUID, as mdadm --detail prints it
	FSUUID   string   // the ext4 on the array: the guest's root=UUID=
	RootMiB  int      // the ext4's size
	Layouts  [2]guestdisk.Layout
	// What the build took (the tools guest's wall time, power on to off) and its e2image;
	// Cached is true when the disks came from the cache.
	BuildTime, CopyTime time.Duration
	Cached              bool
	Second              string `json:"-"` // the copy of the second disk made for the caller
}

// The md disks' constants: the root of DebianSystemd guests (a 2048 MiB disk less the swap),
// each member the root, the superblock and the data offset mdadm leaves before the data (about
// 1 MiB for a member this size), with room to spare; each disk a member and the GPT's two MiB.
const (
	mdRootMiB   = 1536
	mdMemberMiB = mdRootMiB + 8
	mdDiskMiB   = mdMemberMiB + 2
	mdHomehost  = "hibernate-debian" // the guest's hostname (debroot.SystemdGuest)
	mdDevice    = "/dev/md0"         // in the tools guest; the guest's initramfs names it its own way
)

// mdRecipe names the way the disks are made: change it with the commands.
const mdRecipe = "md-raid1-1.2-assume-clean/ext4/e2image/1"

var mdCache = diskCache{name: "mddisk", keep: 2}

// mdDisksFor writes to dst1 and dst2 (sparse) the two disks of the md RAID1 holding tree, made
// by the tools guest or copied from the cache.
func mdDisksFor(ctx context.Context, a Artifacts, tree, dst1, dst2 string, say func(string, ...any)) (*MD, error) {
	params := MD{Members: []string{"/dev/vda1", "/dev/vdb1"}, Level: "raid1", Metadata: "1.2", Name: mdHomehost + ":0", RootMiB: mdRootMiB}
	key, err := toolsDiskKey(a, mdRecipe, struct {
		MD   MD
		Disk int
	}{params, mdDiskMiB}, tree)
	if err != nil {
		return nil, err
	}
	md := &MD{}
	cached, err := mdCache.get(ctx, key, md, func() bool { return md.UUID != "" && md.FSUUID != "" }, func(ctx context.Context, entry string) error {
		*md = params
		return buildMDDisks(ctx, a, tree, entry, md, say)
	}, map[string]string{"disk1.img": dst1, "disk2.img": dst2}, say)
	if err != nil {
		return nil, err
	}
	if cached {
		md.Cached = true
		say("md RAID1 disks from the cache, %s (made in %s)", filepath.Join(mdCache.dir(), key), md.BuildTime.Round(100*time.Millisecond))
	}
	md.Second = dst2
	return md, nil
}

// buildMDDisks lays the pair out in the tools guest: it boots with the two blank disks (vda,
// vdb: GPT of one partition each, made here) and the root file system made from tree (vdc,
// read-only), creates the array over vda1 and vdb1 (--assume-clean: both blank disks read as
// zeros, so they are in sync, and no resync runs under emulation at every boot), copies the
// root file system into it, checks it, stops the array and powers off.
func buildMDDisks(ctx context.Context, a Artifacts, tree, entry string, md *MD, say func(string, ...any)) error {
	for i, name := range []string{"disk1.img", "disk2.img"} {
		var err error
		if md.Layouts[i], err = guestdisk.Blank(guestdisk.Spec{Path: filepath.Join(entry, name), SizeMiB: mdDiskMiB}); err != nil {
			return err
		}
	}
	rootImg := filepath.Join(entry, "root.img")
	fs, err := guestdisk.Build(guestdisk.Spec{Path: rootImg, SizeMiB: mdRootMiB + 2, RootSizeMiB: mdRootMiB, RootTree: tree, RootLabel: debroot.RootLabel})
	if err != nil {
		return fmt.Errorf("the root file system for the md RAID1: %w", err)
	}
	defer os.Remove(rootImg)
	md.FSUUID = fs.RootFSUUID
	start := time.Now()
	g, err := bootToolsGuest(ctx, a, "md-disk-builder", []harness.Disk{{Path: filepath.Join(entry, "disk1.img")},
		{Path: filepath.Join(entry, "disk2.img")}, {Path: rootImg, ReadOnly: true}}, say)
	if g != nil {
		defer g.vm.Kill()
	}
	if err != nil {
		return err
	}
	say("tools guest up %s after power on: %s", time.Since(start).Round(100*time.Millisecond), g.vm.ConsoleLogPath())
	if err := g.checkSizes(ctx, map[string]int64{"vda1": md.Layouts[0].RootSize, "vdb1": md.Layouts[1].RootSize, "vdc1": int64(mdRootMiB) << 20}); err != nil {
		return err
	}
	create := []string{"/sbin/mdadm", "--create", mdDevice, "--run", "--level=" + md.Level, "--raid-devices=2", "--metadata=" + md.Metadata,
		"--assume-clean", "--homehost=" + mdHomehost, "--name=0"}
	if _, err := g.run(ctx, append(create, md.Members...)...); err != nil {
		return err
	}
	r, err := g.run(ctx, "/sbin/mdadm", "--detail", "--export", mdDevice)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	md.UUID = env["MD_UUID"]
	if env["MD_LEVEL"] != md.Level || env["MD_METADATA"] != md.Metadata || env["MD_DEVICES"] != "2" || env["MD_NAME"] != md.Name || md.UUID == "" {
		return g.vm.Fail("mdadm --detail --export %s:\n%s\nwant %s of 2 devices, metadata %s, named %s", mdDevice, r.Stdout, md.Level, md.Metadata, md.Name)
	}
	size, err := g.partitionBytes(ctx, filepath.Base(mdDevice))
	if err != nil {
		return err
	}
	if size < int64(mdRootMiB)<<20 {
		return g.vm.Fail("%s has %d bytes, less than the %d MiB root file system", mdDevice, size, mdRootMiB)
	}
	say("mdadm --create %s: %s of %s, metadata %s, UUID %s, %d MiB", mdDevice, md.Level, strings.Join(md.Members, " "), md.Metadata, md.UUID, size>>20)
	if md.CopyTime, err = g.copyRoot(ctx, "/dev/vdc1", mdDevice); err != nil {
		return err
	}
	if st, err := g.vm.ReadFile(ctx, "/proc/mdstat"); err != nil || !strings.Contains(string(st), "[UU]") {
		return g.vm.Fail("/proc/mdstat does not show both halves in sync (%v):\n%s", err, st)
	}
	if _, err := g.run(ctx, "/sbin/mdadm", "--stop", mdDevice); err != nil {
		return err
	}
	if err := g.powerOff(ctx); err != nil {
		return err
	}
	md.BuildTime = time.Since(start)
	say("md RAID1 disks made in %s (array UUID %s, ext4 UUID %s)", md.BuildTime.Round(100*time.Millisecond), md.UUID, md.FSUUID)
	return nil
}
