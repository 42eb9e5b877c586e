package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
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
}

func initramfsBuildFlags(env Env) (*flagSet, *initramfsBuildArgs) {
	var a initramfsBuildArgs
	fs := newFlags(env, "initramfs build", "[--kernel-release R] [--modules DIR] [--out FILE] [flags]", `
Builds the initramfs that resumes hibernation images at boot, for kernel R: the compiled
base that ships with hibernate (our /init, u-root's shell tools), R's storage modules with
their dependencies in load order (from each module's .modinfo; no depmod needed), and the
config /init reads. Needs no Go toolchain; the same inputs give the same bytes.`)
	fs.StringVar(&a.root, "root", "/", "the machine's root: its running kernel and mounts are read below it (a fake tree in tests)")
	fs.StringVar(&a.o.KernelRelease, "kernel-release", "", "kernel release (uname -r) to build for (default: the running kernel's)")
	fs.StringVar(&a.modDir, "modules", "", "that kernel's module folder (default /lib/modules/R); an unpacked kernel package's lib/modules/R works")
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
		a.modDir = filepath.Join("/lib/modules", o.KernelRelease)
	}
	o.ModulesDir = a.modDir
	if !fs.Changed("modules") {
		// For this machine (its own /lib/modules): only if our /init can bring it up, with what
		// mounts its / and /boot.
		if err := checkMachine(machine, o); err != nil {
			return err
		}
	}
	if fs.Changed("modules-only") {
		o.Modules = a.only
	}
	if a.out == "" {
		a.out = filepath.Join("/boot", "initrd.img-"+o.KernelRelease)
	}
	var buf bytes.Buffer
	res, err := initramfs.Build(*o, &buf)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(a.out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	printBuild(env, a.out, *o, res)
	return nil
}

// checkMachine refuses a machine whose /, /boot or resume device sits on a layer our /init
// cannot bring up (the initramfs would leave it unbootable), and adds the modules of the file
// systems it mounts.
func checkMachine(machine sysfs.FS, o *initramfs.Options) error {
	resumeSpec := o.Config.Resume
	if resumeSpec == "" {
		if devt, err := machine.ReadString("sys/power/resume"); err == nil && devt != "0:0" {
			resumeSpec = devt
		}
	}
	if _, err := initramfs.CheckStacks(machine, resumeSpec); err != nil {
		return &ExitError{Code: 3, Err: fmt.Errorf("refusing, nothing written: %w; keep the distribution's initramfs", err)}
	}
	if mounts, err := machine.Mounts(); err == nil {
		o.AddModules = append(initramfs.MountedFSModules(mounts), o.AddModules...)
	}
	return nil
}

// printBuild says what went into the initramfs at out.
func printBuild(env Env, out string, o initramfs.Options, res initramfs.Result) {
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
}

// writeFileAtomic puts data at path so that a power cut at any moment leaves either the old
// file or the new one, whole: it writes a file beside it, syncs it, renames it over path and
// syncs the folder (without the syncs a crash can leave an empty /boot/initrd.img).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".hibernate-new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
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
