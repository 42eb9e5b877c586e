// Package elfdeps finds what a dynamically linked program needs to run inside an initramfs:
// the program, its loader (PT_INTERP) and the shared libraries its DT_NEEDED entries name,
// recursively, each found below a root prefix the way ld.so finds it (DT_RPATH and DT_RUNPATH
// with $ORIGIN, the folders of /etc/ld.so.conf, the system folders). It is initramfs-tools'
// copy_exec (hook-functions), in Go.
//
// It reads the ELF headers with the standard library's debug/elf, not a library or a tool:
// copy_exec runs ldd, which executes the root's loader on the program, and a cross build (a
// guest's root, another architecture) must not run anything of the root; what ldd prints is
// the dynamic section, which debug/elf reads in a few calls, and the search that follows is
// short enough to write out as ld.so does it.
//
// Each file goes into the archive by the name the loader opens it by, with its contents there
// (symlinks followed below the root), not as the chain of links the root has: the archive's
// folders are real ones (/lib holds the modules) where a merged-/usr root has /lib -> usr/lib,
// and at boot there is no ld.so.cache, so the looked-up names are all the loader sees. A second
// name of a file already taken (the loader is /lib64/ld-linux-x86-64.so.2 and libc's
// DT_NEEDED ld-linux-x86-64.so.2) becomes a symlink to the first, not another copy.
package elfdeps

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Kind says what a file of a closure is to the loader.
type Kind int

const (
	Program Kind = iota // an executable asked for
	Loader              // a program's PT_INTERP
	Library             // a DT_NEEDED library, or libgcc_s.so.1
)

// File is one file of a closure.
type File struct {
	// Path is its name in the archive, as the loader opens it: a program's real path below the
	// root (so that $ORIGIN, which ld.so takes from /proc/self/exe, is the same at boot), the
	// PT_INTERP path, DIR/NAME for a DT_NEEDED NAME found in DIR.
	Path string
	// Source is the file to read (the root joined with its real path, every symlink followed);
	// "" for a link.
	Source string
	Mode   fs.FileMode // Source's permission bits
	Kind   Kind
	// LinkTo is the Path of the file of the closure that Path is another name of: Path is then
	// a symlink to it.
	LinkTo string
}

// glibcLibc is glibc's libc. When it is in a closure, libgcc_s.so.1 goes in too: glibc
// dlopens it to unwind a thread in pthread_cancel and aborts without it (initramfs-tools'
// cryptroot hook copies it for the same reason: libcryptsetup's threads).
const glibcLibc, libgcc = "libc.so.6", "libgcc_s.so.1"

// Closure returns the files that the programs exes (absolute paths on the machine, e.g.
// /usr/sbin/cryptsetup) need, read below root ("/" for this machine): each program, its loader,
// its libraries and theirs, each once, in the order ld.so would load them.
func Closure(root string, exes ...string) ([]File, error) {
	w := &walker{root: root, byPath: map[string]bool{}, byReal: map[string]string{}, byName: map[string]*node{}}
	w.conf = ldSoConfDirs(root)
	for _, exe := range exes {
		if err := w.addProgram(exe); err != nil {
			return nil, err
		}
	}
	if err := w.walk(); err != nil {
		return nil, err
	}
	if err := w.addLibgcc(); err != nil {
		return nil, err
	}
	return w.files, nil
}

// LibraryDirs are the folders of the closure's libraries, in the order met: the
// LD_LIBRARY_PATH that finds them at boot, where no ld.so.cache names the folders of
// /etc/ld.so.conf.
func LibraryDirs(files []File) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		if d := path.Dir(f.Path); f.Kind == Library && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// node is an object of the closure whose needs are to be found.
type node struct {
	path   string // its Path
	obj    object
	loader *node // the object whose DT_NEEDED brought it in; nil for a program
}

type walker struct {
	root   string
	conf   []string          // the folders of /etc/ld.so.conf, below the root
	files  []File            // the closure so far
	byPath map[string]bool   // Paths taken
	byReal map[string]string // real path below the root -> the Path it was taken as first
	byName map[string]*node  // DT_NEEDED names found, for their objects
	queue  []*node           // breadth first, as ld.so loads
}

func (w *walker) addProgram(exe string) error {
	if !path.IsAbs(exe) {
		return fmt.Errorf("program %s: want an absolute path", exe)
	}
	real, err := resolveIn(w.root, exe)
	if err != nil {
		return fmt.Errorf("program %s below %s: %w", exe, w.root, err)
	}
	obj, mode, err := readObject(w.root, real)
	if err != nil {
		return fmt.Errorf("program %s (%s): %w", exe, filepath.Join(w.root, real), err)
	}
	if w.add(real, real, mode, Program) {
		w.queue = append(w.queue, &node{path: real, obj: obj})
	}
	if exe != real {
		w.add(exe, real, mode, Program)
	}
	if obj.interp == "" {
		return nil // static
	}
	ireal, err := resolveIn(w.root, obj.interp)
	if err != nil {
		return fmt.Errorf("program %s: its loader %s below %s: %w", exe, obj.interp, w.root, err)
	}
	st, err := os.Stat(filepath.Join(w.root, ireal))
	if err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("program %s: its loader %s (%s) is no file: %v", exe, obj.interp, filepath.Join(w.root, ireal), err)
	}
	w.add(obj.interp, ireal, st.Mode().Perm(), Loader)
	return nil
}

// add takes p (real below the root) into the closure; it says whether p is a new object, whose
// needs are to be found (a second name of one taken is a link to it).
func (w *walker) add(p, real string, mode fs.FileMode, kind Kind) bool {
	if w.byPath[p] {
		return false
	}
	w.byPath[p] = true
	if first, ok := w.byReal[real]; ok {
		w.files = append(w.files, File{Path: p, Kind: kind, LinkTo: first})
		return false
	}
	w.byReal[real] = p
	w.files = append(w.files, File{Path: p, Source: filepath.Join(w.root, real), Mode: mode, Kind: kind})
	return true
}

// walk finds the needs of every object in the queue, and of those it brings in.
func (w *walker) walk() error {
	for len(w.queue) > 0 {
		n := w.queue[0]
		w.queue = w.queue[1:]
		for _, name := range n.obj.needed {
			if _, done := w.byName[name]; done {
				continue // ld.so loads one object per name
			}
			if err := w.need(n, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// need finds the library name that n needs, and takes it.
func (w *walker) need(n *node, name string) error {
	lib, err := w.find(n, name)
	if err != nil {
		return err
	}
	nn := &node{path: lib.path, obj: lib.obj, loader: n}
	w.byName[name] = nn
	if w.add(lib.path, lib.real, lib.mode, Library) {
		w.queue = append(w.queue, nn)
	}
	return nil
}

// addLibgcc takes libgcc_s.so.1 when glibc's libc is in the closure (see glibcLibc).
func (w *walker) addLibgcc() error {
	libc, ok := w.byName[glibcLibc]
	if _, have := w.byName[libgcc]; !ok || have {
		return nil
	}
	if err := w.need(libc, libgcc); err != nil {
		return fmt.Errorf("%w; glibc loads it for pthread_cancel: install libgcc-s1", err)
	}
	return w.walk()
}

// found is a library found: its Path, its real path below the root, what it is.
type found struct {
	path, real string
	obj        object
	mode       fs.FileMode
}

// find looks for the library name that n needs where ld.so would. A file of that name that is
// no ELF object, or one of another class or machine than n, is passed over, as ld.so passes it
// over.
func (w *walker) find(n *node, name string) (found, error) {
	dirs := w.searchDirs(n)
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return found{}, fmt.Errorf("%s needs %s, a path relative to the folder it is run in", n.path, name)
		}
		dirs = []string{path.Dir(name)}
		name = path.Base(name)
	}
	for _, d := range dirs {
		p := path.Join(d, name)
		real, err := resolveIn(w.root, p)
		if err != nil {
			continue
		}
		o, mode, err := readObject(w.root, real)
		if err != nil || o.class != n.obj.class || o.machine != n.obj.machine {
			continue
		}
		return found{path: p, real: real, obj: o, mode: mode}, nil
	}
	return found{}, fmt.Errorf("%s (needed by %s) is in none of %s below %s", name, n.path, strings.Join(dirs, ":"), w.root)
}

// searchDirs are the folders ld.so searches for a library that n needs, in its order: the
// DT_RPATH of n and of the objects that loaded it, up to the program (only where the object has
// no DT_RUNPATH, which replaces it), n's DT_RUNPATH, the folders of /etc/ld.so.conf (which
// ld.so.cache lists), then the system folders. LD_LIBRARY_PATH, which comes after DT_RPATH, is
// not set when the archive is built.
func (w *walker) searchDirs(n *node) []string {
	var dirs []string
	if len(n.obj.runpath) == 0 {
		for l := n; l != nil; l = l.loader {
			if len(l.obj.runpath) == 0 {
				dirs = append(dirs, expandPaths(l.obj.rpath, path.Dir(l.path))...)
			}
		}
	}
	dirs = append(dirs, expandPaths(n.obj.runpath, path.Dir(n.path))...)
	dirs = append(dirs, w.conf...)
	dirs = append(dirs, systemDirs(n.obj)...)
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// expandPaths splits DT_RPATH or DT_RUNPATH values into folders, $ORIGIN (and ${ORIGIN})
// replaced by origin, the folder of the object that names them. An entry with another dynamic
// string token ($LIB, $PLATFORM), or a relative one (ld.so takes it from the current folder),
// is left out: at boot neither names a folder of the archive.
func expandPaths(values []string, origin string) []string {
	var out []string
	for _, v := range values {
		for _, d := range strings.Split(v, ":") {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			if d == "" || strings.Contains(d, "$") || !path.IsAbs(d) {
				continue
			}
			out = append(out, path.Clean(d))
		}
	}
	return out
}

// programDirs are the folders LookPath searches, in initramfs-tools' order (its hooks copy
// /sbin/cryptsetup and /sbin/lvm, which merged /usr makes /usr/sbin/…).
var programDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// LookPath finds the program name below root in /usr/sbin, /sbin, /usr/bin or /bin, and returns
// its path there (not its real path: the name to carry it by). The error says where it looked.
func LookPath(root, name string) (string, error) {
	for _, d := range programDirs {
		p := path.Join(d, name)
		if real, err := resolveIn(root, p); err == nil {
			if st, err := os.Stat(filepath.Join(root, real)); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no program %s below %s in %s", name, root, strings.Join(programDirs, ", "))
}
