package blockdev

import "testing"

// TestDescribeStack: a layer made of several devices names them all, not each on the one after
// (an md RAID1 of vda1 and vdb1 read "md raid1 md127 on partition vda1 on partition vdb1", as if
// vda1 were on vdb1: seen in the md RAID1 e2e).
func TestDescribeStack(t *testing.T) {
	part := func(name string) Layer { return Layer{Name: name, Kind: "partition", What: "partition " + name} }
	for _, tc := range []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"a partition", []Layer{part("vda1")}, "partition vda1"},
		{"LVM on LUKS", []Layer{
			{Name: "dm-1", Kind: "lvm", What: "LVM LV root of VG vg", Slaves: []string{"dm-0"}},
			{Name: "dm-0", Kind: "crypt", What: "dm-crypt vda3_crypt (LUKS2)", Slaves: []string{"vda3"}},
			part("vda3"),
		}, "LVM LV root of VG vg on dm-crypt vda3_crypt (LUKS2) on partition vda3"},
		{"md RAID1 of two partitions", []Layer{
			{Name: "md127", Kind: "md", What: "md raid1 md127", Slaves: []string{"vda1", "vdb1"}}, part("vda1"), part("vdb1"),
		}, "md raid1 md127 on partition vda1 and partition vdb1"},
		{"md RAID5 of three", []Layer{
			{Name: "md0", Kind: "md", What: "md raid5 md0", Slaves: []string{"vda1", "vdb1", "vdc1"}}, part("vda1"), part("vdb1"), part("vdc1"),
		}, "md raid5 md0 on partition vda1, partition vdb1 and partition vdc1"},
		{"a VG on a LUKS volume and a partition", []Layer{
			{Name: "dm-1", Kind: "lvm", What: "LVM LV root of VG vg", Slaves: []string{"dm-0", "vda2"}},
			{Name: "dm-0", Kind: "crypt", What: "dm-crypt vda3_crypt (LUKS2)", Slaves: []string{"vda3"}},
			part("vda3"), part("vda2"),
		}, "LVM LV root of VG vg on (dm-crypt vda3_crypt (LUKS2) on partition vda3) and partition vda2"},
		{"LUKS on a whole disk", []Layer{
			{Name: "dm-0", Kind: "crypt", What: "dm-crypt vdb_crypt (LUKS2)", Slaves: []string{"vdb"}}, {Name: "vdb", Kind: "disk", What: "disk vdb"},
		}, "dm-crypt vdb_crypt (LUKS2) on disk vdb"},
		{"layers without their slaves, in order", []Layer{
			{Name: "dm-0", Kind: "crypt", What: "dm-crypt x (LUKS2)"}, part("vda2"), {Name: "vda", Kind: "disk", What: "disk vda"},
		}, "dm-crypt x (LUKS2) on partition vda2"},
	} {
		if got := DescribeStack(tc.layers); got != tc.want {
			t.Errorf("%s: DescribeStack = %q, want %q", tc.name, got, tc.want)
		}
	}
}
