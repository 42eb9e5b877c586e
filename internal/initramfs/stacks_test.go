package initramfs

import (
	"errors"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The stacks of /, /boot and the resume device, as the installers lay them out: our /init
// brings up plain partitions only, and anything else is refused, the layer named.
func TestCheckStacks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(tr *faketree.Tree)
		mounts string
		resume string
		want   string // in the error; "" for none
	}{
		{"plain", nil, "/dev/vda1 / ext4 rw 0 0\n", "254:2", ""},
		{"plain, /boot apart", nil, "/dev/vda1 / ext4 rw 0 0\n/dev/vda3 /boot ext4 rw 0 0\n", "", ""},
		{"guided encrypted LVM", func(tr *faketree.Tree) {
			tr.Mapper(0, "vda3_crypt", "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-vda3_crypt", "vda3")
			tr.Mapper(1, "vg-root", "LVM-abcdefABCDEF0123456789abcdefABCDEFghijklmnopqrstuvwxyz012345", "dm-0")
		}, "/dev/dm-1 / ext4 rw 0 0\n/dev/vda1 /boot ext4 rw 0 0\n", "", "/ (/dev/dm-1) is LVM LV vg-root on dm-crypt vda3_crypt (LUKS2) on partition vda3"},
		{"swap on LUKS", func(tr *faketree.Tree) {
			tr.Mapper(0, "swap_crypt", "CRYPT-LUKS2-00ff-swap_crypt", "vda2")
		}, "/dev/vda1 / ext4 rw 0 0\n", "/dev/dm-0", "the resume device (/dev/dm-0) is dm-crypt swap_crypt (LUKS2) on partition vda2"},
		{"md RAID1 root", func(tr *faketree.Tree) { tr.MD(0, "raid1", "vda1", "vda3") }, "/dev/md0 / ext4 rw 0 0\n", "", "md raid1 md0 on partition vda1 on partition vda3"},
		{"NFS root", nil, "server:/export / nfs4 rw 0 0\n", "", "/ is nfs4 on server:/export"},
		{"ZFS root", nil, "rpool/ROOT/debian / zfs rw 0 0\n", "", "/ is zfs"},
		{"loop root", func(tr *faketree.Tree) { tr.Disk("loop0", 7) }, "/dev/loop0 / ext4 rw 0 0\n", "", "loop device loop0"},
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
			case tc.want == "" && err != nil:
				t.Fatalf("CheckStacks = %v, want none", err)
			case tc.want == "":
				if len(uses) == 0 || !strings.Contains(Describe(uses), "/ (/dev/vda1): partition vda1") {
					t.Fatalf("stacks:\n%s", Describe(uses))
				}
			case !errors.Is(err, ErrCannotBoot) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("CheckStacks = %v, want ErrCannotBoot naming %q", err, tc.want)
			}
		})
	}
}
