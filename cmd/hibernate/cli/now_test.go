package cli

import (
	"bytes"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// now --dry-run on a fake machine prints the plan, one action a line, and changes nothing.
func TestNowDryRunPrintsThePlan(t *testing.T) {
	tr := faketree.New(t)
	page, err := swsusp.MkswapPage(512<<20, swsusp.MkswapOptions{PageSize: swsusp.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 512 << 20, Content: page})
	tr.Swap("/dev/vda2                               partition\t524284\t\t0\t\t-2")
	tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n") // the next boot looks there
	var out, errb bytes.Buffer
	code := Run(Env{Stdout: &out, Stderr: &errb}, []string{"now", "--root", tr.Root, "--dry-run", "--mode", "shutdown",
		"--image-size", "min", "--no-record", "--ignore-check", "initramfs"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `would write shutdown to /sys/power/disk (was platform)
would write 0 to /sys/power/image_size (was 423053312)
would write 0 to /sys/power/resume_offset (was 0)
would write 254:2 to /sys/power/resume (was 0:0)
would sync the file systems
would write disk to /sys/power/state
would restore /sys/power/disk to platform
would restore /sys/power/image_size to 423053312
would restore /sys/power/resume_offset to 0
would restore /sys/power/resume to 0:0
`
	if out.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if got := tr.Read("sys/power/disk") + "|" + tr.Read("sys/power/resume"); got != "[platform] shutdown reboot suspend test_resume|0:0" {
		t.Fatalf("the dry run changed /sys/power: %s", got)
	}
}
