package resume

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// Init is our /init, PID 1 of the initramfs. It reads top to bottom as the boot story:
// mount the kernel's file systems, read the command line and our config, load the storage
// modules, find the resume device, decide, act; then mount root and hand over to its init.
// It returns only when everything failed; main then starts the emergency shell.
func Init() error {
	b := &Machine{FS: "/", Out: os.Stdout, Now: uptime, Sleep: time.Sleep}
	tStart := b.Now()
	if err := mountEarly(); err != nil {
		return err
	}
	tMounted := b.Now()
	u, err := b.FS.Uname()
	if err != nil {
		return err
	}
	b.Release = u.Release
	b.Logf("%s%s", Starting, b.Release)
	raw, err := b.FS.Cmdline()
	if err != nil {
		return err
	}
	p, err := ParseCmdline(raw)
	if err != nil {
		b.Logf("%v: going on with what could be read", err)
	}
	tCmdline := b.Now()
	cfg := config.Config{Format: config.Format}
	if data, err := os.ReadFile("/" + config.Path); err == nil {
		if cfg, err = config.Parse(data); err != nil {
			b.Logf("%v", err)
		} else if cfg.Devices == nil {
			cfg.Devices = readDevices()
		}
	} else {
		b.Logf("no /%s: no modules to load, resume device from the command line only", config.Path)
	}
	ld := NewLoader(b, cfg)
	ld.Debug, b.Debug = p.Debug, p.Debug
	b.dropEFIVarFS(ld)
	if p.Debug {
		b.Logf("mounts %d ms, command line %d ms, config (%d modules) %d ms", (tMounted - tStart).Milliseconds(),
			(tCmdline - tMounted).Milliseconds(), len(cfg.Modules), (b.Now() - tCmdline).Milliseconds())
	}
	if m := ld.Coldplug(); len(m) > 0 {
		b.Logf("loading %d modules for the devices present: %s", len(m), moduleNames(m))
	} else {
		b.Logf("no module for the devices present (their drivers are built in, or not in this initramfs)")
	}

	if len(Volumes(cfg, p)) > 0 || len(LVs(cfg, p)) > 0 {
		// dm-crypt and the ciphers are no device's driver: in before cryptsetup asks for them.
		b.loadRest(ld)
		if err := b.BringUp(p, cfg, b.moreModules(ld)); err != nil {
			b.Logf("%v: powering off; nothing was written to any disk (power on to try again)", err)
			return powerOff()
		}
	}
	in := b.Settle(p, cfg, ld)
	d := Decide(in)
	b.Logf("%s", d.Reason)
	switch d.Action {
	case Kexec:
		b.loadRest(ld)
		if err := b.kexecToRecord(in, string(raw)); err != nil {
			b.Logf("%v: trying to resume in place", err)
		}
		b.resumeInPlace(in, string(raw), ld)
	case Resume:
		b.resumeInPlace(in, string(raw), ld)
	case PowerOff:
		return powerOff()
	}
	if err := b.bootWithoutImage(in, d); err != nil {
		b.Logf("%v: powering off rather than mounting root with an image that a later boot would resume", err)
		return powerOff()
	}
	b.loadRest(ld)
	b.forgetKeys()
	return b.switchToRoot(p, in)
}

// readDevices reads the devices table of a format 3 config (config.DevicesPath); nil when
// there is none (no module then has a device: all load after the decision).
func readDevices() map[string][]string {
	data, err := os.ReadFile("/" + config.DevicesPath)
	if err != nil {
		return nil
	}
	return config.ParseDevices(data)
}

func powerOff() error {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	return nil
}

// kexecToRecord boots the kernel that made the image, as its record says.
func (b *Machine) kexecToRecord(in Input, cmdline string) error {
	rec := in.Area.Record
	kf, err := b.FetchKernel(rec, "/run/hibernate/kexec")
	if err != nil {
		return err
	}
	b.Logf("found kernel %s: %s", rec.KernelRelease, kf.From)
	if len(b.keys) > 0 {
		undo, err := appendKeys(kf.Initrd, b.keys)
		if err != nil {
			b.Logf("%v: its /init will ask for the passphrases again", err)
		} else {
			defer undo() // the kexec did not happen: the keys go back off the copy
			b.Logf("%s%d", KeysPassed, len(b.keys))
		}
	}
	return b.KexecInto(kf, kexecCmdline(locationCmdline(in, cmdline)))
}

// bootWithoutImage is what comes after a decision to boot, a discard, or a resume or a kexec
// that failed: root is mounted only once no image of this machine is left on the device (read
// back), and the HibernateLocation variable that named it is cleared then; an error means an
// image may remain (the caller powers off, the variable kept with the image).
func (b *Machine) bootWithoutImage(in Input, d Decision) error {
	if err := b.ensureNoImage(in, d); err != nil {
		return err
	}
	b.clearLocation(in, "no image resumed from it: booting")
	b.configureNextHibernation(in, d)
	return nil
}

// resumeInPlace hands the image to this kernel. The header page is saved first: when the kernel
// refuses the image it has already written the swap signature back, and if the record names
// another kernel that can be found, the header is put back and that kernel is kexec'ed to resume
// it (unless this boot is that kexec already). Otherwise the image is gone, and it says so.
func (b *Machine) resumeInPlace(in Input, cmdline string, ld *Loader) {
	if ld != nil {
		ld.Hold()
	}
	// The page as the decision read it (nobody has written the device since): a read here
	// would be a wait on the disk of its own, the device's cache gone with the last close.
	var saved []byte
	var serr error
	if in.Area != nil {
		saved = in.Area.HeaderPage
	}
	if saved == nil {
		saved, serr = b.readHeaderPage(in)
	}
	b.loadDecompressor(in, ld)
	b.clearLocation(in, "before writing"+WritingResume)
	err := b.StartResume(in.dev, in.offset)
	b.Logf("resume failed: %v", err)
	switch sig, rerr := b.headerSig(in); {
	case rerr != nil:
		b.Logf("%v", rerr)
		return
	case sig == swsusp.SigSwsusp:
		b.Logf("the kernel did not take the image on %s (its signature is still there)", in.Device)
		return
	}
	rec := in.Area.Record
	if rec == nil || rec.KernelRelease == "" || rec.KernelRelease == b.Release || in.Params.Kexeced || serr != nil {
		b.Logf("the kernel has discarded the image of %s (read back: no image signature); booting", in.Device)
		return
	}
	if err := b.writeHeaderPage(in, saved); err != nil {
		b.Logf("cannot put the image header back on %s (%v): the image is lost; booting", in.Device, err)
		return
	}
	b.Logf("image header put back on %s: trying the kernel that made it, %s", in.Device, rec.KernelRelease)
	b.loadRest(ld)
	if err := b.kexecToRecord(in, cmdline); err != nil {
		b.Logf("%v", err)
	}
	b.Logf("the image on %s cannot be resumed by this kernel nor by %s", in.Device, rec.KernelRelease)
}

// readHeaderPage reads the header page of the area /init decided about.
func (b *Machine) readHeaderPage(in Input) ([]byte, error) {
	f, err := os.Open(b.FS.Path(strings.TrimPrefix(in.dev.Path, "/")))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", in.dev.Path, err)
	}
	defer f.Close()
	page := make([]byte, swsusp.PageSize)
	if _, err := f.ReadAt(page, int64(in.offset)*swsusp.PageSize); err != nil {
		return nil, fmt.Errorf("read the swap header of %s: %w", in.dev.Path, err)
	}
	return page, nil
}

func (b *Machine) writeHeaderPage(in Input, page []byte) error {
	f, err := os.OpenFile(b.FS.Path(strings.TrimPrefix(in.dev.Path, "/")), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(page, int64(in.offset)*swsusp.PageSize); err != nil {
		return err
	}
	return f.Sync()
}

func mountEarly() error {
	for _, m := range []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, unix.MS_NOSUID, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	return nil
}

// loadRest loads the modules the devices did not ask for (file systems, dm-crypt), which
// mounting root or the boot file system may need.
func (b *Machine) loadRest(ld *Loader) {
	start := b.Now()
	if ld.LoadRest() {
		b.logLoadedSince(ld, "the rest of the modules", start)
		return
	}
	failed, _ := ld.Failures() // of the loads before the decision
	for _, f := range failed {
		b.Logf("%s%s", LoadModuleFailed, f)
	}
}

// logLoadedSince says how long the last LoadRest took.
func (b *Machine) logLoadedSince(ld *Loader, what string, start time.Duration) {
	failed, loaded := ld.Failures()
	for _, f := range failed {
		b.Logf("%s%s", LoadModuleFailed, f)
	}
	b.Logf("loaded %s in %d ms (%d failed; %d modules in the kernel from this initramfs)", what, (b.Now() - start).Milliseconds(), len(failed), loaded)
}

// switchToRoot mounts the root file system that root= names and executes its init.
func (b *Machine) switchToRoot(p Params, in Input) error {
	if p.Root == "" {
		return errors.New("no root= on the kernel command line")
	}
	_, dev, err := b.findRoot(p.Root)
	if err != nil {
		return err
	}
	if dev.Probe.Type == "" {
		// Found by a spec that needs no look inside (PARTUUID=, /dev/…): look now, for the
		// file system type and the UUID the image record names root by.
		if f, err := os.Open(b.FS.Path(strings.TrimPrefix(dev.Path, "/"))); err == nil {
			dev.Probe, _ = blockdev.ProbeReader(f)
			f.Close()
		}
	}
	fstype := p.RootFSType
	if fstype == "" {
		fstype = dev.Probe.Type
	}
	if fstype == "" {
		return fmt.Errorf("root %s (%s): unknown file system type; say rootfstype=", p.Root, dev.Path)
	}
	var flags uintptr
	if p.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	const newRoot = "/newroot"
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(dev.Path, newRoot, fstype, flags, p.RootFlags); err != nil {
		return fmt.Errorf("mount root %s (%s, %s, flags %q): %w", dev.Path, p.Root, fstype, p.RootFlags, err)
	}
	init := p.Init
	if init == "" {
		for _, c := range []string{"/sbin/init", "/etc/init", "/bin/init", "/lib/systemd/systemd"} {
			if _, err := os.Stat(filepath.Join(newRoot, c)); err == nil {
				init = c
				break
			}
		}
	}
	if init == "" {
		return fmt.Errorf("root %s has no /sbin/init; say init=", dev.Path)
	}
	b.stampRecord(in, newRoot, dev)
	b.recordForUdev()
	b.Logf("mounted %s (%s) on /, switching to %s", dev.Path, fstype, init)
	return switchRoot(newRoot, init)
}

func (b *Machine) findRoot(spec string) (string, *blockdev.Device, error) {
	_, dev, err := b.FindResumeDevice(spec, 30*time.Second, nil)
	if err != nil {
		return "", nil, fmt.Errorf("root %s: %w", spec, err)
	}
	if dev == nil {
		return "", nil, fmt.Errorf("root device %s did not appear within 30 s", spec)
	}
	return spec, dev, nil
}

// stampRecord writes our image record for this boot into the resume device's swap header, while
// the area is not active yet (an active one cannot be written). The record names this kernel and
// where its image and initramfs are, so that a boot under another kernel can kexec into this one.
// It stamps only a plain swap area: StampRecord refuses an image or anything else.
func (b *Machine) stampRecord(in Input, newRoot string, rootDev *blockdev.Device) {
	if in.dev == nil || in.Area == nil {
		return
	}
	switch in.Area.Sig {
	case swsusp.SigSwap, swsusp.SigSwsusp: // a swap area, or an image discarded just now
	default:
		return
	}
	rec := imagerecord.ThisBoot(b.FS, newRoot, rootDev.Probe.UUID, time.Now())
	f, err := os.OpenFile(b.FS.Path(strings.TrimPrefix(in.dev.Path, "/")), os.O_RDWR, 0)
	if err != nil {
		b.Logf("cannot stamp the image record on %s: %v", in.dev.Path, err)
		return
	}
	defer f.Close()
	if err := swsusp.StampRecord(f, in.offset, rec); err != nil {
		b.Logf("cannot stamp the image record on %s: %v", in.dev.Path, err)
		return
	}
	if err := f.Sync(); err != nil {
		b.Logf("sync %s: %v", in.dev.Path, err)
		return
	}
	b.Logf("image record for %s (kernel %s) stamped on %s", b.Release, rec.KernelPath, in.dev.Path)
}

// switchRoot moves the kernel file systems into newRoot, frees the initramfs, makes newRoot
// the root and executes init there, as util-linux switch_root does. u-root's mount.SwitchRoot
// was passed over: it starts init with an empty environment.
func switchRoot(newRoot, init string) error {
	for _, m := range []string{"/dev", "/proc", "/sys", "/run"} {
		target := filepath.Join(newRoot, m)
		if err := os.MkdirAll(target, 0o755); err != nil {
			// A read-only root without the folder: the mount stays where it is.
			continue
		}
		if err := unix.Mount(m, target, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s to %s: %w", m, target, err)
		}
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	freeInitramfs()
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", newRoot, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	env := []string{"HOME=/", "TERM=linux", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return unix.Exec(init, []string{init}, env)
}

// freeInitramfs deletes the initramfs's files (rootfs, on the device of "/"), so their memory
// is not carried in every hibernation image; mounts below / are left alone.
func freeInitramfs() {
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		return
	}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || st.Dev != root.Dev {
				continue
			}
			if e.IsDir() {
				walk(p)
			}
			os.Remove(p)
		}
	}
	walk("/")
}

// EmergencyShell runs the u-root shell on the console, or waits forever when there is none.
func EmergencyShell(why error) {
	fmt.Fprintf(os.Stdout, "%s%v\n%sstarting an emergency shell; the system is not booted\n", LinePrefix, why, LinePrefix)
	for _, sh := range []string{"/bin/sh", "/bbin/gosh"} {
		if _, err := os.Stat(sh); err == nil {
			cmd := exec.Command(sh)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			_ = cmd.Run()
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}

// loadDecompressor loads, before the write that starts the restore, the crypto module of the
// image's compressor where the kernel has it as a module: the kernel looks it up as it reads
// the image (6.9 and later: lz4 beside lzo), and a module loaded only after the decision would
// come too late. lzo is built into every kernel seen; lz4 is a module in Debian's 6.12
// (CONFIG_CRYPTO_LZ4=m).
func (b *Machine) loadDecompressor(in Input, ld *Loader) {
	if in.Area == nil || in.Area.Header == nil || in.Area.Header.Compressor() != "lz4" {
		return
	}
	p := ""
	if ld != nil {
		p = ld.Named(config.LZ4Module)
	}
	if p == "" {
		b.Logf("the image is lz4-compressed and this initramfs has no %s module: the kernel reads it only if lz4 is built in", config.LZ4Module)
		return
	}
	t := b.Now()
	if err := ld.LoadNow(p); err != nil {
		b.Logf("the image is lz4-compressed, and loading %s failed: %v", path.Base(p), err)
		return
	}
	b.Logf("the image is lz4-compressed: loaded %s (%d ms)", path.Base(p), (b.Now() - t).Milliseconds())
}
