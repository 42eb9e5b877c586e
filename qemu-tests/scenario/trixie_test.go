package scenario

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// Debian 13 ("trixie", Linux 6.12: modules .ko.xz in usr/lib/modules, a zstd bzImage, LZO
// the only hibernation compressor built in) on the minimal guest, beside Debian 12's 6.1.

// trixieArtifacts are the scenarios' artifacts with Debian 13's amd64 kernel
// (qemu-tests/scripts/fetch-kernel.sh trixie-amd64, which make kernels runs).
func trixieArtifacts(t *testing.T) Artifacts {
	t.Helper()
	a := artifacts(t)
	k, err := FindKernel(testutil.KernelCache(), TrixieFlavour)
	if err != nil {
		t.Fatalf("HIBERNATE_E2E=1 but Debian 13's kernel is not there: %v", err)
	}
	a.Kernel = k
	return a
}

// wantRelease fails the test unless the guest's first boot ran kernel a.Kernel.Release.
func wantRelease(t *testing.T, m *Machine) {
	t.Helper()
	if m.Release != m.Artifacts.Kernel.Release || !strings.HasPrefix(m.Release, "6.12.") {
		t.Fatalf("the guest ran %q, want Debian 13's %s", m.Release, m.Artifacts.Kernel.Release)
	}
}

// TestTrixieRoundTrip is TestRoundTrip on Debian 13's 6.12: a job with 64 MiB of state survives
// hibernate and resume, the image read from the disk by the host in between (CheckImage).
func TestTrixieRoundTrip(t *testing.T) {
	ctx := timeout(t, 8*time.Minute)
	a := trixieArtifacts(t)
	m, err := Hibernate(ctx, a, t.Name(), Output(testWriter{t}))
	if err != nil {
		t.Fatalf("hibernate: %v\nlogs: %v", err, m.Summary.Logs)
	}
	wantRelease(t, m)
	resumeBoot(t, ctx, m, m.Setup.KernelParams)
	s := m.Summary
	t.Logf("%s (Debian package %s): hibernate %s, resume %s, image %.1f MiB (%.1f MiB on disk, %s)", s.Kernel, a.Kernel.Version,
		s.HibernateTime, s.ResumeTime, mib(s.ImageBytes), mib(s.ImageDiskBytes), s.Compressor)
}

// canaryOut is what `hibernate canary --json` prints, of what this test reads.
type canaryOut struct {
	Device     string        `json:"device"`
	After      string        `json:"after"`
	Write      time.Duration `json:"write_ns"`
	WriteLog   string        `json:"write_log"`
	Restore    time.Duration `json:"restore_ns"`
	RestoreLog string        `json:"restore_log"`
	Asleep     time.Duration `json:"asleep_ns"` // frozen for the write and the read back
}

// The canary's success path, where Linux 6.1 refused it (TestCanaryRefusesOn61): 6.12's
// test_resume writes the image and reads it back from the active swap partition. Proven from
// the disk, read by the host once the guest is off: the header page says SWAPSPACE2 again (no
// boot will resume anything), and holds what only an image written whole leaves there, the
// kernel's swsusp_header (the first map page, the swap magic it replaced), whose map chain and
// info page, walked as the kernel would, are those of a whole image. The kernel puts the swap
// magic back when it loads the image: the read back. And in the guest, the same boot goes on,
// the job with it, /sys/power as before.
func TestTrixieCanary(t *testing.T) {
	ctx := timeout(t, 8*time.Minute)
	m, err := New(ctx, trixieArtifacts(t), t.Name(), Output(testWriter{t}), JobTicks(1))
	if err != nil {
		t.Fatal(err)
	}
	vm, info := boot(t, ctx, m, "")
	wantRelease(t, m)
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	before := readPower(t, ctx, vm)
	page0 := func() []byte {
		b, err := readRange(m.Guest.Disk, m.Guest.Layout.SwapStart, swsusp.PageSize)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if p := page0(); swsusp.ParsePage0(p).Sig != swsusp.SigSwap || kernelHeader(p).Image != 0 {
		t.Fatalf("before the canary the swap area holds %s, first map page %d: want a fresh swap area", swsusp.ParsePage0(p).Kind(), kernelHeader(p).Image)
	}

	r, err := run(ctx, vm, m.Command("canary", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var out canaryOut
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("hibernate canary --json: %v\n%s", err, r.Stdout)
	}
	t.Logf("hibernate canary on %s: %s holds %s again; the times it read in the kernel log: written in %s (%q), read back in %s (%q)\n%s",
		m.Release, out.Device, out.After, out.Write, out.WriteLog, out.Restore, out.RestoreLog, indent(r.Stderr))
	// The kernel's "Wrote"/"Read ... kbytes in" lines reach the console, but not the log the
	// canary reads after: test_resume restores the image's memory, its kernel log with it, as
	// of the snapshot. So the canary says it cannot tell the times (out.Write, out.Restore 0).
	if out.After != string(swsusp.SigSwap) {
		t.Errorf("the canary read back %q: want SWAPSPACE2", out.After)
	}
	if out.Asleep <= 0 {
		t.Errorf("the canary says it was frozen for %s: want the time of the write and the read back", out.Asleep)
	}
	t.Logf("frozen for %s (the wall clock against the monotonic one)", out.Asleep.Round(10*time.Millisecond))
	jobGoesOn(t, ctx, vm, info.BootID)
	samePower(t, before, readPower(t, ctx, vm))
	powerOff(t, ctx, vm)

	page := page0()
	area := swsusp.ParsePage0(page)
	if area.Sig != swsusp.SigSwap || !area.Valid() {
		t.Fatalf("after the canary the swap area holds %s (problems %v): want a plain swap area, nothing to resume", area.Kind(), area.Problems)
	}
	h := kernelHeader(page)
	if h.Image == 0 || h.OrigSig != swsusp.SigSwap {
		t.Fatalf("the header page has no swsusp_header left (first map page %d, replaced magic %q): the kernel wrote no image", h.Image, h.OrigSigRaw)
	}
	first := h.Image
	// The image as the kernel left it, with the signature it was written with (the last 10
	// bytes of the page, where the kernel put SWAPSPACE2 back): whole?
	img := bytes.Clone(page)
	copy(img[swsusp.PageSize-10:], swsusp.SigSwsusp+"\x00")
	f, err := os.Open(m.Guest.Disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := m.Guest.Layout
	was, err := swsusp.ReadArea(pageOver{io.NewSectionReader(f, l.SwapStart, l.SwapSize), img}, l.SwapSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !was.HasImage() || !was.Valid() || was.Info == nil || was.Info.Pages == 0 {
		t.Fatalf("the image the canary wrote (first map page %d) is not whole: %s, problems %v", first, was.Kind(), was.Problems)
	}
	t.Logf("on the disk: SWAPSPACE2, and the image the kernel wrote and took back: %d map pages, %d pages listed, %.1f MiB of memory (%s)",
		was.MapPages, was.DataPages, mib(was.Info.Size), was.Header.Compressor())
}

// kernelHeader is the swsusp_header fields of a header page, whatever its signature: after a
// resume they stay as the kernel wrote them, its Image the first map page of the last image
// written there (0 on a fresh swap area).
func kernelHeader(page []byte) swsusp.Header {
	h, _ := swsusp.ParseHeader(page) // it says the signature is not S1SUSPEND: known
	return h
}

// pageOver reads r with its first page replaced by page.
type pageOver struct {
	r    io.ReaderAt
	page []byte
}

func (p pageOver) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	if off < int64(len(p.page)) {
		copy(b, p.page[off:])
	}
	return n, err
}

// The canary fails loudly where hibernation would not come back, on a kernel whose test_resume
// works: a 16 MiB swap partition for 64 MiB of job state. It refuses with the swap check's
// reason (exit 1) before anything is written: the swap area's first 64 KiB read from the host
// are byte-identical, /sys/power is as before, the job goes on in the same boot.
func TestTrixieCanaryRefusesTooLittleSwap(t *testing.T) {
	ctx := timeout(t, 6*time.Minute)
	m, err := New(ctx, trixieArtifacts(t), t.Name(), Output(testWriter{t}), JobTicks(1), SwapPartition(16), JobState(64))
	if err != nil {
		t.Fatal(err)
	}
	vm, info := boot(t, ctx, m, "")
	wantRelease(t, m)
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	swapBefore, before := swapHead(t, m), readPower(t, ctx, vm)
	r, err := vm.Run(ctx, m.Command("canary")...)
	if err != nil {
		t.Fatal(err)
	}
	if said := r.Stdout + r.Stderr; r.Exit != 1 || !strings.Contains(said, "swap: ") || !strings.Contains(said, "hibernation would not come back") {
		t.Fatalf("hibernate canary: exit %d, want 1 with the swap reason\n%s%s", r.Exit, r.Stdout, r.Stderr)
	}
	t.Logf("hibernate canary refused:\n%s", indent(r.Stderr))
	jobGoesOn(t, ctx, vm, info.BootID)
	samePower(t, before, readPower(t, ctx, vm))
	if !bytes.Equal(swapBefore, swapHead(t, m)) {
		t.Errorf("the swap area's first 64 KiB changed on the host's disk")
	}
}
