package hibernate

import (
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The resume device's stack, as the installers make it: said, and refused where the next boot
// cannot bring it up.
func TestResumeStack(t *testing.T) {
	distro := func(tools ...string) func(tr *faketree.Tree) {
		return func(tr *faketree.Tree) {
			recs := []cpio.Record{cpio.StaticFile("init", "#!/bin/sh\n", 0o755), cpio.StaticFile("scripts/local-premount/resume", "", 0o755)}
			for _, tool := range tools {
				recs = append(recs, cpio.StaticFile(tool, "elf", 0o755))
			}
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "zstd", testutil.CPIO(t, recs...)))
		}
	}
	// ours is our initramfs with a config naming volumes, LVs and tools.
	ours := func(vols []config.Volume, lvs []string, tools map[string]string) func(tr *faketree.Tree) {
		return func(tr *faketree.Tree) {
			b, err := config.Config{KernelRelease: testRelease, Volumes: vols, LVs: lvs, Tools: tools}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			recs := []cpio.Record{cpio.Symlink("init", "bbin/hibernate-init"), cpio.StaticFile(config.Path, string(b), 0o644)}
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "zstd", testutil.CPIO(t, recs...)))
		}
	}
	both := map[string]string{"cryptsetup": "/usr/sbin/cryptsetup", "lvm": "/usr/sbin/lvm"}
	vdb3 := []config.Volume{{Name: "vdb3_crypt", Source: "UUID=0123"}}
	lvmOnLUKS := func(tr *faketree.Tree) {
		tr.Mapper(0, "vdb3_crypt", "CRYPT-LUKS2-0123-vdb3_crypt", "vdb3")
		tr.Mapper(1, "debian--vg-swap_1", "LVM-swap", "dm-0")
		tr.Write("sys/power/resume", "253:1\n")
		tr.Write("etc/crypttab", "vdb3_crypt UUID=0123 none luks,discard\n")
	}
	for _, tc := range []struct {
		name   string
		setup  []func(tr *faketree.Tree)
		ok     bool
		detail string
	}{
		{"plain partition", nil, true, "the resume device 254:2 is partition vda2"},
		{"swap with a random key", []func(*faketree.Tree){func(tr *faketree.Tree) {
			tr.Mapper(0, "cswap", "CRYPT-PLAIN-cswap", "vda2")
			tr.Write("sys/power/resume", "253:0\n")
			tr.Write("etc/crypttab", "# swap\ncswap /dev/vda2 /dev/urandom swap\n")
		}}, false, "cswap gets a new random key at each boot (/etc/crypttab line 2: key /dev/urandom)"},
		{"LVM on LUKS, our initramfs with its tools", []func(*faketree.Tree){lvmOnLUKS, ours(vdb3, []string{"debian-vg/swap_1"}, both)}, true,
			"the resume device 253:1 is LVM LV swap_1 of VG debian-vg on dm-crypt vdb3_crypt (LUKS2) on partition vdb3"},
		{"LVM on LUKS, our initramfs of before (no tools)", []func(*faketree.Tree){lvmOnLUKS}, false,
			"LVM LV swap_1 of VG debian-vg on dm-crypt vdb3_crypt (LUKS2) on partition vdb3: hibernate's initramfs holds no cryptsetup to unlock dm-crypt vdb3_crypt (LUKS2)"},
		{"LVM on LUKS, our initramfs without the LV", []func(*faketree.Tree){lvmOnLUKS, ours(vdb3, []string{"debian-vg/root"}, both)}, false,
			"hibernate's initramfs does not activate LVM LV swap_1 of VG debian-vg (its config names debian-vg/root, this boot's command line no rd.lvm.lv=)"},
		{"LVM on LUKS, our initramfs without the LV, rd.lvm.lv= on the command line", []func(*faketree.Tree){lvmOnLUKS, ours(vdb3, nil, both), func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/mapper/debian--vg-root rd.lvm.lv=debian-vg/swap_1 ro\n")
		}}, true, "on partition vdb3"},
		{"LVM on LUKS, our initramfs without the volume", []func(*faketree.Tree){lvmOnLUKS, ours(nil, []string{"debian-vg/swap_1"}, both)}, false,
			"hibernate's initramfs does not unlock dm-crypt vdb3_crypt (LUKS2) (its config names none, this boot's command line no rd.luks.*= or cryptdevice=)"},
		{"LVM on LUKS, our initramfs with the volume, rd.luks=0 on the command line", []func(*faketree.Tree){lvmOnLUKS, ours(vdb3, []string{"debian-vg/swap_1"}, both), func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/mapper/debian--vg-root rd.luks=0 ro\n")
		}}, false, "hibernate's initramfs does not unlock dm-crypt vdb3_crypt (LUKS2) (its config names vdb3_crypt, this boot's command line no rd.luks.*= or cryptdevice=)"},
		{"LVM on LUKS, our initramfs without the volume, another device's on the command line", []func(*faketree.Tree){lvmOnLUKS, ours(nil, []string{"debian-vg/swap_1"}, both), func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/mapper/debian--vg-root rd.luks.uuid=ffff ro\n")
		}}, false, "hibernate's initramfs does not unlock dm-crypt vdb3_crypt (LUKS2) (its config names none, this boot's command line names none of it)"},
		{"LVM on LUKS, our initramfs without the volume, cryptdevice= of its device", []func(*faketree.Tree){lvmOnLUKS, ours(nil, []string{"debian-vg/swap_1"}, both), func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/mapper/debian--vg-root cryptdevice=/dev/vdb3:cryptroot ro\n")
		}}, true, "on partition vdb3"},
		{"LVM on LUKS, our initramfs without lvm", []func(*faketree.Tree){lvmOnLUKS, ours(vdb3, []string{"debian-vg/swap_1"}, map[string]string{"cryptsetup": "/usr/sbin/cryptsetup"})}, false,
			"hibernate's initramfs holds no lvm to activate LVM LV swap_1 of VG debian-vg"},
		{"md RAID, our initramfs", []func(*faketree.Tree){func(tr *faketree.Tree) {
			tr.MD(0, "raid1", "vdb2", "vdb3")
			tr.Write("sys/power/resume", "9:0\n")
		}}, false, "the resume device 9:0 is md raid1 md0 on partition vdb2 and partition vdb3: hibernate's /init cannot bring it up: md raid1 md0: it does not assemble md RAID"},
		{"LVM on LUKS, the distribution's with its tools", []func(*faketree.Tree){lvmOnLUKS, distro("usr/sbin/cryptsetup", "usr/sbin/lvm")}, true, "on partition vdb3"},
		{"LVM on LUKS, the distribution's without lvm", []func(*faketree.Tree){lvmOnLUKS, distro("usr/sbin/cryptsetup")}, false, "the initramfs holds no lvm to bring up LVM LV swap_1 of VG debian-vg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			tr.Disk("vdb", 252, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20})
			for _, f := range tc.setup {
				f(tr)
			}
			c := check(t, tr, "resume-stack")
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || (!c.OK && c.Fix == "") {
				t.Fatalf("resume-stack = %+v, want ok %v saying %q", c, tc.ok, tc.detail)
			}
		})
	}
}
