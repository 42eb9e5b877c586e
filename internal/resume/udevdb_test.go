package resume

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The dm devices that cryptsetup and lvm made get the udev record a distribution's initramfs
// leaves (made by libdevmapper), so that the root's udev does not turn its rules off for them
// and systemd sees them; a device with a record keeps it, and other devices get none.
func TestRecordForUdev(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 32 << 20})
	tr.Mapper(0, "vda1_crypt", "CRYPT-LUKS2-0a1b2c3d11114222833344445555666-vda1_crypt", "vda1")
	tr.Mapper(1, "guest--vg-root", "LVM-"+strings.Repeat("a", 64), "dm-0")
	tr.Mapper(2, "guest--vg-swap_1", "LVM-"+strings.Repeat("b", 64), "dm-0")
	tr.Mapper(3, "mpatha", "mpath-3600", "vda")
	tr.Write("run/udev/data/b253:2", "E:SYSTEMD_READY=1\n")
	// libdevmapper's nodes (files here), and a link udev made already.
	tr.Write("dev/mapper/vda1_crypt", "")
	tr.Write("dev/mapper/guest--vg-root", "")
	tr.Write("dev/mapper/mpatha", "")
	if err := os.Symlink("../dm-2", filepath.Join(tr.Root, "dev/mapper/guest--vg-swap_1")); err != nil {
		t.Fatal(err)
	}
	out := &strings.Builder{}
	b := &Machine{FS: tr.FS(), Out: out, Now: func() time.Duration { return 0 }}
	got := b.recordForUdev()
	if want := []string{"vda1_crypt", "guest--vg-root"}; !slices.Equal(got, want) {
		t.Errorf("records for %q, want %q", got, want)
	}
	for _, c := range []struct{ file, want string }{
		{"b253:0", udevRecord},
		{"b253:1", udevRecord},
		{"b253:2", "E:SYSTEMD_READY=1\n"}, // udev's own, kept
		{"b253:3", ""},
		{"b254:0", ""},
		{"b254:1", ""},
	} {
		b, err := os.ReadFile(filepath.Join(tr.Root, "run/udev/data", c.file))
		if string(b) != c.want || (c.want == "") != errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %q (%v), want %q", c.file, b, err, c.want)
		}
	}
	for name, want := range map[string]string{"vda1_crypt": "../dm-0", "guest--vg-root": "../dm-1", "guest--vg-swap_1": "../dm-2", "mpatha": ""} {
		got, _ := os.Readlink(filepath.Join(tr.Root, "dev/mapper", name))
		if got != want {
			t.Errorf("/dev/mapper/%s links to %q, want %q (\"\": not a link)", name, got, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tr.Root, "dev/mapper/.*")); len(left) > 0 {
		t.Errorf("left %q", left)
	}
	if !strings.Contains(out.String(), UdevRecords+"vda1_crypt guest--vg-root") {
		t.Errorf("said %q", out)
	}
	if strings.Count(udevRecord, "E:DM_UDEV_PRIMARY_SOURCE_FLAG=1\n") != 1 {
		t.Errorf("the record %q does not say libdevmapper made the device", udevRecord)
	}
}
