package resume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Machine is the machine as /init sees it. Init fills it for the real boot (root "/", the
// console, CLOCK_BOOTTIME); tests fill the fields with a fake tree and fakes.
type Machine struct {
	FS  sysfs.FS
	Out io.Writer
	// Now gives the time since boot, for the timestamps on the console lines.
	Now func() time.Duration
	// Release is the running kernel's `uname -r`.
	Release string
	// Sleep waits between two looks for a device.
	Sleep func(time.Duration)
	// LoadModule loads the module file at a path of the initramfs (nil: finit_module or
	// init_module).
	LoadModule func(path string) error
	// Run runs a tool of the initramfs (cryptsetup, lvm): argv, environment, standard input;
	// it returns the output and the exit code (nil: exec).
	Run func(argv, env []string, stdin []byte) ([]byte, int, error)
	// Ask asks for a passphrase on the consoles (nil: every console the kernel writes to).
	Ask func(prompt string) ([]byte, error)

	// Debug says each look's time (hibernate.debug).
	Debug bool

	keys map[string][]byte // the keys that opened volumes at this boot, by volume name
}

// Logf prints one console line, prefixed as every /init line is, with the time since boot.
func (b *Machine) Logf(format string, args ...any) {
	fmt.Fprintf(b.Out, LinePrefix+"[%8.3f] %s\n", b.Now().Seconds(), fmt.Sprintf(format, args...))
}

// uptime reads CLOCK_BOOTTIME, the clock the kernel's console timestamps use.
func uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// FindResumeDevice waits for the device that spec names, or, with spec "", scans every block
// device for a hibernation signature. It looks at the block devices whenever their list
// changes (and a few times after, as their nodes in /dev come on devtmpfs's own thread), until
// wait has passed since no module was coming any more (wait < 0: as long as it takes). more (when not nil) is called between two
// looks: it loads modules and says whether modules are still coming (devices may still
// appear), and whether it loaded one just now (look again at once). A scan ends when no module
// is coming and the list of block devices stayed the same over one look. It returns the spec it
// settled on ("" if none) and the device.
func (b *Machine) FindResumeDevice(spec string, wait time.Duration, more func() (coming, loaded bool)) (string, *blockdev.Device, error) {
	waitStart := time.Duration(-1)
	var lastChange time.Duration
	said := false
	lastSeen := "-"
	var lastLook time.Duration
	again := 0 // full looks still to make after the list changed
	for {
		names, err := blockNames(b.FS)
		changed := err == nil && names != lastSeen
		if changed {
			again = 3
		}
		// Look again now and then even with the same names: the device's node in /dev
		// (devtmpfs makes it on its own thread) may have been missing at the last look.
		if err == nil && (again > 0 || (spec != "" && b.Now()-lastLook >= 200*time.Millisecond)) {
			again--
			lastSeen, lastLook = names, b.Now()
			devs, err := blockdev.ListFor(b.FS, spec)
			if b.Debug {
				b.Logf("look at %d block devices for %q: %d ms (%v)", len(devs), spec, (b.Now() - lastLook).Milliseconds(), err)
			}
			if err == nil {
				if spec == "" {
					for _, d := range devs {
						if d.Probe.Type == "swsusp" {
							return d.Path, &d, nil
						}
					}
				} else if d, err := blockdev.Resolve(devs, spec); err == nil {
					return spec, &d, nil
				} else if !errors.Is(err, blockdev.ErrNotFound) {
					return spec, nil, err
				}
			}
		}
		coming, loaded := false, false
		if more != nil {
			coming, loaded = more()
		}
		// A scan ends once there are disks, every module is in, and the disks have stayed the
		// same for a while (a driver may find its disk after its load returns).
		if changed {
			lastChange = b.Now()
		}
		if spec == "" && names != "" && again <= 0 && !coming && b.Now()-lastChange >= scanQuiet {
			return "", nil, nil // every disk there is was looked at: no image on any
		}
		// The wait is for the device once every module is in (as long as modules are coming,
		// the device may come with the next): it starts when none is.
		if !coming && waitStart < 0 {
			waitStart = b.Now()
		}
		if wait >= 0 && waitStart >= 0 && b.Now()-waitStart >= wait {
			return spec, nil, nil
		}
		if !said && spec != "" && !coming {
			if wait >= 0 {
				b.Logf(WaitingFor, spec, wait)
			} else {
				b.Logf(WaitingForever, spec)
			}
			said = true
		}
		switch {
		case loaded: // look at once
		case coming || again > 0:
			b.Sleep(10 * time.Millisecond) // a driver is probing: its disk is due any moment
		default:
			b.Sleep(50 * time.Millisecond)
		}
	}
}

// scanQuiet is how long the disks must stay the same before a scan without resume= ends.
const scanQuiet = 200 * time.Millisecond

// blockNames lists /sys/class/block, a cheap test of whether any block device came or went.
func blockNames(fs sysfs.FS) (string, error) {
	entries, err := os.ReadDir(fs.Path("sys/class/block"))
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, e := range entries {
		sb.WriteString(e.Name())
		sb.WriteByte(' ')
	}
	return sb.String(), nil
}

// ReadArea reads what the swap area at offset (pages) of dev holds.
//
// It reads of an image its header, first map page and info page (swsusp.ReadAreaHead): a chain
// broken further on, the kernel finds as it loads the image, after it has put the swap
// signature back, and the boot goes on fresh. With whole, the whole chain is read first, so
// that such an image is judged here: hibernate.keep=1 keeps an image that cannot be resumed,
// which the kernel's failed load would not.
func (b *Machine) ReadArea(dev *blockdev.Device, offset uint64, whole bool) (*swsusp.Area, error) {
	p := b.FS.Path(strings.TrimPrefix(dev.Path, "/"))
	size := dev.Size
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		size = st.Size() // a fake tree's device, or a swap file's
	}
	f, err := sysfs.OpenRaw(p)
	if err != nil {
		return nil, fmt.Errorf("open resume device %s: %w", dev.Path, err)
	}
	defer f.Close()
	read := swsusp.ReadAreaHead
	if whole {
		read = swsusp.ReadArea
	}
	var r io.ReaderAt = f
	if offset == 0 && len(dev.SwapPage) == swsusp.PageSize {
		// The look just read the header page to find the device: not a second wait on the
		// disk (its cache went with the look's close).
		r = firstPage{page: dev.SwapPage, rest: f}
	}
	a, err := read(r, size, offset)
	if err != nil {
		return nil, fmt.Errorf("read swap area on %s: %w", dev.Path, err)
	}
	return a, nil
}

// firstPage reads page 0 from page, already read, and everything else from rest.
type firstPage struct {
	page []byte
	rest io.ReaderAt
}

func (f firstPage) ReadAt(p []byte, off int64) (int, error) {
	if off == 0 && len(p) <= len(f.page) {
		return copy(p, f.page), nil
	}
	return f.rest.ReadAt(p, off)
}

// StartResume asks the kernel to restore the image: resume_offset first (it triggers nothing),
// then the device number to /sys/power/resume, which starts the restore at once. On success
// this never returns (the restored kernel goes on from where it hibernated); when it returns,
// the kernel refused or failed the image, and has already written the swap signature back.
func (b *Machine) StartResume(dev *blockdev.Device, offset uint64) error {
	if err := b.FS.WriteString("sys/power/resume_offset", fmt.Sprint(offset)); err != nil {
		return fmt.Errorf("set resume_offset %d: %w", offset, err)
	}
	b.Logf("writing %s (%s)"+WritingResume, dev.DevT(), dev.Path)
	if err := b.FS.WriteString("sys/power/resume", dev.DevT()); err != nil {
		return fmt.Errorf("resume from %s (%s): %w", dev.Path, dev.DevT(), err)
	}
	return errors.New("the kernel did not restore the image (see the kernel's messages above)")
}

// DiscardImage invalidates the image as the kernel does, so that the area is plain swap again.
func (b *Machine) DiscardImage(dev *blockdev.Device, offset uint64) error {
	f, err := os.OpenFile(b.FS.Path(strings.TrimPrefix(dev.Path, "/")), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s to discard the image: %w", dev.Path, err)
	}
	if _, err := swsusp.Discard(f, offset, false); err != nil {
		f.Close()
		return fmt.Errorf("discard image on %s: %w", dev.Path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", dev.Path, err)
	}
	return f.Close()
}

// Settle gathers the decision's inputs: which device, what it holds. When the device is not
// there after the drivers of the devices present (ld's coldplug), it coldplugs again and then
// loads the rest of the modules, while it waits.
func (b *Machine) Settle(p Params, cfg config.Config, ld *Loader) Input {
	in := Input{Params: p, RunningRelease: b.Release, HibernationOff: hibernationOff(b.FS, p)}
	spec := p.Resume
	offset := p.ResumeOffset
	from := "resume="
	if spec == "" {
		spec, from = cfg.Resume, "the initramfs's config"
		if !p.HasOffset {
			offset = cfg.ResumeOffset
		}
	}
	if in.Location = b.readLocation(cfg, ld); in.Location != nil && spec == "" {
		h := in.Location
		spec, offset, in.FromLocation = locationSpec(h), h.Offset, true
		b.Logf(LocationUsed+" (%s)", h.UUID, h.Offset, h)
	}
	wait := p.Wait
	if cfg.WaitSeconds > 0 && p.Wait == DefaultWait {
		wait = time.Duration(cfg.WaitSeconds * float64(time.Second))
	}
	if p.ResumeWait {
		wait = -1
	}
	if p.ResumeDelay > 0 {
		b.Logf("resumedelay: waiting %s", p.ResumeDelay)
		b.Sleep(p.ResumeDelay)
	}
	more := b.moreModules(ld)
	start := b.Now()
	found, dev, err := b.FindResumeDevice(spec, wait, more)
	in.DeviceSpec, in.Scanned = found, spec == ""
	if err != nil {
		in.ReadErr = err
		return in
	}
	if dev == nil {
		return in
	}
	in.Device = dev.Path
	b.warnIfElsewhere(in, dev, offset, from)
	found0 := b.Now()
	in.Area, in.ReadErr = b.ReadArea(dev, offset, p.Keep)
	in.dev, in.offset = dev, offset
	b.Logf(ResumeDeviceIs+" (found in %d ms, its swap area read in %d ms)", spec, dev.Path,
		(found0 - start).Milliseconds(), (b.Now() - found0).Milliseconds())
	return in
}

// moreModules is FindResumeDevice's more for a wait at boot: the drivers of the devices present
// are queued (Init's coldplug): it loads them one at a time, looking for the device after each,
// and queues the drivers of the devices they bring. Once none is left and the device has not
// come for half a second, it loads the rest of the modules: the device may be behind a driver
// no device asked for. nil without a loader.
func (b *Machine) moreModules(ld *Loader) func() (coming, loaded bool) {
	if ld == nil {
		return nil
	}
	var idleSince time.Duration = -1
	return func() (coming, loaded bool) {
		if ld.rest {
			return ld.Busy(), false // every module asked for: nothing to match any more
		}
		t := b.Now()
		if m := ld.Coldplug(); len(m) > 0 {
			b.Logf("loading %d modules for the devices that appeared: %s", len(m), moduleNames(m))
		}
		if ld.LoadNext() {
			idleSince = -1
			return true, true
		}
		if ld.Busy() {
			idleSince = -1
			return true, false
		}
		if idleSince < 0 {
			idleSince = t
		}
		if t-idleSince < 500*time.Millisecond {
			return true, false
		}
		ld.LoadRest()
		b.logLoadedSince(ld, "the rest of the modules, the resume device not being there yet,", t)
		return true, true
	}
}
