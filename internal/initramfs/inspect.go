package initramfs

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
)

// Contents is what Inspect keeps of an initramfs: every name in it, the target of each symlink,
// and the bytes of the few files it reads (/init and our config).
type Contents struct {
	Compression string            // of the last segment: none, gzip, zstd, xz, lzma, bzip2, lz4
	Archives    int               // cpio archives read (an early microcode archive counts)
	Names       map[string]bool   // paths without a leading "/"
	Links       map[string]string // symlink name to target
	Files       map[string][]byte // the contents of init, our config and the few others keepFile names
	// OursAtStart says the read stopped at our config, which hibernate initramfs build writes
	// first, in an uncompressed archive of its own: the rest (/init, the busybox, the modules,
	// compressed) is ours and was not read.
	OursAtStart bool

	// parsed is our config as Inspect parsed it, once: the checks ask for it five times, and
	// each parse of its 24 KiB (the modalias table) was 18 ms of hibernate now's share in a
	// guest under -icount.
	parsed *parsedConfig
}

type parsedConfig struct {
	cfg config.Config
	err error
}

// OurConfig is our config, parsed (found: the initramfs holds one; err: it does not parse).
func (ic Contents) OurConfig() (cfg config.Config, found bool, err error) {
	b, found := ic.Files[config.Path]
	if !found {
		return config.Config{}, false, nil
	}
	if ic.parsed != nil {
		return ic.parsed.cfg, true, ic.parsed.err
	}
	cfg, err = config.Parse(b)
	return cfg, true, err
}

// errOurConfig stops the read at our config.
var errOurConfig = errors.New("hibernate's config read")

// Ours says whether the initramfs's /init is hibernate's: our config is in it, or /init links to
// our binary, or holds the line our /init prints first.
func (ic Contents) Ours() bool {
	_, cfg := ic.Files[config.Path]
	t, link := ic.Links["init"]
	return cfg || (link && path.Base(t) == "hibernate-init") || bytes.Contains(ic.Files["init"], []byte(config.InitMarker))
}

// ResumeSupport names what in the initramfs will try to resume, and whether anything will:
// our /init, else initramfs-tools', dracut's or systemd's resume parts. release is the running
// kernel's, which our config should name.
func (ic Contents) ResumeSupport(release string) (string, bool) {
	if cfg, ok, err := ic.OurConfig(); ok {
		if err != nil {
			return fmt.Sprintf("hibernate's /init, but its config does not parse: %v", err), false
		}
		what := "hibernate's /init (" + config.Path + " for " + cfg.KernelRelease + ")"
		if cfg.KernelRelease != release {
			what += "; built for " + cfg.KernelRelease + ", not the running " + release + ": its modules may not load"
		}
		if b := bringsUp(cfg); b != "" {
			what += "; it " + b
		}
		return what, true
	}
	if t, ok := ic.Links["init"]; ok && path.Base(t) == "hibernate-init" {
		return "hibernate's /init (-> " + t + ", no config: it scans for an image)", true
	}
	if b, ok := ic.Files["init"]; ok && bytes.Contains(b, []byte(config.InitMarker)) {
		return "hibernate's /init (no config: it scans for an image)", true
	}
	for _, n := range []string{"scripts/local-premount/resume", "conf/conf.d/resume"} {
		if ic.Names[n] {
			return "initramfs-tools' resume (/" + n + ")", true
		}
	}
	var dracut, systemd string
	for n := range ic.Names {
		rest, isHook := strings.CutPrefix(strings.TrimPrefix(n, "usr/"), "lib/dracut/hooks/")
		if isHook && strings.Contains(path.Base(rest), "resume") && (dracut == "" || n < dracut) {
			dracut = n
		}
		if (n == "usr/lib/systemd/systemd-hibernate-resume" || n == "lib/systemd/systemd-hibernate-resume") && systemd == "" {
			systemd = n
		}
	}
	switch {
	case dracut != "":
		return "dracut's resume module (/" + dracut + ")", true
	case systemd != "":
		return "systemd-hibernate-resume (/" + systemd + ")", true
	}
	return "", false
}

// bringsUp says what our /init unlocks and activates before the resume, and with what: "unlocks
// vda3_crypt, activates vg/root vg/swap_1 (with cryptsetup lvm)"; "" for nothing.
func bringsUp(cfg config.Config) string {
	var parts, tools []string
	if len(cfg.Volumes) > 0 {
		var names []string
		for _, v := range cfg.Volumes {
			names = append(names, v.Name)
		}
		parts = append(parts, "unlocks "+strings.Join(names, " "))
	}
	if len(cfg.LVs) > 0 {
		parts = append(parts, "activates "+strings.Join(cfg.LVs, " "))
	}
	if len(parts) == 0 {
		return ""
	}
	for t := range cfg.Tools {
		tools = append(tools, t)
	}
	sort.Strings(tools)
	if len(tools) == 0 {
		tools = []string{"no tool"}
	}
	return strings.Join(parts, ", ") + " (with " + strings.Join(tools, " ") + ")"
}

// Inspect reads an initramfs as the kernel unpacks it: uncompressed cpio archives one after
// another (an early microcode archive first), zero padding between them, then at most one
// compressed stream holding more archives. Data after a compressed stream is not read. An
// archive that starts with our config is ours: the read stops there (the check need not
// decompress the 12 MiB after it: a decompressor's start alone took 140-230 ms under emulation,
// the whole read 0.4-0.7 s, and its pages go into the image).
func Inspect(r io.Reader) (Contents, error) {
	ic, err := inspectAll(r)
	if errors.Is(err, errOurConfig) {
		ic.OursAtStart = true
		ic.Archives++
		err = nil
	}
	if b, ok := ic.Files[config.Path]; ok {
		cfg, perr := config.Parse(b)
		ic.parsed = &parsedConfig{cfg, perr}
	}
	return ic, err
}

func inspectAll(r io.Reader) (Contents, error) {
	ic := Contents{Compression: "none", Names: map[string]bool{}, Links: map[string]string{}, Files: map[string][]byte{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		if err := skipZeros(br); err == io.EOF {
			break
		} else if err != nil {
			return ic, err
		}
		magic, _ := br.Peek(6)
		if bytes.HasPrefix(magic, []byte("07070")) {
			if err := readCpio(br, &ic); err != nil {
				return ic, err
			}
			continue
		}
		zr, name, err := decompressor(br, magic)
		if err != nil {
			return ic, err
		}
		ic.Compression = name
		zbr := bufio.NewReaderSize(zr, 64<<10)
		for {
			if err := skipZeros(zbr); err == io.EOF {
				break
			} else if err != nil {
				return ic, fmt.Errorf("%s: %w", name, err)
			}
			if err := readCpio(zbr, &ic); err != nil {
				return ic, fmt.Errorf("%s: %w", name, err)
			}
		}
		break
	}
	if ic.Archives == 0 {
		return ic, errors.New("no cpio archive in it")
	}
	return ic, nil
}

func decompressor(br *bufio.Reader, magic []byte) (io.Reader, string, error) {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		return zr, "gzip", err
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, "zstd", err
		}
		return zr.IOReadCloser(), "zstd", nil
	case bytes.HasPrefix(magic, []byte("\xfd7zXZ\x00")):
		zr, err := xz.NewReader(br)
		return zr, "xz", err
	case bytes.HasPrefix(magic, []byte{0x02, 0x21, 0x4c, 0x18}), bytes.HasPrefix(magic, []byte{0x04, 0x22, 0x4d, 0x18}):
		return lz4.NewReader(br), "lz4", nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), "bzip2", nil
	case bytes.HasPrefix(magic, []byte{0x5d, 0x00, 0x00}):
		zr, err := lzma.NewReader(br)
		return zr, "lzma", err
	}
	return nil, "", fmt.Errorf("neither a cpio archive nor a compression the kernel reads (first bytes % x)", magic)
}

// skipZeros skips the zero padding the kernel allows between archives; io.EOF at the end.
func skipZeros(br *bufio.Reader) error {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return err
		}
		if b != 0 {
			return br.UnreadByte()
		}
	}
}

// keepFile says whether Inspect keeps a file's bytes (the rest is skipped): /init, our config,
// initramfs-tools' resume config, and the os-release files a systemd initrd reads (Systemd).
func keepFile(name string) bool {
	switch name {
	case "init", config.Path, initramfsToolsResume:
		return true
	}
	base := path.Base(name)
	return (base == "os-release" || base == "initrd-release") && (strings.HasPrefix(name, "etc/") || strings.HasPrefix(name, "usr/lib/"))
}

// initramfsToolsResume is where initramfs-tools keeps RESUME= (and RESUME_OFFSET=).
const initramfsToolsResume = "conf/conf.d/resume"

// Config is our config in the initramfs (the volumes, LVs and tools /init has among the rest);
// ok is false when there is none, or it does not parse.
func (ic Contents) Config() (config.Config, bool) {
	cfg, found, err := ic.OurConfig()
	return cfg, found && err == nil
}

// ResumeConfig is the resume device and offset the initramfs itself carries, for a boot whose
// command line has no resume=: our config's, or initramfs-tools' conf.d/resume. ok is false when
// it carries none (or Inspect stopped at our config before a later one: ours is first).
func (ic Contents) ResumeConfig() (spec string, offset uint64, ok bool) {
	if _, found := ic.Files[config.Path]; found {
		cfg, ok := ic.Config()
		if !ok || cfg.Resume == "" {
			return "", 0, false
		}
		return cfg.Resume, cfg.ResumeOffset, true
	}
	for _, l := range strings.Split(string(ic.Files[initramfsToolsResume]), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		v = strings.Trim(v, `"'`)
		switch k {
		case "RESUME":
			spec, ok = v, v != "" && v != "none"
		case "RESUME_OFFSET":
			offset, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return spec, offset, ok
}

// readCpio reads one newc (or crc) cpio archive from a stream, up to its TRAILER!!!. u-root's pkg/cpio was passed over here: its
// reader wants an io.ReaderAt over the whole uncompressed archive, where this reads the
// decompressor's stream once and keeps only /init, our config and the symlinks.
func readCpio(br *bufio.Reader, ic *Contents) error {
	var hdr [110]byte
	onlyDirs := true // every entry so far a folder
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return fmt.Errorf("cpio header: %w", err)
		}
		if !bytes.HasPrefix(hdr[:], []byte("070701")) && !bytes.HasPrefix(hdr[:], []byte("070702")) {
			return fmt.Errorf("cpio header: magic %q, want 070701", hdr[:6])
		}
		field := func(i int) (uint64, error) {
			return strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
		}
		mode, err1 := field(1)
		size, err2 := field(6)
		nameSize, err3 := field(11)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("cpio header %q: %w", hdr[:], err)
		}
		if nameSize == 0 || nameSize > 4096 {
			return fmt.Errorf("cpio header: name size %d", nameSize)
		}
		nb := make([]byte, pad4(110+nameSize)-110)
		if _, err := io.ReadFull(br, nb); err != nil {
			return fmt.Errorf("cpio name: %w", err)
		}
		name := string(nb[:nameSize-1])
		name = strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(name, "./")), "/")
		if name == "TRAILER!!!" {
			ic.Archives++
			return nil
		}
		dataLen := int64(pad4(size))
		switch {
		case mode&0o170000 == 0o120000 && size < 4096, keepFile(name) && size < 64<<20:
			data := make([]byte, dataLen)
			if _, err := io.ReadFull(br, data); err != nil {
				return fmt.Errorf("cpio %s: %w", name, err)
			}
			if mode&0o170000 == 0o120000 {
				ic.Links[name] = string(data[:size])
			} else {
				ic.Files[name] = data[:size]
			}
		default:
			if _, err := io.CopyN(io.Discard, br, dataLen); err != nil {
				return fmt.Errorf("cpio %s: %w", name, err)
			}
		}
		if name != "" {
			ic.Names[name] = true
		}
		if onlyDirs && name == config.Path && ic.Files[name] != nil {
			return errOurConfig
		}
		if mode&0o170000 != 0o040000 {
			onlyDirs = false
		}
	}
}

func pad4(n uint64) uint64 { return (n + 3) &^ 3 }
