package blockdev

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

const swapUUID = "11111111-2222-4333-8444-555555555555"

func lookupTree(t *testing.T) *faketree.Tree {
	tr := faketree.New(t)
	tr.Disk("vda", 254,
		faketree.Part{Size: 8 << 20, Label: "root", Content: ext4Super([16]byte{1}, "ROOT")},
		faketree.Part{Size: 64 << 20, Label: "swap", Content: swapPage(t, swapUUID, "SWAP")})
	return tr
}

// Each lookup finds the device and reads what it holds, as List does; a disk with partitions is
// not read.
func TestLookups(t *testing.T) {
	tr := lookupTree(t)
	fs := tr.FS()
	for _, tc := range []struct {
		name string
		find func() (Device, error)
		want string
	}{
		{"Find PARTLABEL", func() (Device, error) { return Find(fs, "PARTLABEL=swap") }, "vda2"},
		{"Find UUID", func() (Device, error) { return Find(fs, "UUID="+swapUUID) }, "vda2"},
		{"Find MAJ:MIN", func() (Device, error) { return Find(fs, "254:2") }, "vda2"},
		{"Find /dev", func() (Device, error) { return Find(fs, "/dev/vda1") }, "vda1"},
		{"ByDevT", func() (Device, error) { return ByDevT(fs, unix.Mkdev(254, 2)) }, "vda2"},
		{"ByPath", func() (Device, error) { return ByPath(fs, "/dev/vda2") }, "vda2"},
		{"ByPath whole disk", func() (Device, error) { return ByPath(fs, "/dev/vda") }, "vda"},
		{"PartitionOf", func() (Device, error) { return PartitionOf(fs, "vda", 2) }, "vda2"},
	} {
		d, err := tc.find()
		if err != nil || d.Name != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, d.Name, err, tc.want)
			continue
		}
		want := Probe{}
		switch d.Name {
		case "vda1":
			want = Probe{"ext4", "01000000-0000-0000-0000-000000000000", "ROOT"}
		case "vda2":
			want = Probe{"swap", swapUUID, "SWAP"}
		}
		if d.Probe != want {
			t.Errorf("%s: probe %+v, want %+v", tc.name, d.Probe, want)
		}
	}
}

func TestLookupsNotFound(t *testing.T) {
	fs := lookupTree(t).FS()
	for name, find := range map[string]func() (Device, error){
		"Find":        func() (Device, error) { return Find(fs, "PARTLABEL=none") },
		"ByDevT":      func() (Device, error) { return ByDevT(fs, unix.Mkdev(8, 1)) },
		"ByPath":      func() (Device, error) { return ByPath(fs, "/dev/sda1") },
		"PartitionOf": func() (Device, error) { return PartitionOf(fs, "vda", 3) },
	} {
		if d, err := find(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %s, %v; want ErrNotFound", name, d.Name, err)
		}
	}
}

// A path that is no kernel name (/dev/mapper/…, /dev/disk/by-…) is found by the number of its
// node below the root. The node is only stat'ed: its content is read from the tree's /dev/vda2.
func TestByPathNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a device node needs root")
	}
	tr := lookupTree(t)
	tr.Mkdir("dev/mapper")
	if err := unix.Mknod(filepath.Join(tr.Root, "dev/mapper/swap"), unix.S_IFBLK|0o600, int(unix.Mkdev(254, 2))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	d, err := ByPath(tr.FS(), "/dev/mapper/swap")
	if err != nil || d.Name != "vda2" || d.Probe.UUID != swapUUID {
		t.Fatalf("ByPath(/dev/mapper/swap) = %+v, %v; want vda2", d, err)
	}
}
