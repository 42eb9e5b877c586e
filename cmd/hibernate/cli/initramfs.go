package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/initramfs/postupdate"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// baseArchiveName is the compiled u-root part of the initramfs, installed beside hibernate as
// PREFIX/lib/hibernate/initramfs-base.cpio.
const baseArchiveName = "initramfs-base.cpio"

func defaultBase() string {
	for _, p := range []string{
		filepath.Join(exeDir(), "..", "lib", "hibernate", baseArchiveName),
		filepath.Join("/usr/lib/hibernate", baseArchiveName),
		filepath.Join("/usr/local/lib/hibernate", baseArchiveName),
	} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p)
		}
	}
	return filepath.Join("/usr/lib/hibernate", baseArchiveName)
}

// initramfsBuildArgs is the parsed command line of initramfs build.
type initramfsBuildArgs struct {
	o                          initramfs.Options
	root, modDir, out, cfgFile string
	only                       []string
	luks, lvm                  []string // --luks NAME=SOURCE[,…], --lvm VG/LV
	noBootHooks                bool
}

func initramfsBuildFlags(env Env) (*flagSet, *initramfsBuildArgs) {
	var a initramfsBuildArgs
	fs := newFlags(env, "initramfs build", "[--kernel-release R] [--modules DIR] [--out FILE] [flags]", `
Builds the initramfs that resumes hibernation images at boot, for kernel R: the compiled
base that ships with hibernate (our /init, u-root's shell tools), R's storage modules with
their dependencies in load order (from each module's .modinfo; no depmod needed), and the
config /init reads. Needs no Go toolchain; the same inputs give the same bytes.

Built for this machine (no --modules), it reads how /, /boot and the resume device are
stacked and refuses (exit 3, nothing written) what /init cannot bring up. LUKS volumes on
partitions or disks and linear LVM LVs on those it takes, with cryptsetup and lvm (and their
libraries) from this machine, the device-mapper and crypto modules, and each volume's
discard and key file as /etc/crypttab says; an initramfs holding a key file is written mode
0600. A cross build names its volumes and LVs with --luks and --lvm.

Written to /boot/initrd.img-R (no --out) on this machine, it then runs the boot loaders' hooks
in /etc/initramfs/post-update.d with R and that path, as update-initramfs does: systemd-boot's
copies the new initramfs to the EFI system partition (kernel-install add), where its menu
entry reads it; without that the next boot would run the old one. A hook that fails fails the
build (exit 1; the file in /boot is written).`)
	fs.StringVar(&a.root, "root", "/", "the machine's root: its running kernel and mounts are read below it (a fake tree in tests)")
	fs.StringVar(&a.o.KernelRelease, "kernel-release", "", "kernel release (uname -r) to build for (default: the running kernel's)")
	fs.StringVar(&a.modDir, "modules", "", "that kernel's module folder (default /lib/modules/R or /usr/lib/modules/R below the --root), or an unpacked kernel package holding it in lib/modules/R or usr/lib/modules/R")
	fs.StringVar(&a.out, "out", "", "output file (default /boot/initrd.img-R)")
	fs.StringVar(&a.o.Base, "base", defaultBase(), "the base archive built with hibernate")
	// Its default is found on the machine: the man page says where it is looked for instead.
	fs.SetAnnotation("base", DocDefault, []string{"PREFIX/lib/hibernate/" + baseArchiveName + " where hibernate is PREFIX/sbin/hibernate, else /usr/lib/hibernate or /usr/local/lib/hibernate"})
	fs.StringVar(&a.o.Compress, "compress", "zstd", "zstd, gzip, xz or none (the kernel must be built to decompress it: Debian's are, for all four)")
	fs.StringSliceVar(&a.o.AddModules, "add-module", nil, "another module to include (with its dependencies); repeatable")
	fs.StringSliceVar(&a.only, "modules-only", nil, "replace the default module set ("+strings.Join(initramfs.DefaultModules, ",")+")")
	fs.StringVar(&a.o.Config.Resume, "resume", "", "resume device for /init when the kernel command line has no resume= (UUID=..., /dev/...)")
	fs.Uint64Var(&a.o.Config.ResumeOffset, "resume-offset", 0, "resume offset in pages, with --resume (swap files)")
	fs.StringVar(&a.cfgFile, "config", "/etc/hibernate/resume.json", "resume device and offset that hibernate setup --write-boot-config wrote; --resume wins over it")
	fs.StringArrayVar(&a.luks, "luks", nil, "a LUKS volume for /init to unlock, as `NAME=SOURCE`[,discard][,keyfile=PATH]: /dev/mapper/NAME opened from SOURCE (UUID=..., PARTUUID=... or /dev/...); discard passes discards down; PATH is a key file on this machine, copied into the initramfs (then written mode 0600); repeatable, unlocked in order")
	fs.StringArrayVar(&a.lvm, "lvm", nil, "an LVM LV for /init to activate once the volumes are open, as `VG/LV`; repeatable")
	fs.BoolVar(&a.noBootHooks, "no-boot-hooks", false, "do not run /etc/initramfs/post-update.d after writing /boot/initrd.img-R (the boot loader's copy, if it keeps one, stays the old one)")
	fs.StringVar(&a.o.ToolsRoot, "tools-root", "", "the root that cryptsetup, lvm and their libraries are taken from (default: the --root)")
	return fs, &a
}

func runInitramfs(env Env, args []string) error {
	if len(args) == 0 || args[0] != "build" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, "Usage: hibernate initramfs build [flags]   (see hibernate initramfs build --help)")
			return nil
		}
		return fmt.Errorf("want 'hibernate initramfs build': %w", errUsage)
	}
	fs, a := initramfsBuildFlags(env)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	o := &a.o
	machine := sysfs.New(a.root)
	running, err := machine.Uname()
	if o.KernelRelease == "" {
		if err != nil {
			return fmt.Errorf("no --kernel-release, and the running kernel's is unknown: %w", err)
		}
		o.KernelRelease = running.Release
	}
	if !fs.Changed("config") {
		a.cfgFile = machine.Path(strings.TrimPrefix(a.cfgFile, "/"))
	}
	if !fs.Changed("resume") {
		if err := readResumeConfig(a.cfgFile, &o.Config, fs.Changed("config")); err != nil {
			return err
		}
	}
	if a.modDir == "" {
		// lib/modules/R or usr/lib/modules/R below it: Build finds the one there is.
		a.modDir = machine.Path()
	}
	o.ModulesDir = a.modDir
	if o.ToolsRoot == "" {
		o.ToolsRoot = a.root
	}
	var notes []string
	if !fs.Changed("modules") {
		// For this machine (its own /lib/modules): only if our /init can bring it up, with what
		// mounts its / and /boot, unlocks its volumes and activates its LVs.
		if notes, err = checkMachine(machine, o); err != nil {
			return err
		}
	}
	if err := addVolumeFlags(&o.Config, a.luks, a.lvm); err != nil {
		return err
	}
	if !fs.Changed("resume") {
		// The resume device of this machine's setup: a hibernation file is said by its name.
		if hf, err := swapsetup.HibernationFile(machine); err == nil && hf != "" && o.Config.Resume != "" {
			o.Config.HibernationFile = hf
			notes = append(notes, fmt.Sprintf("the resume device %s at page %d is the hibernation file %s (setup --hibernate-only)", o.Config.Resume, o.Config.ResumeOffset, hf))
		}
	}
	osr, note := systemOSRelease(a.root)
	o.Config.OSRelease = osr
	if note != "" {
		notes = append(notes, note)
	}
	if fs.Changed("modules-only") {
		o.Modules = a.only
	}
	hooks := a.out == "" && !a.noBootHooks && filepath.Clean(a.root) == "/"
	if a.out == "" {
		a.out = filepath.Join("/boot", "initrd.img-"+o.KernelRelease)
	}
	if err := buildAndWrite(env, a.out, *o, notes); err != nil {
		return err
	}
	if !hooks {
		return nil
	}
	return runBootHooks(env, "/"+postupdate.Dir, o.KernelRelease, a.out, postupdate.Exec{Stdout: env.Stdout, Stderr: env.Stderr})
}

// runBootHooks runs the boot loaders' hooks of dir for the initramfs of release just written to
// initrd, and says which ran and which were skipped.
func runBootHooks(env Env, dir, release, initrd string, r postupdate.Runner) error {
	hooks, err := postupdate.Run(dir, release, initrd, r)
	for _, h := range hooks {
		if h.Skipped != "" {
			fmt.Fprintf(env.Stdout, "boot loader hook %s: skipped (%s)\n", h.Path, h.Skipped)
		}
	}
	if err != nil {
		return fmt.Errorf("%s is written, but %w: the boot loader may still read the old initramfs; fix the hook and run hibernate initramfs build again", initrd, err)
	}
	var ran []string
	for _, h := range hooks {
		if h.Skipped == "" {
			ran = append(ran, h.Path)
		}
	}
	if len(ran) > 0 {
		fmt.Fprintf(env.Stdout, "ran the boot loaders' hooks for %s: %s\n", initrd, strings.Join(ran, " "))
	}
	return nil
}

// systemOSRelease is what /init compares systemd's HibernateLocation EFI variable with: the ID
// and IMAGE_ID of the os-release below root, read as systemd reads it (etc/os-release, else
// usr/lib/os-release). Without one the initramfs says nothing of its system, and a note says
// what that costs: /init then never resumes from the variable (it would match any system's).
func systemOSRelease(root string) (*config.OSRelease, string) {
	osr, err := efivars.ReadOSRelease(root)
	if err != nil {
		return nil, fmt.Sprintf("%v: /init will not resume from systemd's HibernateLocation EFI variable (it cannot tell whether the variable is this system's)", err)
	}
	return &config.OSRelease{ID: osr.Fields["ID"], ImageID: osr.Fields["IMAGE_ID"]}, ""
}

// buildAndWrite builds the initramfs and writes it to out, mode 0600 when it holds key files.
func buildAndWrite(env Env, out string, o initramfs.Options, notes []string) error {
	var buf bytes.Buffer
	res, err := initramfs.Build(o, &buf)
	if errors.Is(err, initramfs.ErrCannotBoot) {
		return &ExitError{Code: 3, Err: fmt.Errorf("refusing, nothing written: %w; keep the distribution's initramfs", err)}
	}
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if res.Private() {
		mode = 0o600
	}
	if err := writeFileAtomic(out, buf.Bytes(), mode); err != nil {
		return err
	}
	printBuild(env, out, o, res, notes)
	return nil
}

// checkMachine refuses a machine whose /, /boot or resume device sits on a layer our /init
// cannot bring up (the initramfs would leave it unbootable); else it adds the modules of the
// file systems it mounts, and the volumes and LVs its stacks need. It returns what the stacks
// did not tell, for the output.
func checkMachine(machine sysfs.FS, o *initramfs.Options) ([]string, error) {
	resumeSpec := o.Config.Resume
	if resumeSpec == "" {
		if devt, err := machine.ReadString("sys/power/resume"); err == nil && devt != "0:0" {
			resumeSpec = devt
		}
	}
	refuse := func(err error) error {
		if errors.Is(err, initramfs.ErrCannotBoot) {
			return &ExitError{Code: 3, Err: fmt.Errorf("refusing, nothing written: %w; keep the distribution's initramfs", err)}
		}
		return err
	}
	uses, err := initramfs.CheckStacks(machine, resumeSpec)
	if err != nil {
		return nil, refuse(err)
	}
	b, err := initramfs.PlanBringup(machine, uses)
	if err != nil {
		return nil, refuse(err)
	}
	o.Config.Volumes, o.Config.LVs = b.Volumes, b.LVs
	if mounts, err := machine.Mounts(); err == nil {
		o.AddModules = append(initramfs.MountedFSModules(mounts), o.AddModules...)
	}
	return b.Notes, nil
}

// printBuild says what went into the initramfs at out.
func printBuild(env Env, out string, o initramfs.Options, res initramfs.Result, notes []string) {
	var names []string
	for _, m := range res.Modules {
		names = append(names, m.Name)
	}
	fmt.Fprintf(env.Stdout, "%s: initramfs for %s, %d modules (%s), %.1f MiB (%.1f MiB uncompressed, %s)\n",
		out, o.KernelRelease, len(res.Modules), strings.Join(names, " "),
		float64(res.Compressed)/(1<<20), float64(res.Uncompressed)/(1<<20), o.Compress)
	if len(res.Missing) > 0 {
		fmt.Fprintf(env.Stdout, "not in this kernel, left out: %s\n", strings.Join(res.Missing, " "))
	}
	if len(res.Builtin) > 0 {
		fmt.Fprintf(env.Stdout, "built into the kernel, not needed: %s\n", strings.Join(res.Builtin, " "))
	}
	if len(res.Tools) > 0 {
		fmt.Fprintf(env.Stdout, "tools from %s: %s, with %d libraries and loaders (%.1f MiB uncompressed)\n",
			o.ToolsRoot, strings.Join(res.Tools, " "), res.Libraries, float64(res.ToolBytes)/(1<<20))
	}
	for _, v := range o.Config.Volumes {
		fmt.Fprintf(env.Stdout, "unlocks %s (%s)\n", v.Name, describeVolume(v))
	}
	if len(o.Config.LVs) > 0 {
		fmt.Fprintf(env.Stdout, "then activates %s\n", strings.Join(o.Config.LVs, " "))
	}
	if r := o.Config.OSRelease; r != nil {
		fmt.Fprintf(env.Stdout, "for the system with os-release ID=%s IMAGE_ID=%s: /init resumes from systemd's HibernateLocation EFI variable when it names that system and no resume= is given\n", orNone(r.ID), orNone(r.ImageID))
	}
	for _, n := range notes {
		fmt.Fprintln(env.Stdout, "note: "+n)
	}
	if res.Private() {
		fmt.Fprintf(env.Stdout, "it holds key files (%s): written mode 0600, readable by root alone; keep copies of it as private as the keys\n", strings.Join(res.KeyFiles, " "))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func describeVolume(v config.Volume) string {
	d := []string{v.Source}
	if v.Discard {
		d = append(d, "discard")
	}
	if v.KeyFile != "" {
		d = append(d, "key file "+v.KeyFile+", copied in")
	} else {
		d = append(d, "asks for the passphrase")
	}
	return strings.Join(d, ", ")
}

// addVolumeFlags adds --luks and --lvm to c: a volume of a name c has already is replaced.
func addVolumeFlags(c *config.Config, luks, lvm []string) error {
	for _, s := range luks {
		v, err := parseLUKSFlag(s)
		if err != nil {
			return err
		}
		c.Volumes = slices.DeleteFunc(c.Volumes, func(o config.Volume) bool { return o.Name == v.Name })
		c.Volumes = append(c.Volumes, v)
	}
	for _, s := range lvm {
		vg, lv, ok := strings.Cut(s, "/")
		if !ok || vg == "" || lv == "" || strings.Contains(lv, "/") {
			return fmt.Errorf("--lvm %q: want VG/LV: %w", s, errUsage)
		}
		if !slices.Contains(c.LVs, s) {
			c.LVs = append(c.LVs, s)
		}
	}
	return nil
}

// parseLUKSFlag reads --luks NAME=SOURCE[,discard][,keyfile=PATH].
func parseLUKSFlag(s string) (config.Volume, error) {
	bad := func(why string) (config.Volume, error) {
		return config.Volume{}, fmt.Errorf("--luks %q: %s (want NAME=SOURCE[,discard][,keyfile=PATH]): %w", s, why, errUsage)
	}
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || strings.Contains(name, "/") {
		return bad("no NAME=")
	}
	parts := strings.Split(rest, ",")
	v := config.Volume{Name: name, Source: parts[0]}
	k, val, _ := strings.Cut(v.Source, "=")
	if !strings.HasPrefix(v.Source, "/dev/") && (k != "UUID" && k != "PARTUUID" || val == "") {
		return bad("SOURCE is not UUID=…, PARTUUID=… or /dev/…")
	}
	for _, opt := range parts[1:] {
		switch k, val, _ := strings.Cut(opt, "="); {
		case opt == "discard":
			v.Discard = true
		case k == "keyfile" && val != "":
			v.KeyFile = val
		default:
			return bad("unknown option " + opt)
		}
	}
	return v, nil
}

// writeFileAtomic puts data at path so that a power cut at any moment leaves either the old
// file or the new one, whole: it writes a file beside it, syncs it, renames it over path and
// syncs the folder (without the syncs a crash can leave an empty /boot/initrd.img).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".hibernate-new"
	// A file left there by a crash keeps its mode through O_TRUNC: a new one gets mode, which
	// is 0600 for an initramfs holding key files.
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install %s: %w", path, err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync the folder of %s: %w", path, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync the folder of %s: %w", path, err)
	}
	return nil
}

// readResumeConfig takes resume and resume_offset from setup's JSON file. A missing file is fine
// unless it was named on the command line.
func readResumeConfig(path string, c *config.Config, named bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && !named {
			return nil
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	var v struct {
		Resume       string `json:"resume"`
		ResumeOffset uint64 `json:"resume_offset"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	c.Resume, c.ResumeOffset = v.Resume, v.ResumeOffset
	return nil
}
