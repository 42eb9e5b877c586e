package resume

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// FuzzDiskPath runs what /init does with a disk before it decides, over any bytes: a disk whose
// first pages (GPT, partition contents) are the input, looked up by PARTUUID= (every disk's
// GPT is read), by a scan (every device probed), and its swap area read. Any bytes give a
// device, an error or nothing: never a panic, never an allocation a table's fields ask for.
func FuzzDiskPath(f *testing.F) {
	f.Add([]byte("EFI PART"))
	f.Add(append(make([]byte, 4086), "S1SUSPEND\x00"...))
	hdr := make([]byte, 1024)
	copy(hdr[512:], "EFI PART\x00\x00\x01\x00\x5c\x00\x00\x00")
	f.Add(hdr)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		tr := faketree.New(t)
		tr.Disk("vda", 254, faketree.Part{Size: 4 << 20, Content: data})
		disk, err := os.OpenFile(tr.FS().Path("dev/vda"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = disk.WriteAt(data, 0)
		disk.Close()
		if err != nil {
			t.Fatal(err)
		}
		var clock time.Duration
		b := &Machine{FS: tr.FS(), Out: &strings.Builder{}, Release: "R", Sleep: func(time.Duration) {},
			Now: func() time.Duration { clock += 100 * time.Millisecond; return clock }}
		for _, spec := range []string{"PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4", "", "/dev/vda1"} {
			_, dev, err := b.FindResumeDevice(spec, 0, nil)
			if err != nil || dev == nil {
				continue
			}
			_, _ = b.ReadArea(dev, 0, true)
			_, _ = b.ReadArea(dev, 0, false)
		}
	})
}
