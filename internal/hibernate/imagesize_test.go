package hibernate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestAutoImageSize(t *testing.T) {
	const mib = 1 << 20
	// A machine the size of the 512 MiB guest with its 64 MiB job (figures of that shape, in bytes).
	guest := sysfs.Meminfo{"MemTotal": 491928 << 10, "MemFree": 298244 << 10, "Buffers": 3104 << 10, "Cached": 101544 << 10,
		"Shmem": 1164 << 10, "Mapped": 27144 << 10, "SReclaimable": 9988 << 10, "AnonPages": 69028 << 10}
	for _, c := range []struct {
		name     string
		mem      sysfs.Meminfo
		swapFree int64
		want     int64 // -1: an error
	}{
		// used 189.2 MiB, less 74.5 MiB of unmapped cache and 9.8 MiB of slab: 105 MiB, rounded up.
		{"guest", guest, 1 << 30, 105 * mib},
		{"capped by the free swap", guest, 50 * mib, 50 * mib},
		{"no swap known: no cap", guest, 0, 105 * mib},
		{"all cache mapped", sysfs.Meminfo{"MemTotal": 1024 * mib, "MemFree": 524 * mib, "Cached": 100 * mib, "Mapped": 200 * mib}, 0, 500 * mib},
		{"nothing held", sysfs.Meminfo{"MemTotal": 1024 * mib, "MemFree": 924 * mib, "Cached": 100 * mib, "Mapped": 0, "SReclaimable": 50 * mib}, 0, 0},
		{"no Cached", sysfs.Meminfo{"MemTotal": 1024 * mib, "MemFree": 924 * mib, "Mapped": 0}, 0, -1},
	} {
		got, err := AutoImageSize(c.mem, c.swapFree)
		if (err != nil) != (c.want < 0) || (err == nil && got != c.want) {
			t.Errorf("%s: AutoImageSize = %d (%d MiB), %v; want %d MiB", c.name, got, got/mib, err, c.want/mib)
		}
	}
}

func TestImageSizeValue(t *testing.T) {
	mem := sysfs.Meminfo{"MemTotal": 1 << 30, "MemFree": 1<<30 - 200<<20, "Cached": 0, "Mapped": 0}
	for opt, want := range map[string]string{
		"kernel": "", "min": "0", "auto": "209715200", "": "209715200", "1G": "1073741824", " auto ": "209715200",
	} {
		if got, err := imageSizeValue(opt, mem, 0); err != nil || got != want {
			t.Errorf("imageSizeValue(%q) = %q, %v; want %q", opt, got, err, want)
		}
	}
	for opt, want := range map[string]string{"huge": `--image-size "huge"`, "auto": "/proc/meminfo was not read"} {
		var m sysfs.Meminfo
		if opt != "auto" {
			m = mem
		}
		if _, err := imageSizeValue(opt, m, 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("imageSizeValue(%q) = %v, want an error with %q", opt, err, want)
		}
	}
}

// With two disk swap areas, auto is capped by the free space of the one the image goes to
// (resume=), not by both together.
func TestAutoImageSizeCappedByTheResumeArea(t *testing.T) {
	tr := ready(t) // vda2: 524284 KiB of swap, resume= names it
	tr.Disk("vdb", 253, faketree.Part{Size: 2 << 30})
	tr.Swap("/dev/vda2                               partition\t524284\t\t0\t\t-2",
		"/dev/vdb1                               partition\t2097148\t\t0\t\t-3")
	tr.Meminfo(map[string]int64{"MemTotal": 2 << 20, "MemFree": 1 << 20, "AnonPages": 800 << 10, "Cached": 100 << 10, "Mapped": 100 << 10})
	if rep := Check(tr.FS()); rep.ResumeFree != 524284<<10 {
		t.Errorf("ResumeFree = %d, want vda2's 524284 KiB", rep.ResumeFree)
	}
	res, err := Now(tr.FS(), Options{Mode: "shutdown", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("write %d to /sys/power/image_size", 524284<<10)
	if !strings.Contains(strings.Join(res.Plan.Lines(), "\n"), want) {
		t.Errorf("plan:\n%s\nwant %q (vda2's free space, not both areas')", strings.Join(res.Plan.Lines(), "\n"), want)
	}
}
