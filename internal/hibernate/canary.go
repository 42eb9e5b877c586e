package hibernate

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// The canary: the write and read path of this machine's hibernation, tried without powering
// off. The kernel's test_resume mode (in /sys/power/disk) writes the image to the swap area as a
// hibernation does, then reads it back and restores it at once, as a resume would, checking it
// (its CRC where the image has one) on the way. Everything else is `hibernate now`'s: the same
// checks first (a swap too small refuses, nothing changed), the record, the settings put back.

// ErrNoTestResume says that the kernel does not offer test_resume.
var ErrNoTestResume = errors.New("this kernel offers no test_resume in /sys/power/disk")

// ErrTestResumeUnsafe says that the kernel's test_resume would leave an image behind. Before
// Linux 6.6 ("PM: hibernate: Do not get block device exclusively in test_resume mode") it
// writes the image, then cannot open the resume device to read it back, as an active swap
// partition is claimed already (EBUSY, seen with Debian's 6.1 here): the image stays in the
// area, its swap slots stay taken (a swapoff then never ends), and the area cannot be written
// while active. The next boot would resume that stale image over a disk that went on.
var ErrTestResumeUnsafe = errors.New("this kernel's test_resume writes the image and cannot read it back from an active swap area (fixed in Linux 6.6): the image would be left for the next boot to resume")

// testResumeSafe says whether kernel release rel (uname -r) reads a test_resume image back.
func testResumeSafe(rel string) bool {
	var major, minor int
	if n, _ := fmt.Sscanf(rel, "%d.%d", &major, &minor); n != 2 {
		return false
	}
	return major > 6 || (major == 6 && minor >= 6)
}

// CanaryResult is what the canary did and read back.
type CanaryResult struct {
	Result
	Device string `json:"device"` // the resume device, as /sys/power/resume named it (MAJ:MIN) and where it is
	Offset uint64 `json:"offset"` // resume_offset, in pages
	// After is the signature read back from the area once the kernel came back: a plain swap
	// area's ("SWAPSPACE2"), as the kernel leaves it after it has taken an image.
	After string `json:"after"`
}

// Canary writes an image and reads it back (test_resume), then reads the swap area's header: an
// image the kernel left there (it wrote it and could not read it back: Linux 6.1's test_resume
// opens the resume device exclusively, which an active swap partition already is, and fails with
// EBUSY) is discarded at once, read back, and said, so that no later boot resumes a stale image
// over a file system that went on. The machine does not power off; its processes are frozen for
// as long as the write and the read take. Hooks run only when o asks.
func Canary(fs sysfs.FS, o Options) (CanaryResult, error) {
	var res CanaryResult
	disk, err := fs.ReadString("sys/power/disk")
	if err != nil {
		return res, fmt.Errorf("read /sys/power/disk: %w", err)
	}
	if _, modes := sysfs.Selected(disk); !slices.Contains(modes, "test_resume") {
		return res, fmt.Errorf("%w (it offers %q)", ErrNoTestResume, disk)
	}
	u, err := fs.Uname()
	if err != nil {
		return res, err
	}
	if !testResumeSafe(u.Release) {
		return res, fmt.Errorf("%w; refusing on %s, nothing done", ErrTestResumeUnsafe, u.Release)
	}
	o.Mode, o.testResume = "test_resume", true
	devt, _ := fs.ReadString("sys/power/resume")
	off, _ := fs.ReadString("sys/power/resume_offset")
	res.Result, err = Now(fs, o)
	if errors.Is(err, ErrNotReady) || o.DryRun || len(res.Plan.Steps) == 0 {
		return res, err
	}
	// The device Now wrote to /sys/power/resume, if it had to (it puts the old value back after).
	for _, s := range res.Plan.Steps {
		switch s.Path {
		case "/sys/power/resume":
			devt = s.Value
		case "/sys/power/resume_offset":
			off = s.Value
		}
	}
	res.Offset, _ = strconv.ParseUint(strings.TrimSpace(off), 10, 64)
	left, rerr := res.readBack(fs, devt)
	switch {
	case rerr != nil:
		return res, errors.Join(err, fmt.Errorf("the swap area cannot be read back: %w", rerr))
	case left != "":
		return res, errors.Join(err, errors.New(left))
	case res.After != string(swsusp.SigSwap):
		return res, errors.Join(err, fmt.Errorf("the swap area %s holds %q, not a plain swap area", res.Device, res.After))
	}
	return res, err
}

// readBack reads the swap area's signature into res; an image found there is discarded, and
// left says so: what was found, what the area holds now, read back. Where the discard fails (an
// active area cannot be written), the error says what to do before the next boot.
func (res *CanaryResult) readBack(fs sysfs.FS, devt string) (left string, err error) {
	swaps, _, _ := swapsWithFile(fs) // the hibernation file too, deactivated again by now
	c, err := swapAreaAt(fs, devt, fmt.Sprint(res.Offset), swaps)
	if err != nil {
		return "", err
	}
	where := fmt.Sprintf("%s (%s)", c.dev.Path, c.dev.DevT())
	if c.file != "" {
		where = fmt.Sprintf("%s on %s", c.file, where)
	}
	res.Device = where
	sig, err := readAreaSig(fs, c, res.Offset)
	if err != nil {
		return "", err
	}
	res.After = string(sig)
	if sig == swsusp.SigSwap || sig == swsusp.SigSwapV0 {
		return "", nil
	}
	found := res.After
	if err := discardArea(fs, c, res.Offset); err != nil {
		return "", fmt.Errorf("the kernel left an image (%s) on %s, and discarding it failed: %w; boot next with noresume on the kernel command line, which discards it", found, where, err)
	}
	if sig, err = readAreaSig(fs, c, res.Offset); err != nil {
		return "", fmt.Errorf("read %s back after discarding the image left there: %w", where, err)
	}
	res.After = string(sig)
	return fmt.Sprintf("the kernel wrote the image and did not read it back: it left it on %s (%s); discarded: the area holds %s again (read back), no boot will resume it",
		where, found, res.After), nil
}

// readAreaSig reads the signature of area c, its header page at offset (pages) of the device
// or at the start of its swap file. The kernel wrote the image past the page cache (bios), and
// an active swap partition stays open, so the cache keeps the header page as the checks read it
// before: it is dropped first (BLKFLSBUF, as blockdev --flushbufs), or the read would see the
// old bytes. A swap file's pages are not cached: swap I/O bypasses them.
func readAreaSig(fs sysfs.FS, c swapArea, offset uint64) (swsusp.Signature, error) {
	p, off := c.header(offset)
	f, err := os.Open(fs.Path(strings.TrimPrefix(p, "/")))
	if err != nil {
		return "", err
	}
	defer f.Close()
	size := c.dev.Size
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	} else if err == nil && st.Mode()&os.ModeDevice != 0 {
		if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0); err != nil {
			return "", fmt.Errorf("drop the page cache of %s (BLKFLSBUF) to read it back: %w", p, err)
		}
	}
	a, err := swsusp.ReadAreaHead(f, size, off)
	if err != nil {
		return "", fmt.Errorf("read the swap area on %s: %w", p, err)
	}
	return a.Sig, nil
}

// discardArea invalidates the image on area c as the kernel does after a resume.
func discardArea(fs sysfs.FS, c swapArea, offset uint64) error {
	p, off := c.header(offset)
	f, err := os.OpenFile(fs.Path(strings.TrimPrefix(p, "/")), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := swsusp.Discard(f, off, false); err != nil {
		return err
	}
	return f.Sync()
}
