package scenario

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/initramfs/modules"
)

// CompressorParam is the kernel's choice of the image's compressor (Linux 6.9 and later).
const CompressorParam = "/sys/module/hibernate/parameters/compressor"

// LZ4Modules are guest copies (in /root) of lz4's crypto module and the library it needs, from
// the kernel package of a (decompressed), in load order: the minimal guests have no
// /lib/modules, so a test loads them (GuestAgentInit insmod) as a Debian system's kernel would
// through modprobe when asked for lz4.
func LZ4Modules(a Artifacts) ([]GuestFile, []string, error) {
	return GuestModules(a, "kernel/lib/lz4/lz4_compress.ko.xz", "kernel/crypto/lz4.ko.xz")
}

// GuestModules are guest copies in /root of the modules at mods (paths in a's kernel's module
// folder, compressed or not), decompressed, and their paths in the guest, in the order given:
// for a test to load with GuestAgentInit insmod.
func GuestModules(a Artifacts, mods ...string) ([]GuestFile, []string, error) {
	var files []GuestFile
	var paths []string
	for _, mod := range mods {
		data, err := modules.Decompress(filepath.Join(a.Kernel.ModulesDir, mod))
		if err != nil {
			return nil, nil, fmt.Errorf("module %s of %s: %w", mod, a.Kernel.Release, err)
		}
		base := filepath.Base(mod)
		if i := strings.LastIndex(base, ".ko"); i >= 0 {
			base = base[:i+len(".ko")] // lz4.ko.xz goes in as lz4.ko, decompressed
		}
		p := "/root/" + base
		files = append(files, GuestFile{p, data, 0o644})
		paths = append(paths, p)
	}
	return files, paths, nil
}
