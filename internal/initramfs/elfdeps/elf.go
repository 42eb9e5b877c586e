package elfdeps

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// object is what the search needs of an ELF file: its class and machine (a library must match
// its loader's), its loader, and its dynamic section's names.
type object struct {
	class   elf.Class
	machine elf.Machine
	interp  string   // PT_INTERP, "" for a static program or a library
	needed  []string // DT_NEEDED, in order
	rpath   []string // DT_RPATH
	runpath []string // DT_RUNPATH
}

// maxInterp bounds the PT_INTERP segment read: a path.
const maxInterp = 4096

// parseObject reads an ELF executable or shared library from r. Any bytes may come in: a
// file that is no ELF object, or one whose dynamic section cannot be read, is an error.
func parseObject(r io.ReaderAt) (object, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return object{}, err
	}
	o := object{class: f.Class, machine: f.Machine}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return o, fmt.Errorf("ELF type %v: not a program or shared library", f.Type)
	}
	dynamic := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			b, err := io.ReadAll(io.LimitReader(p.Open(), maxInterp))
			if err != nil {
				return o, fmt.Errorf("read PT_INTERP: %w", err)
			}
			o.interp = strings.TrimRight(string(b), "\x00")
			if !path.IsAbs(o.interp) {
				return o, fmt.Errorf("PT_INTERP %q: not an absolute path", o.interp)
			}
		case elf.PT_DYNAMIC:
			dynamic = true
		}
	}
	if !dynamic {
		return o, nil
	}
	if f.SectionByType(elf.SHT_DYNAMIC) == nil {
		// debug/elf reads the dynamic section through the section headers, and would say
		// "no libraries" where a stripped-down file has them.
		return o, errors.New("dynamically linked, without the section headers that say where its DT_NEEDED names are")
	}
	for _, t := range []struct {
		tag elf.DynTag
		to  *[]string
	}{{elf.DT_NEEDED, &o.needed}, {elf.DT_RPATH, &o.rpath}, {elf.DT_RUNPATH, &o.runpath}} {
		v, err := f.DynString(t.tag)
		if err != nil {
			return o, fmt.Errorf("read %v: %w", t.tag, err)
		}
		*t.to = v
	}
	return o, nil
}

// readObject parses the regular file real (a path below root) and returns its mode bits.
func readObject(root, real string) (object, fs.FileMode, error) {
	f, err := os.Open(filepath.Join(root, real))
	if err != nil {
		return object{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return object{}, 0, err
	}
	if !st.Mode().IsRegular() {
		return object{}, 0, fmt.Errorf("%s: not a regular file", filepath.Join(root, real))
	}
	o, err := parseObject(f)
	return o, st.Mode().Perm(), err
}

// multiarch is Debian's folder name of each machine's libraries (/usr/lib/TRIPLET).
var multiarch = map[elf.Machine]string{
	elf.EM_X86_64:  "x86_64-linux-gnu",
	elf.EM_AARCH64: "aarch64-linux-gnu",
	elf.EM_386:     "i386-linux-gnu",
	elf.EM_ARM:     "arm-linux-gnueabihf",
	elf.EM_RISCV:   "riscv64-linux-gnu",
	elf.EM_PPC64:   "powerpc64le-linux-gnu",
	elf.EM_S390:    "s390x-linux-gnu",
}

// systemDirs are the folders ld.so searches last, for an object of o's class and machine: the
// multiarch ones (Debian, Ubuntu), lib64 (Fedora, SUSE, 64-bit only), then lib.
func systemDirs(o object) []string {
	var dirs []string
	if t, ok := multiarch[o.machine]; ok {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if o.class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}
