package initramfs

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/initramfs/elfdeps"
)

// What an encrypted or LVM machine needs in the initramfs beside our /init: the programs that
// bring its layers up, with their loader and libraries, the kernel's device-mapper and crypto
// modules, and the volumes' key files.

// CryptModules are the modules a LUKS volume needs at boot: device-mapper and its crypt target;
// the cipher of aes-xts-plain64, cryptsetup's default for LUKS1 and LUKS2 (aes, which a
// kernel has built in as aes_generic, the faster aesni_intel, and xts); sha256; and af_alg with
// algif_skcipher, the socket through which cryptsetup has the kernel decrypt the LUKS2 key
// slots. Those built in are skipped, those this kernel lacks left out (as of DefaultModules).
// Another cipher (serpent, twofish, adiantum, cbc-essiv of old LUKS1 volumes) needs
// --add-module.
var CryptModules = []string{"dm_mod", "dm_crypt", "aes", "aesni_intel", "xts", "sha256", "af_alg", "algif_skcipher"}

// LVMModules are what an LVM LV needs: its linear (and striped) targets are in dm_mod.
var LVMModules = []string{"dm_mod"}

// The programs /init runs, by the name Config.Tools has them, and the Debian packages that
// install them, for the message when one is not there.
const (
	Cryptsetup = "cryptsetup"
	LVM        = "lvm"
)

var toolPackages = map[string]string{Cryptsetup: "cryptsetup-bin", LVM: "lvm2"}

// KeyFileDir is where the volumes' key files are in the archive: a folder of mode 0700, each
// key file NAME.key (for the volume NAME) of mode 0600.
const KeyFileDir = "etc/hibernate/keys"

// stackModules are the modules the config's volumes and LVs need, and the tools carried.
func stackModules(cfg config.Config, tools []string) []string {
	var out []string
	if len(cfg.Volumes) > 0 || hasTool(tools, Cryptsetup) {
		out = append(out, CryptModules...)
	}
	if len(cfg.LVs) > 0 || hasTool(tools, LVM) {
		out = append(out, LVMModules...)
	}
	return out
}

func hasTool(tools []string, name string) bool {
	for _, t := range tools {
		if path.Base(t) == name {
			return true
		}
	}
	return false
}

// neededTools are the programs to carry: o.Tools when given, else cryptsetup for volumes and
// lvm for LVs, found below the tools' root. One that is not there is ErrCannotBoot, with the
// package to install.
func neededTools(o Options) ([]string, error) {
	if o.Tools != nil {
		return o.Tools, nil
	}
	var names []string
	if len(o.Config.Volumes) > 0 {
		names = append(names, Cryptsetup)
	}
	if len(o.Config.LVs) > 0 {
		names = append(names, LVM)
	}
	var out []string
	for _, n := range names {
		p, err := elfdeps.LookPath(toolsRoot(o), n)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not installed (%v): install %s", ErrCannotBoot, n, err, toolPackages[n])
		}
		out = append(out, p)
	}
	return out, nil
}

func toolsRoot(o Options) string {
	if o.ToolsRoot == "" {
		return "/"
	}
	return o.ToolsRoot
}

// addTools returns the archive records of the tools and everything they need, and names them
// in cfg (Tools, LibraryPath) and res.
func addTools(o Options, tools []string, cfg *config.Config, res *Result) ([]cpio.Record, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	files, err := elfdeps.Closure(toolsRoot(o), tools...)
	if err != nil {
		return nil, fmt.Errorf("the programs for the initramfs: %w", err)
	}
	var recs []cpio.Record
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		if f.LinkTo != "" {
			recs = append(recs, cpio.Symlink(name, f.LinkTo))
			continue
		}
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return nil, fmt.Errorf("read %s for %s: %w", f.Source, f.Path, err)
		}
		recs = append(recs, cpio.StaticFile(name, string(data), uint64(f.Mode.Perm())))
		if f.Kind != elfdeps.Program {
			res.Libraries++
		}
		res.ToolBytes += int64(len(data))
	}
	cfg.Tools = map[string]string{}
	for _, t := range tools {
		cfg.Tools[path.Base(t)] = t
		res.Tools = append(res.Tools, t)
	}
	cfg.LibraryPath = strings.Join(elfdeps.LibraryDirs(files), ":")
	return recs, nil
}

// addKeyFiles copies each volume's key file (Config.Volumes' KeyFile, a file on this machine)
// into the archive at KeyFileDir/NAME.key, mode 0600, and names that path in cfg in its place.
func addKeyFiles(cfg *config.Config, res *Result) ([]cpio.Record, error) {
	seen := map[string]bool{}
	vols := append([]config.Volume(nil), cfg.Volumes...)
	var recs []cpio.Record
	for i, v := range vols {
		if v.Name == "" || v.Name == "." || v.Name == ".." || strings.ContainsAny(v.Name, "/\x00") {
			return nil, fmt.Errorf("volume %q: not a device-mapper name", v.Name)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("volume %s named twice", v.Name)
		}
		seen[v.Name] = true
		if v.Source == "" {
			return nil, fmt.Errorf("volume %s: no source device", v.Name)
		}
		if v.KeyFile == "" {
			continue
		}
		st, err := os.Stat(v.KeyFile)
		if err == nil && !st.Mode().IsRegular() {
			err = fmt.Errorf("not a regular file (a key on a device is not copied)")
		}
		if err != nil {
			return nil, fmt.Errorf("key file %s of volume %s: %w", v.KeyFile, v.Name, err)
		}
		data, err := os.ReadFile(v.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("key file of volume %s: %w", v.Name, err)
		}
		if len(recs) == 0 {
			recs = append(recs, cpio.Directory(KeyFileDir, 0o700))
		}
		name := path.Join(KeyFileDir, v.Name+".key")
		recs = append(recs, cpio.StaticFile(name, string(data), 0o600))
		vols[i].KeyFile = "/" + name
		res.KeyFiles = append(res.KeyFiles, "/"+name)
	}
	sort.Strings(res.KeyFiles)
	cfg.Volumes = vols
	return recs, nil
}
