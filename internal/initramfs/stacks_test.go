package initramfs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// lvmUUID is an LV's dm uuid as lvm makes it: LVM-, the VG's and the LV's ids (32 characters
// each), and for a hidden layer a suffix (-real, -tpool).
func lvmUUID(lv byte, suffix string) string {
	return "LVM-" + strings.Repeat("v", 32) + strings.Repeat(string(lv), 32) + suffix
}

// The installers' layouts, as sysfs shows them: the guided encrypted LVM of Debian's installer
// (a LUKS2 partition holding a VG of root and swap_1), an LV on a plain partition, swap on LUKS.
var (
	guidedLVM = func(tr *faketree.Tree) {
		tr.Mapper(0, "vda3_crypt", "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-vda3_crypt", "vda3")
		tr.Mapper(1, "guest--vg-root", lvmUUID('r', ""), "dm-0")
		tr.Mapper(2, "guest--vg-swap_1", lvmUUID('s', ""), "dm-0")
	}
	lvOnPartition = func(tr *faketree.Tree) { tr.Mapper(0, "vg-root", lvmUUID('r', ""), "vda3") }
	swapOnLUKS    = func(tr *faketree.Tree) { tr.Mapper(0, "swap_crypt", "CRYPT-LUKS1-00ff-swap_crypt", "vda2") }
)

// The stacks of /, /boot and the resume device: disks and partitions, LUKS volumes on them and
// linear LVs on those are accepted; anything else is refused, the layer named.
func TestCheckStacks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(tr *faketree.Tree)
		mounts string
		resume string
		want   string // in Describe when accepted; in the error when refused
		ok     bool
	}{
		{"plain", nil, "/dev/vda1 / ext4 rw 0 0\n", "254:2", "/ (/dev/vda1): partition vda1", true},
		{"plain, /boot apart", nil, "/dev/vda1 / ext4 rw 0 0\n/dev/vda3 /boot ext4 rw 0 0\n", "", "/boot (/dev/vda3): partition vda3", true},
		{"guided encrypted LVM", guidedLVM, "/dev/dm-1 / ext4 rw 0 0\n/dev/vda1 /boot ext4 rw 0 0\n", "/dev/dm-2",
			"/ (/dev/dm-1): LVM LV root of VG guest-vg on dm-crypt vda3_crypt (LUKS2) on partition vda3\n/boot (/dev/vda1): partition vda1\nthe resume device (/dev/dm-2): LVM LV swap_1 of VG guest-vg on dm-crypt vda3_crypt (LUKS2) on partition vda3", true},
		{"an LV on a plain partition", lvOnPartition, "/dev/dm-0 / ext4 rw 0 0\n", "", "/ (/dev/dm-0): LVM LV root of VG vg on partition vda3", true},
		{"swap on LUKS1", swapOnLUKS, "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", "the resume device (/dev/dm-0): dm-crypt swap_crypt (LUKS1) on partition vda2", true},
		{"a VG on a LUKS volume and a plain partition", func(tr *faketree.Tree) {
			tr.Mapper(0, "vda3_crypt", "CRYPT-LUKS2-0123-vda3_crypt", "vda3")
			tr.Mapper(1, "vg-root", lvmUUID('r', ""), "dm-0", "vda2")
		}, "/dev/dm-1 / ext4 rw 0 0\n", "", "LVM LV root of VG vg on (dm-crypt vda3_crypt (LUKS2) on partition vda3) and partition vda2", true},
		{"md RAID1 root", func(tr *faketree.Tree) { tr.MD(0, "raid1", "vda1", "vda3") }, "/dev/md0 / ext4 rw 0 0\n", "",
			"/ (/dev/md0) is md raid1 md0 on partition vda1 and partition vda3: md raid1 md0: it does not assemble md RAID", false},
		{"LUKS on md RAID: the RAID named", func(tr *faketree.Tree) {
			tr.MD(0, "raid1", "vda1", "vda3")
			tr.Mapper(0, "md0_crypt", "CRYPT-LUKS2-0123-md0_crypt", "md0")
		}, "/dev/dm-0 / ext4 rw 0 0\n", "", "md raid1 md0: it does not assemble md RAID", false},
		{"plain dm-crypt", func(tr *faketree.Tree) { tr.Mapper(0, "root_crypt", "CRYPT-PLAIN-root_crypt", "vda3") }, "/dev/dm-0 / ext4 rw 0 0\n", "",
			"dm-crypt root_crypt (PLAIN) is plain dm-crypt, with no LUKS header", false},
		{"an authenticated LUKS2 volume (dm-integrity under it)", func(tr *faketree.Tree) {
			tr.Mapper(0, "root_crypt_dif", "CRYPT-SUBDEV-0123-root_crypt_dif", "vda3")
			tr.Mapper(1, "root_crypt", "CRYPT-LUKS2-0123-root_crypt", "dm-0")
		}, "/dev/dm-1 / ext4 rw 0 0\n", "", "dm-crypt root_crypt_dif (SUBDEV) is dm-integrity", false},
		{"LUKS inside an LV", func(tr *faketree.Tree) {
			tr.Mapper(0, "vg-crypt", lvmUUID('c', ""), "vda3")
			tr.Mapper(1, "root_crypt", "CRYPT-LUKS2-0123-root_crypt", "dm-0")
		}, "/dev/dm-1 / ext4 rw 0 0\n", "", "dm-crypt root_crypt (LUKS2) is inside LVM LV crypt of VG vg: it unlocks the LUKS volumes before it activates the LVs", false},
		{"a thin LV", func(tr *faketree.Tree) {
			tr.Mapper(0, "vg-pool-tpool", lvmUUID('p', "-tpool"), "vda3")
			tr.Mapper(1, "vg-thin", lvmUUID('t', ""), "dm-0")
		}, "/dev/dm-1 / ext4 rw 0 0\n", "", "LVM LV vg-pool-tpool is a hidden part of an LV (-tpool)", false},
		{"a RAID1 LV", func(tr *faketree.Tree) {
			tr.Mapper(0, "vg-root_rimage_0", lvmUUID('0', ""), "vda2")
			tr.Mapper(1, "vg-root_rimage_1", lvmUUID('1', ""), "vda3")
			tr.Mapper(2, "vg-root", lvmUUID('r', ""), "dm-0", "dm-1")
		}, "/dev/dm-2 / ext4 rw 0 0\n", "", "LVM LV root of VG vg is made of LVM LV root_rimage_0 of VG vg: a RAID, mirror, thin, cache, snapshot or integrity LV", false},
		{"multipath", func(tr *faketree.Tree) { tr.Mapper(0, "mpatha", "mpath-3600a0b80", "vda") }, "/dev/dm-0 / ext4 rw 0 0\n", "",
			"device-mapper mpatha (mpath-3600a0b80) is a device-mapper target it does not set up", false},
		{"swap keyed anew at each boot", func(tr *faketree.Tree) {
			tr.Mapper(0, "cswap", "CRYPT-PLAIN-cswap", "vda2")
			tr.Write("etc/crypttab", "cswap /dev/vda2 /dev/urandom swap,cipher=aes-xts-plain64\n")
		}, "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", "cswap gets a new random key at each boot (/etc/crypttab line 1: key /dev/urandom)", false},
		{"NFS root", nil, "server:/export / nfs4 rw 0 0\n", "", "/ is nfs4 on server:/export", false},
		{"ZFS root", nil, "rpool/ROOT/debian / zfs rw 0 0\n", "", "/ is zfs", false},
		{"loop root", func(tr *faketree.Tree) { tr.Disk("loop0", 7) }, "/dev/loop0 / ext4 rw 0 0\n", "", "loop device loop0: it does not bring up loop", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := faketree.New(t)
			tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20})
			if tc.setup != nil {
				tc.setup(tr)
			}
			tr.Write("proc/mounts", tc.mounts)
			uses, err := CheckStacks(tr.FS(), tc.resume)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("CheckStacks = %v, want none", err)
			case tc.ok && !strings.Contains(Describe(uses), tc.want):
				t.Fatalf("stacks:\n%s\nwant %q", Describe(uses), tc.want)
			case !tc.ok && (!errors.Is(err, ErrCannotBoot) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckStacks = %v, want ErrCannotBoot naming %q", err, tc.want)
			}
		})
	}
}

// What /init must unlock and activate for the stacks, from sysfs, the LUKS headers and
// /etc/crypttab; and the crypttab entries it cannot follow, refused with the reason.
func TestPlanBringup(t *testing.T) {
	const uuid = "5f2c1a3e-8d4b-4c6a-9e1f-0a1b2c3d4e5f"
	header := faketree.LUKSHeader(2, uuid, "")
	for _, tc := range []struct {
		name     string
		setup    func(tr *faketree.Tree)
		crypttab string
		mounts   string
		resume   string
		vols     []config.Volume // KeyFile below the root: "ROOT" stands for it
		lvs      []string
		err      string
	}{
		{"guided encrypted LVM", guidedLVM, "vda3_crypt UUID=" + uuid + " none luks,discard\n",
			"/dev/dm-1 / ext4 rw 0 0\n", "/dev/dm-2",
			[]config.Volume{{Name: "vda3_crypt", Source: "UUID=" + uuid, Discard: true}}, []string{"guest-vg/root", "guest-vg/swap_1"}, ""},
		{"an LV on a plain partition", lvOnPartition, "", "/dev/dm-0 / ext4 rw 0 0\n", "", nil, []string{"vg/root"}, ""},
		{"swap on LUKS with a key file", swapOnLUKS, "# swap\nswap_crypt /dev/vda2 /etc/keys/swap.key luks\n", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0",
			[]config.Volume{{Name: "swap_crypt", Source: "UUID=" + uuid, KeyFile: "ROOT/etc/keys/swap.key"}}, nil, ""},
		{"not in crypttab: the passphrase asked", swapOnLUKS, "", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0",
			[]config.Volume{{Name: "swap_crypt", Source: "UUID=" + uuid}}, nil, ""},
		{"an unreadable header: the UUID from the dm uuid", func(tr *faketree.Tree) {
			guidedLVM(tr)
			tr.Write("dev/vda3", "")
		}, "", "/dev/dm-1 / ext4 rw 0 0\n", "",
			[]config.Volume{{Name: "vda3_crypt", Source: "UUID=01234567-89ab-cdef-0123-456789abcdef"}}, []string{"guest-vg/root"}, ""},
		{"no header, and a dm uuid without it", func(tr *faketree.Tree) {
			swapOnLUKS(tr)
			tr.Write("dev/vda2", "")
		}, "", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", nil, nil, `cannot read the LUKS header of dm-crypt swap_crypt (LUKS1) on /dev/vda2 (it holds nothing known, no LUKS header), and its dm uuid "CRYPT-LUKS1-00ff-swap_crypt" does not name it`},
		{"keyscript", swapOnLUKS, "swap_crypt /dev/vda2 none luks,keyscript=/lib/cryptsetup/scripts/passdev\n", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", nil, nil,
			"the resume device (/dev/dm-0): /etc/crypttab line 1: keyscript=/lib/cryptsetup/scripts/passdev runs a program of initramfs-tools at boot; hibernate's /init does not run it"},
		{"a detached header", swapOnLUKS, "swap_crypt /dev/vda2 none luks,header=/boot/swap.hdr\n", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", nil, nil, "header=/boot/swap.hdr: hibernate's /init gives cryptsetup the whole key file"},
		{"a key on a device", swapOnLUKS, "swap_crypt /dev/vda2 /dev/sdb1 luks\n", "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", nil, nil, "key file /dev/sdb1 is on a device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := faketree.New(t)
			tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 8 << 20, Content: header}, faketree.Part{Size: 8 << 20, Content: header})
			tc.setup(tr)
			if tc.crypttab != "" {
				tr.Write("etc/crypttab", tc.crypttab)
			}
			tr.Write("proc/mounts", tc.mounts)
			uses, err := CheckStacks(tr.FS(), tc.resume)
			if err != nil {
				t.Fatal(err)
			}
			b, err := PlanBringup(tr.FS(), uses)
			if tc.err != "" {
				if !errors.Is(err, ErrCannotBoot) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("PlanBringup = %v, want ErrCannotBoot saying %q", err, tc.err)
				}
				return
			}
			for i := range tc.vols {
				tc.vols[i].KeyFile = strings.Replace(tc.vols[i].KeyFile, "ROOT", tr.Root, 1)
			}
			if err != nil || !reflect.DeepEqual(b.Volumes, tc.vols) || !reflect.DeepEqual(b.LVs, tc.lvs) || len(b.Notes) != len(tc.lvs) {
				t.Fatalf("PlanBringup = %+v, %v; want volumes %+v, LVs %v", b, err, tc.vols, tc.lvs)
			}
		})
	}
}
