package scenario

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// A swap file on the root file system, its resume_offset computed by hibernate setup;
// hibernate, resume with the parameters setup printed: the job survives. Once on ext4, once on
// btrfs (whose FIEMAP addresses are logical: setup maps them through the chunk tree).
func TestSwapFileRoundTrip(t *testing.T) {
	for _, fs := range []string{"ext4", "btrfs"} {
		t.Run(fs, func(t *testing.T) {
			ctx := timeout(t, 4*time.Minute)
			h := hibernate(t, ctx, SwapFile("/swapfile", ""), RootFS(fs))
			if !strings.Contains(h.Setup.KernelParams, "resume_offset=") || h.Setup.ResumeOffset == 0 {
				t.Fatalf("setup printed %q (offset %d): want resume= and resume_offset=", h.Setup.KernelParams, h.Setup.ResumeOffset)
			}
			resumeBoot(t, ctx, h, h.Setup.KernelParams)
			t.Logf("%s: %s, resumed in %s", fs, h.Setup.KernelParams, h.Summary.ResumeTime)
		})
	}
}

// Setup refuses a swap file that others can read, and one marked for compression on
// btrfs, with the reason, and changes nothing on disk. Both are swap areas already (made on the
// host into the guest's root), so that setup would keep and activate them.
func TestSwapFileRefusals(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	const size = 256 << 10
	area := make([]byte, size)
	page, err := swsusp.MkswapPage(size, swsusp.MkswapOptions{PageSize: swsusp.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	copy(area, page)
	m := newMachine(t, ctx, RootFS("btrfs"), SwapPartition(-1), Files(GuestFile{"/swapcompressed", area, 0o600}, GuestFile{"/swap0644", area, 0o644}))
	vm, _ := boot(t, ctx, m, "")
	state := func() string {
		var b strings.Builder
		for _, p := range []string{"/proc/swaps", "/sys/power/resume", "/sys/power/resume_offset"} {
			d, _ := vm.ReadFile(ctx, p)
			b.Write(d)
		}
		return b.String()
	}
	before := state()
	if _, err := run(ctx, vm, GuestAgentInit, "chattr", "+c", "/swapcompressed"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, file, want string }{
		{"marked for compression on btrfs", "/swapcompressed", "btrfs"},
		{"readable by others", "/swap0644", "mode 0644"},
	} {
		r, err := vm.Run(ctx, m.Command("setup", "--file", c.file)...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Exit == 0 || !strings.Contains(r.Stderr, c.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("%s: setup exit %d, want a one-line refusal naming %q:\n%s%s", c.name, r.Exit, c.want, r.Stdout, r.Stderr)
		}
		t.Logf("%s: %s", c.name, strings.TrimSpace(r.Stderr))
		if data, err := vm.ReadFile(ctx, c.file); err != nil || !bytes.Equal(data, area) {
			t.Errorf("%s: %s changed by the refused setup (%d bytes, %v)", c.name, c.file, len(data), err)
		}
	}
	if after := state(); after != before {
		t.Errorf("swap or resume changed by refused setups:\nbefore %q\nafter  %q", before, after)
	}
}
