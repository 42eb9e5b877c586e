package hibernate

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// The image's compressor. Since Linux 6.9 the kernel stores the image with lzo (the default)
// or lz4, as /sys/module/hibernate/parameters/compressor (hibernate.compressor=) says, and
// marks the header (SF_COMPRESSION_ALG_LZ4). The kernel that reads it back at the next boot
// must have that compressor then: lzo is built into the kernels seen here, lz4 is a module in
// Debian's 6.12 (CONFIG_CRYPTO_LZ4=m), which only an initramfs that holds it can give the
// kernel before the restore (ours loads it as it sees an lz4 header).

// compressorParam is the kernel's choice of compressor, below the root.
const compressorParam = "sys/module/hibernate/parameters/compressor"

// Compressors are the names hibernate now --compressor takes.
var Compressors = []string{"lzo", "lz4"}

// bootCompressors says which compressors the next boot can read an image of, and why lz4 can or
// cannot: "built in", "in the initramfs", or what is missing.
type bootCompressors struct {
	lz4    bool
	lz4Why string
}

// readableAtBoot works out whether the next boot's kernel can read an lz4 image: built into the
// running kernel (modules.builtin), or its module in the initramfs the check read (ic; nil when
// none could be read).
func readableAtBoot(fs sysfs.FS, release string, ic *initramfs.Contents) bootCompressors {
	builtin, err := fs.ReadString(path.Join("lib/modules", release, "modules.builtin"))
	if err == nil && slices.ContainsFunc(strings.Fields(builtin), isLZ4Module) {
		return bootCompressors{lz4: true, lz4Why: "lz4 is built into " + release}
	}
	if ic == nil {
		return bootCompressors{lz4Why: "no initramfs of " + release + " could be read to look for lz4's module"}
	}
	if cfg, ok, err := ic.OurConfig(); ok {
		if err == nil && slices.ContainsFunc(cfg.Modules, isLZ4Module) {
			return bootCompressors{lz4: true, lz4Why: "lz4's module is in the initramfs (ours loads it before the restore)"}
		}
		return bootCompressors{lz4Why: "our initramfs has no lz4 module (built with --modules that leave it out, or by an older hibernate)"}
	}
	for n := range ic.Names {
		if isLZ4Module(n) {
			return bootCompressors{lz4: true, lz4Why: "lz4's module is in the initramfs"}
		}
	}
	return bootCompressors{lz4Why: "the initramfs has no lz4 module, and " + release + " does not build it in"}
}

// isLZ4Module says whether p is the path of the lz4 crypto module (kernel/crypto/lz4.ko, any
// compression), not lz4hc nor the library's lz4_compress.
func isLZ4Module(p string) bool {
	b := path.Base(p)
	i := strings.Index(b, ".ko")
	return i > 0 && b[:i] == config.LZ4Module && strings.Contains(p, "crypto/")
}

// checkCompressor fails where the kernel is set to store the image with a compressor the next
// boot cannot read (hibernate.compressor=lz4 on the command line, without lz4 at boot): the
// image would be written, then not read back.
func checkCompressor(fs sysfs.FS, boot bootCompressors) CheckResult {
	c := CheckResult{Name: "compressor", OK: true}
	cur, err := fs.ReadString(compressorParam)
	if err != nil {
		c.Detail = "lzo: this kernel has no choice of compressor (Linux 6.9 and later have one)"
		return c
	}
	switch cur = strings.TrimSpace(cur); cur {
	case "lz4":
		if !boot.lz4 {
			c.OK = false
			c.Detail = "the kernel stores the image with lz4, and the next boot could not read it: " + boot.lz4Why
			c.Fix = "hibernate initramfs build (it takes lz4's module in), or hibernate now --compressor lzo"
			return c
		}
		c.Detail = "lz4; the next boot reads it: " + boot.lz4Why
	default:
		c.Detail = cur
		if boot.lz4 {
			c.Detail += " (lz4 possible: hibernate now --compressor lz4)"
		}
	}
	return c
}

// compressorWrite is the write of --compressor, where the kernel's choice differs: refused
// where the kernel has no choice, for a name it does not take, and for lz4 where the next boot
// could not read it.
func compressorWrite(power map[string]string, rep Report, o Options) (*Action, error) {
	if o.Compressor == "" {
		return nil, nil
	}
	if !slices.Contains(Compressors, o.Compressor) {
		return nil, fmt.Errorf("--compressor %q: want %s", o.Compressor, strings.Join(Compressors, " or "))
	}
	was, ok := power["compressor"]
	if !ok {
		return nil, fmt.Errorf("--compressor %s: this kernel has no /%s (Linux 6.9 and later choose; older ones store the image with lzo)", o.Compressor, compressorParam)
	}
	if o.Compressor == "lz4" && !rep.boot.lz4 {
		return nil, fmt.Errorf("--compressor lz4: the next boot could not read the image: %s (hibernate initramfs build takes lz4's module in)", rep.boot.lz4Why)
	}
	if was = strings.TrimSpace(was); was == o.Compressor {
		return nil, nil
	}
	return &Action{Kind: ActWrite, Path: "/" + compressorParam, Value: o.Compressor, Was: was}, nil
}
