// Package initramfs assembles the hibernate initramfs on the user's machine: the compiled base
// archive that ships with hibernate (our /init and u-root's shell tools, see initramfs/mkbase),
// a kernel's storage modules in load order, and the config that /init reads. No Go toolchain
// is needed here, and the same inputs give the same bytes.
package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/initramfs/modules"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// DefaultModules is the storage set every initramfs gets: virtio (QEMU, clouds), NVMe, SCSI
// disks, SATA/AHCI, dm-crypt (an encrypted swap or root), and ext4. Names the kernel has built
// in are skipped; names it lacks altogether are left out (the cloud flavour has no SATA). The
// order is /init's priority before the resume decision, where it loads the drivers of the
// devices present one at a time: NVMe before AHCI, as a laptop's disk is NVMe more often than its
// (often empty) SATA controller holds one. efivarfs (a module in Debian's kernels) lets /init read
// systemd's HibernateLocation EFI variable; it drives no device, and /init loads it only on a
// machine booted through UEFI (elsewhere its load fails with ENODEV). lz4 (the crypto module)
// is for an image stored lz4-compressed (hibernate now --compressor lz4, Linux 6.9 and later):
// /init loads it before such an image's restore.
var DefaultModules = []string{"virtio_pci", "virtio_blk", "virtio_scsi", "nvme", "sd_mod", "ahci", "dm_crypt", "ext4", config.EFIVarFSModule, config.LZ4Module}

// fsModules are the modules that mount a file system type, for the file systems of / and /boot.
var fsModules = map[string][]string{
	"ext4": {"ext4"}, "ext3": {"ext4"}, "ext2": {"ext4"},
	"btrfs": {"btrfs"}, "xfs": {"xfs"}, "f2fs": {"f2fs"},
	"vfat": {"vfat", "nls_cp437", "nls_iso8859_1"},
}

// MountedFSModules returns the modules for the file systems mounted (sysfs.FS.Mounts) on /,
// /boot and the EFI system partition (/boot/efi, /efi), so that an initramfs built on the
// machine can mount root, and read a kernel from any of them for kexec.
func MountedFSModules(mounts []sysfs.Mount) []string {
	seen := map[string]bool{}
	var out []string
	for _, mt := range mounts {
		if p := mt.Point; p != "/" && p != "/boot" && p != "/boot/efi" && p != "/efi" {
			continue
		}
		for _, m := range fsModules[mt.Type] {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Options say what to build.
type Options struct {
	Base          string   // the base archive (initramfs-base.cpio)
	KernelRelease string   // uname -r of the kernel this initramfs is for
	ModulesDir    string   // that kernel's module folder, or a root or unpacked package with it in [usr/]lib/modules/R (modules.FindDir)
	Modules       []string // module names; nil means DefaultModules
	AddModules    []string // more names, on top of Modules
	Compress      string   // "zstd" (default: Debian's kernels decompress it fastest), "gzip", "xz" or "none"
	// Config is what /init reads. Its Volumes' KeyFile names a key file on this machine (the
	// path to read, root prefix and all): Build copies it into the archive (KeyFileDir) and
	// the config names it there. Volumes and LVs bring in the tools and modules they need.
	Config config.Config
	// ToolsRoot is the root the tools and their libraries are read from ("" is "/"): the
	// machine's, or a guest's root for a cross build.
	ToolsRoot string
	// Tools are programs to carry (absolute paths below ToolsRoot), with their loader and
	// libraries, named in Config.Tools by their base name; nil means what Config needs:
	// cryptsetup for Volumes, lvm for LVs, found in ToolsRoot's sbin and bin folders.
	Tools []string
}

// Result says what went in.
type Result struct {
	Modules   []modules.Module
	Builtin   []string // asked for but built into the kernel
	Missing   []string // of the default set (and of CryptModules, LVMModules), not in this kernel at all
	Tools     []string // the programs carried (their paths in the archive)
	Libraries int      // the files carried for them: loaders, libraries
	ToolBytes int64    // the programs' and libraries' bytes, uncompressed
	// KeyFiles are the key files copied in (their paths in the archive): the initramfs holds
	// secrets, and is to be readable by root alone (Private).
	KeyFiles     []string
	Uncompressed int64
	Compressed   int64
}

// Private says whether the initramfs holds key files: to be written mode 0600.
func (r Result) Private() bool { return len(r.KeyFiles) > 0 }

// Build writes the initramfs to w.
func Build(o Options, w io.Writer) (Result, error) {
	var res Result
	if o.KernelRelease == "" {
		return res, fmt.Errorf("no kernel release given")
	}
	base, err := readBase(o.Base)
	if err != nil {
		return res, err
	}
	if err := baseReadsConfig(base, o.Base); err != nil {
		return res, err
	}
	cfg := o.Config
	cfg.KernelRelease = o.KernelRelease
	cfg.Modules = nil
	tools, err := neededTools(o)
	if err != nil {
		return res, err
	}
	recs, err := addModules(o, stackModules(cfg, tools), &cfg, &res)
	if err != nil {
		return res, err
	}
	toolRecs, err := addTools(o, tools, &cfg, &res)
	if err != nil {
		return res, err
	}
	keyRecs, err := addKeyFiles(&cfg, &res)
	if err != nil {
		return res, err
	}
	recs = append(append(recs, toolRecs...), keyRecs...)
	if err := notInBase(base, recs); err != nil {
		return res, err
	}
	return res, writeInitramfs(w, cfg, base, recs, o.Compress, &res)
}

// baseReadsConfig refuses a base archive whose /init (after its links) would refuse the config
// this build writes: it must carry config.InitMark, as this hibernate's hibernate-init does. An
// older hibernate's base reads an older format; its /init would boot without its module list.
func baseReadsConfig(base []cpio.Record, p string) error {
	byName := map[string]cpio.Record{}
	for _, r := range base {
		byName[path.Clean(r.Name)] = r
	}
	name := "init"
	for range 8 {
		r, ok := byName[name]
		if !ok {
			return fmt.Errorf("%w: base archive %s has no /%s: it is not hibernate's (make build makes one)", ErrCannotBoot, p, name)
		}
		b, err := recordBytes(r)
		if err != nil {
			return fmt.Errorf("read /%s of base archive %s: %w", name, p, err)
		}
		switch r.Mode & cpio.S_IFMT {
		case cpio.S_IFLNK:
			if target := string(b); path.IsAbs(target) {
				name = path.Clean(target[1:])
			} else {
				name = path.Join(path.Dir(name), target)
			}
			continue
		case cpio.S_IFREG:
			if bytes.Contains(b, []byte(config.InitMark)) {
				return nil
			}
		}
		return fmt.Errorf("%w: the /init of base archive %s (/%s) does not read config format %d, which this hibernate writes "+
			"(an older hibernate's base?); build with this hibernate's own initramfs-base.cpio (make install puts it in PREFIX/lib/hibernate, "+
			"make build in build/lib/hibernate), or leave --base out", ErrCannotBoot, p, name, config.Format)
	}
	return fmt.Errorf("%w: base archive %s: /init is a chain of more than 8 links", ErrCannotBoot, p)
}

// notInBase refuses a file of ours that the base archive has already: the writer keeps the
// first of a name, and ours would be lost without a word.
func notInBase(base, recs []cpio.Record) error {
	inBase := map[string]bool{}
	for _, r := range base {
		if r.Mode&cpio.S_IFMT != cpio.S_IFDIR {
			inBase[path.Clean(r.Name)] = true
		}
	}
	for _, r := range recs {
		if inBase[path.Clean(r.Name)] {
			return fmt.Errorf("%s is in the base archive already", r.Name)
		}
	}
	return nil
}

// addModules resolves the modules to take (the options' names, or DefaultModules less what this
// kernel lacks; stack, those the volumes and LVs need, less what it lacks; and AddModules) with
// their dependencies, and returns their archive records, noting each in cfg (path, needs,
// devices) and in res.
func addModules(o Options, stack []string, cfg *config.Config, res *Result) ([]cpio.Record, error) {
	names := o.Modules
	defaults := names == nil
	if defaults {
		names = DefaultModules
	}
	names = append([]string(nil), names...)
	if len(names) == 0 && len(stack) == 0 && len(o.AddModules) == 0 {
		return nil, nil
	}
	// o is this call's copy: moduleRecord reads the modules from the folder found.
	var err error
	if o.ModulesDir, err = modules.FindDir(o.ModulesDir, o.KernelRelease); err != nil {
		return nil, fmt.Errorf("modules of %s: %w", o.KernelRelease, err)
	}
	ix, err := modules.Scan(o.ModulesDir)
	if err != nil {
		return nil, fmt.Errorf("scan modules of %s: %w", o.KernelRelease, err)
	}
	if defaults {
		// The default set is for every machine: a kernel without one of them (the cloud
		// flavour has no SATA or NVMe drivers at all) just goes without it.
		names = present(ix, names, res)
	}
	// So are the stack's: a kernel without aesni_intel (another architecture) uses aes_generic.
	names = append(names, present(ix, stack, res)...)
	mods, builtin, err := ix.Closure(append(names, o.AddModules...)...)
	if err != nil {
		return nil, fmt.Errorf("modules for %s: %w", o.KernelRelease, err)
	}
	res.Modules, res.Builtin = mods, builtin
	var recs []cpio.Record
	inArchive := map[string]string{} // module name -> its path inside the archive
	for _, m := range mods {
		rec, err := moduleRecord(o, m)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
		cfg.Modules = append(cfg.Modules, "/"+rec.Name)
		inArchive[m.Name] = "/" + rec.Name
	}
	cfg.Needs, cfg.Devices = loadingTables(ix, mods, inArchive)
	return recs, nil
}

// present is names less those the index has no module, built-in module or alias of (noted in
// res.Missing, once each).
func present(ix *modules.Index, names []string, res *Result) []string {
	var kept []string
	for _, n := range names {
		if _, _, err := ix.Closure(n); err != nil {
			if !slices.Contains(res.Missing, n) {
				res.Missing = append(res.Missing, n)
			}
			continue
		}
		kept = append(kept, n)
	}
	return kept
}

// moduleRecord is module m as a file of the archive, at lib/modules/R/…/NAME.ko. A compressed
// module (.ko.xz, .ko.zst, .ko.gz) goes in decompressed: the archive is compressed as a whole
// anyway, and /init then hands the kernel the file as it is (finit_module) instead of
// decompressing it at boot.
func moduleRecord(o Options, m modules.Module) (cpio.Record, error) {
	data, err := modules.Decompress(filepath.Join(o.ModulesDir, m.Path))
	if err != nil {
		return cpio.Record{}, fmt.Errorf("read module %s: %w", m.Name, err)
	}
	rel := filepath.ToSlash(m.Path)
	if i := strings.LastIndex(rel, ".ko"); i >= 0 {
		rel = rel[:i+len(".ko")]
	}
	return cpio.StaticFile(path.Join("lib/modules", o.KernelRelease, rel), string(data), 0o644), nil
}

// writeInitramfs writes the initramfs: the config in an archive of its own, first and
// uncompressed, as early microcode is (the kernel unpacks one archive after another), so that
// hibernate check knows the initramfs for ours from its first bytes, without a decompressor;
// then the base and the modules, compressed.
func writeInitramfs(w io.Writer, cfg config.Config, base []cpio.Record, recs []cpio.Record, compression string, res *Result) error {
	cfgBytes, err := cfg.Marshal()
	if err != nil {
		return err
	}
	if len(cfg.Devices) > 0 {
		recs = append(slices.Clip(recs), cpio.StaticFile(config.DevicesPath, string(config.MarshalDevices(cfg.Devices)), 0o644))
	}
	var head, raw bytes.Buffer
	if err := writeConfigArchive(&head, cpio.StaticFile(config.Path, string(cfgBytes), 0o644)); err != nil {
		return err
	}
	if err := writeArchive(&raw, base, recs); err != nil {
		return err
	}
	res.Uncompressed = int64(head.Len() + raw.Len())
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	n, err := compress(w, raw.Bytes(), compression)
	res.Compressed = int64(head.Len()) + n
	return err
}

// writeConfigArchive writes the archive of our config: its folders, the config, the trailer.
func writeConfigArchive(w io.Writer, cfg cpio.Record) error {
	cw := cpio.Newc.Writer(w)
	for _, d := range []string{path.Dir(path.Dir(cfg.Name)), path.Dir(cfg.Name)} {
		if err := cw.WriteRecord(cpio.MakeReproducible(cpio.Directory(d, 0o755))); err != nil {
			return err
		}
	}
	if err := cw.WriteRecord(cpio.MakeReproducible(cfg)); err != nil {
		return fmt.Errorf("write %s: %w", cfg.Name, err)
	}
	return cpio.WriteTrailer(cw)
}

// loadingTables gives, for each module of the archive, the archive paths of the modules it
// needs first and the device patterns it drives (see config.Config).
func loadingTables(ix *modules.Index, mods []modules.Module, inArchive map[string]string) (needs, devices map[string][]string) {
	needs, devices = map[string][]string{}, map[string][]string{}
	for _, m := range mods {
		p := inArchive[m.Name]
		for _, n := range ix.Needs(m) {
			if dp, ok := inArchive[n]; ok {
				needs[p] = append(needs[p], dp)
			}
		}
		if d := modules.DeviceAliases(m); len(d) > 0 {
			devices[p] = d
		}
	}
	return needs, devices
}

func readBase(p string) ([]cpio.Record, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open base archive: %w (it is built with hibernate: make build)", err)
	}
	defer f.Close()
	rr, err := cpio.Newc.NewFileReader(f)
	if err != nil {
		return nil, fmt.Errorf("read base archive %s: %w", p, err)
	}
	recs, err := cpio.ReadAllRecords(rr)
	if err != nil {
		return nil, fmt.Errorf("read base archive %s: %w", p, err)
	}
	// Records read from a file read their contents lazily from it: take them now.
	for i, r := range recs {
		if r.ReaderAt != nil && r.FileSize > 0 {
			b, err := recordBytes(r)
			if err != nil {
				return nil, fmt.Errorf("read %s from base archive %s: %w", r.Name, p, err)
			}
			recs[i] = cpio.StaticRecord(b, r.Info)
		}
	}
	return recs, nil
}

// recordBytes is a record's contents (a file's bytes, a link's target), nil for none.
func recordBytes(r cpio.Record) ([]byte, error) {
	if r.ReaderAt == nil || r.FileSize == 0 {
		return nil, nil
	}
	b := make([]byte, r.FileSize)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// writeArchive writes base then extra records, every record made reproducible (no times, no
// owners), the parent folders of extras created, and the trailer.
func writeArchive(w io.Writer, base, extra []cpio.Record) error {
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].Name < extra[j].Name })
	dw := cpio.NewDedupWriter(cpio.Newc.Writer(w))
	have := map[string]bool{}
	for _, r := range base {
		r = cpio.MakeReproducible(r)
		have[r.Name] = true
		if err := dw.WriteRecord(r); err != nil {
			return fmt.Errorf("write %s: %w", r.Name, err)
		}
	}
	for _, r := range extra {
		r = cpio.MakeReproducible(r)
		dir := path.Dir(r.Name)
		var dirs []string
		for d := dir; d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			dirs = append(dirs, d)
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			have[dirs[i]] = true
			if err := dw.WriteRecord(cpio.MakeReproducible(cpio.Directory(dirs[i], 0o755))); err != nil {
				return err
			}
		}
		have[r.Name] = true
		if err := dw.WriteRecord(r); err != nil {
			return fmt.Errorf("write %s: %w", r.Name, err)
		}
	}
	return cpio.WriteTrailer(dw)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func compress(w io.Writer, raw []byte, how string) (int64, error) {
	cw := &countWriter{w: w}
	var zw io.WriteCloser
	var err error
	switch how {
	case "gzip":
		// No name or time in the gzip header: the same input gives the same bytes.
		zw, err = gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	case "", "zstd":
		// One encoder thread: its output does not depend on the machine's core count. The best
		// level: 3.3 MiB where the default made 4.2 (measured on the default set of the Debian
		// 6.1 kernel), for a second more of building; the kernel decompresses either as fast.
		zw, err = zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	case "xz":
		// The kernel's xz decoder wants CRC32 (or no) integrity checks, not xz's default CRC64.
		zw, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(cw)
	case "none":
		_, err = cw.Write(raw)
		return cw.n, err
	default:
		return 0, fmt.Errorf("compression %q: want gzip, zstd, xz or none", how)
	}
	if err != nil {
		return 0, err
	}
	if _, err := zw.Write(raw); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}
