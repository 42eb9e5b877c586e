package hibernate

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// ourInitMarker is a line our /init logs (resume/init.go); a /init that is a plain file holding
// it is ours too (a base built without u-root's busybox links).
const ourInitMarker = "init of hibernate starting on"

// initramfsContents is what the check keeps of an initramfs: every name in it, the target of
// each symlink, and the bytes of the few files it reads.
type initramfsContents struct {
	Compression string            // of the last segment: none, gzip, zstd, xz, lzma, bzip2, lz4
	Archives    int               // cpio archives read (an early microcode archive counts)
	Names       map[string]bool   // paths without a leading "/"
	Links       map[string]string // symlink name to target
	Files       map[string][]byte // the contents of init and our config
	// OursAtStart says the read stopped at our config, which hibernate initramfs build writes
	// first, in an uncompressed archive of its own: the rest (/init, the busybox, the modules,
	// compressed) is ours and was not read.
	OursAtStart bool
}

// errOurConfig stops the read at our config.
var errOurConfig = errors.New("hibernate's config read")

// checkInitramfs answers: will the initramfs the running kernel boots with try to resume?
// It looks where distributions put it (the names the image record knows), reads it (concatenated
// cpio archives, the last one possibly compressed, as the kernel unpacks them) and looks for
// what resumes: our /init, else initramfs-tools', dracut's or systemd's resume parts.
func checkInitramfs(fs sysfs.FS) CheckResult {
	c := CheckResult{Name: "initramfs"}
	u, err := fs.Uname()
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read the running kernel's release: %v", err)
		c.Fix = "mount /proc"
		return c
	}
	release := u.Release
	_, candidates := imagerecord.KernelFiles(release)
	p := ""
	for _, n := range candidates {
		if fs.Exists(strings.TrimPrefix(n, "/")) {
			p = n
			break
		}
	}
	if p == "" {
		c.Detail = fmt.Sprintf("no initramfs for the running kernel %s (looked for %s)", release, strings.Join(candidates, ", "))
		c.Fix = "hibernate initramfs build (writes /boot/initrd.img-" + release + ")"
		return c
	}
	f, err := os.Open(fs.Path(strings.TrimPrefix(p, "/")))
	if err != nil {
		c.Detail = fmt.Sprintf("cannot open the initramfs %s: %v", p, err)
		c.Fix = "run hibernate check as root"
		return c
	}
	defer f.Close()
	ic, err := readInitramfs(f)
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read the initramfs %s: %v", p, err)
		c.Fix = "hibernate initramfs build (writes an initramfs that resumes)"
		return c
	}
	what, ok := resumeSupport(ic, release)
	desc := fmt.Sprintf("%s (%s, %d cpio archive(s), %d entries)", p, ic.Compression, ic.Archives, len(ic.Names))
	if ic.OursAtStart {
		desc = fmt.Sprintf("%s (%s, read up to hibernate's config in its first archive)", p, ic.Compression)
	}
	if !ok {
		c.Detail = desc + " has nothing that resumes: no /init of hibernate, no initramfs-tools resume script, no dracut resume hook, no systemd-hibernate-resume"
		c.Fix = "hibernate initramfs build, or your distribution's initramfs with resume support (update-initramfs -u with RESUME set, or dracut with the resume module)"
		return c
	}
	c.OK = true
	c.Detail = desc + ": " + what
	return c
}

// resumeSupport names what in the initramfs will try to resume, and whether anything will.
func resumeSupport(ic initramfsContents, release string) (string, bool) {
	if b, ok := ic.Files[config.Path]; ok {
		cfg, err := config.Parse(b)
		if err != nil {
			return fmt.Sprintf("hibernate's /init, but its config does not parse: %v", err), false
		}
		what := "hibernate's /init (" + config.Path + " for " + cfg.KernelRelease + ")"
		if cfg.KernelRelease != release {
			what += "; built for " + cfg.KernelRelease + ", not the running " + release + ": its modules may not load"
		}
		return what, true
	}
	if t, ok := ic.Links["init"]; ok && path.Base(t) == "hibernate-init" {
		return "hibernate's /init (-> " + t + ", no config: it scans for an image)", true
	}
	if b, ok := ic.Files["init"]; ok && bytes.Contains(b, []byte(ourInitMarker)) {
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

// readInitramfs reads an initramfs as the kernel unpacks it: uncompressed cpio archives one after
// another (an early microcode archive first), zero padding between them, then at most one
// compressed stream holding more archives. Data after a compressed stream is not read. An
// archive that starts with our config is ours: the read stops there (the check need not
// decompress the 12 MiB after it: a decompressor's start alone took 140-230 ms under emulation,
// the whole read 0.4-0.7 s, and its pages go into the image).
func readInitramfs(r io.Reader) (initramfsContents, error) {
	ic, err := readInitramfsAll(r)
	if errors.Is(err, errOurConfig) {
		ic.OursAtStart = true
		ic.Archives++
		return ic, nil
	}
	return ic, err
}

func readInitramfsAll(r io.Reader) (initramfsContents, error) {
	ic := initramfsContents{Compression: "none", Names: map[string]bool{}, Links: map[string]string{}, Files: map[string][]byte{}}
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

// keepFile says whether the check reads a file's bytes (the rest is skipped).
func keepFile(name string) bool { return name == "init" || name == config.Path }

// readCpio reads one newc (or crc) cpio archive up to its TRAILER!!!.
// readCpio reads one newc archive from a stream. u-root's pkg/cpio was passed over here: its
// reader wants an io.ReaderAt over the whole uncompressed archive, where this reads the
// decompressor's stream once and keeps only /init, our config and the symlinks.
func readCpio(br *bufio.Reader, ic *initramfsContents) error {
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
