// Package modules resolves kernel module names to the ordered list of module
// files to load, without depmod: it reads each module's ELF .modinfo section
// (depends=, softdep=, alias=) and the modules.builtin files of a
// lib/modules/RELEASE directory. Debian's kernel packages ship no modules.dep,
// and the machines this runs on may have no depmod.
package modules

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Module is one loadable module.
type Module struct {
	Name     string   // kernel name, '-' normalised to '_'
	Path     string   // relative to the modules directory, e.g. kernel/drivers/block/virtio_blk.ko; "" when Builtin
	Depends  []string // depends= of .modinfo, in the order given there
	SoftPre  []string // softdep "pre:" names (module names or aliases)
	SoftPost []string // softdep "post:" names; Closure does not load them
	Aliases  []string // alias= values, normalised as kmod does
	Builtin  bool     // part of the kernel image (modules.builtin); nothing to load
}

// Index is the set of modules of one lib/modules/RELEASE directory.
type Index struct {
	dir     string
	mods    map[string]*Module  // by name, loadable and built-in
	aliases map[string][]string // exact alias -> module names, sorted
	globs   []aliasGlob         // aliases with wildcards, sorted by pattern then name
}

type aliasGlob struct{ pattern, name string }

// searchDirs are the folders of a modules directory that hold modules, in the
// order depmod prefers them when one name is found in several.
var searchDirs = []string{"updates", "extra", "kernel"}

// Scan reads the modules of dir (lib/modules/RELEASE): every module file
// under kernel/, updates/ and extra/, and the names (and aliases, when
// modules.builtin.modinfo is there) of the built-in ones.
//
// Where depmod's modules.dep is there (an installed kernel), it is read instead of the modules'
// .modinfo sections; ScanModinfo always reads the modules themselves (an unpacked kernel
// package has no modules.dep).
func Scan(dir string) (*Index, error) {
	ix, err := scanDepmod(dir)
	if err != nil {
		return nil, err
	}
	if ix == nil {
		return ScanModinfo(dir)
	}
	return ix.finish()
}

// ScanModinfo is Scan that reads every module's .modinfo, whether or not depmod ran.
func ScanModinfo(dir string) (*Index, error) {
	var files []string // relative paths, in search order
	for _, sub := range searchDirs {
		root := filepath.Join(dir, sub)
		if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var found []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isModuleFile(d.Name()) {
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				found = append(found, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scanning modules: %w", err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}

	infos, err := readAll(dir, files)
	if err != nil {
		return nil, err
	}

	ix := &Index{dir: dir, mods: make(map[string]*Module, len(files)), aliases: map[string][]string{}}
	for i, rel := range files {
		mi := infos[i]
		name := mi.name
		if name == "" {
			name = moduleBaseName(rel)
		}
		if _, dup := ix.mods[name]; dup {
			continue // updates/ before extra/ before kernel/, then path order
		}
		ix.mods[name] = &Module{
			Name: name, Path: rel,
			Depends: mi.depends, SoftPre: mi.softPre, SoftPost: mi.softPost, Aliases: mi.aliases,
		}
	}

	return ix.finish()
}

// finish adds the built-in modules and the alias tables.
func (ix *Index) finish() (*Index, error) {
	builtin, err := readBuiltin(ix.dir)
	if err != nil {
		return nil, err
	}
	for name, aliases := range builtin {
		// The kernel has it already: loading a module of that name would fail with EEXIST.
		ix.mods[name] = &Module{Name: name, Aliases: aliases, Builtin: true}
	}

	for _, m := range ix.mods {
		for _, a := range m.Aliases {
			if strings.ContainsAny(a, "*?[") {
				ix.globs = append(ix.globs, aliasGlob{a, m.Name})
			} else {
				ix.aliases[a] = append(ix.aliases[a], m.Name)
			}
		}
	}
	for _, names := range ix.aliases {
		sort.Strings(names)
	}
	sort.Slice(ix.globs, func(i, j int) bool {
		a, b := ix.globs[i], ix.globs[j]
		if a.pattern != b.pattern {
			return a.pattern < b.pattern
		}
		return a.name < b.name
	})
	return ix, nil
}

// readAll reads the .modinfo of every file, in parallel; infos[i] is files[i]'s.
func readAll(dir string, files []string) ([]modinfo, error) {
	infos := make([]modinfo, len(files))
	errs := make([]error, len(files))
	workers := 2 * runtime.GOMAXPROCS(0) // the work is mostly waiting for reads
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dec decoder
			defer dec.close()
			for i := range next {
				infos[i], errs[i] = readModinfo(filepath.Join(dir, files[i]), &dec)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading modules of %s: %w", dir, err)
	}
	return infos, nil
}

// readBuiltin returns the built-in module names of dir, with their aliases
// from modules.builtin.modinfo when that file is there. modules.builtin is
// required: without it every built-in module would look unknown.
func readBuiltin(dir string) (map[string][]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil, fmt.Errorf("reading built-in module names: %w", err)
	}
	builtin := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			builtin[moduleBaseName(line)] = nil
		}
	}
	data, err = os.ReadFile(filepath.Join(dir, "modules.builtin.modinfo"))
	if errors.Is(err, fs.ErrNotExist) {
		return builtin, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading built-in module aliases: %w", err)
	}
	// "name.key=value\0" entries.
	for _, entry := range bytes.Split(data, []byte{0}) {
		name, rest, ok := bytes.Cut(entry, []byte{'.'})
		if !ok {
			continue
		}
		v, ok := bytes.CutPrefix(rest, []byte("alias="))
		if !ok {
			continue
		}
		n := Normalize(string(name))
		if _, known := builtin[n]; !known {
			continue // aliases of code that is not a module (modules.builtin is the list)
		}
		builtin[n] = appendUnique(builtin[n], normalizeAlias(string(v)))
	}
	return builtin, nil
}

// Dir returns the directory the index was scanned from.
func (ix *Index) Dir() string { return ix.dir }

// Len returns the number of modules, loadable and built-in.
func (ix *Index) Len() int { return len(ix.mods) }

// Lookup finds a module by name ('-' or '_'), or else by alias (see Closure
// for how one of several modules of an alias is chosen). A built-in module
// comes back with Builtin set and no Path.
func (ix *Index) Lookup(name string) (Module, bool) {
	m := ix.resolve(name)
	if m == nil {
		return Module{}, false
	}
	return m.clone(), true
}

func (m *Module) clone() Module {
	c := *m
	c.Depends = slices.Clone(m.Depends)
	c.SoftPre = slices.Clone(m.SoftPre)
	c.SoftPost = slices.Clone(m.SoftPost)
	c.Aliases = slices.Clone(m.Aliases)
	return c
}

// resolve maps a module name or alias to one module, or nil. For an alias
// with several modules: a built-in one if any (nothing to load), else one
// whose name ends in "_generic" (it works on every CPU, where for example
// crc32c_intel needs SSE4.2), else the first by name.
func (ix *Index) resolve(name string) *Module {
	if m, ok := ix.mods[Normalize(name)]; ok {
		return m
	}
	a := normalizeAlias(name)
	cands := ix.aliases[a]
	if len(cands) == 0 {
		for _, g := range ix.globs {
			if ok, _ := path.Match(g.pattern, a); ok {
				cands = appendUnique(cands, g.name)
			}
		}
		sort.Strings(cands)
	}
	if len(cands) == 0 {
		return nil
	}
	for _, c := range cands {
		if ix.mods[c].Builtin {
			return ix.mods[c]
		}
	}
	for _, c := range cands {
		if strings.HasSuffix(c, "_generic") {
			return ix.mods[c]
		}
	}
	return ix.mods[cands[0]]
}

// Closure returns the modules to load for names (module names or aliases), in
// an order that loads every module after its dependencies and after its
// softdep "pre:" modules; and the names of built-in modules it met (and so
// left out). The order is the same for the same inputs. An unknown name or
// missing dependency is an error; a softdep that names nothing in the index is
// left out, as modprobe does. A dependency cycle is an error.
func (ix *Index) Closure(names ...string) ([]Module, []string, error) {
	w := walker{ix: ix, state: map[string]int{}}
	for _, n := range names {
		m := ix.resolve(n)
		if m == nil {
			return nil, nil, fmt.Errorf("module %q: no module, built-in module or alias of that name in %s", n, ix.dir)
		}
		if err := w.visit(m); err != nil {
			return nil, nil, err
		}
	}
	return w.order, w.builtin, nil
}

type walker struct {
	ix      *Index
	state   map[string]int // 1 while its dependencies are being visited, 2 once in order
	stack   []string
	order   []Module
	builtin []string
}

func (w *walker) visit(m *Module) error {
	if m.Builtin {
		if w.state[m.Name] == 0 {
			w.state[m.Name] = 2
			w.builtin = append(w.builtin, m.Name)
		}
		return nil
	}
	switch w.state[m.Name] {
	case 2:
		return nil
	case 1:
		i := slices.Index(w.stack, m.Name)
		cycle := append(slices.Clone(w.stack[i:]), m.Name)
		return fmt.Errorf("module dependency cycle in %s: %s", w.ix.dir, strings.Join(cycle, " -> "))
	}
	w.state[m.Name] = 1
	w.stack = append(w.stack, m.Name)
	for _, s := range m.SoftPre {
		if d := w.ix.resolve(s); d != nil {
			if err := w.visit(d); err != nil {
				return err
			}
		}
	}
	for _, dep := range m.Depends {
		d, ok := w.ix.mods[dep]
		if !ok {
			return fmt.Errorf("module %s (%s) depends on %s, which is not in %s", m.Name, m.Path, dep, w.ix.dir)
		}
		if err := w.visit(d); err != nil {
			return err
		}
	}
	w.stack = w.stack[:len(w.stack)-1]
	w.state[m.Name] = 2
	w.order = append(w.order, m.clone())
	return nil
}

// Needs returns the names of the loadable modules that must be loaded before m: its depends=
// and the modules its softdep "pre:" names resolve to, built-in ones left out.
func (ix *Index) Needs(m Module) []string {
	var out []string
	for _, s := range m.SoftPre {
		if d := ix.resolve(s); d != nil && !d.Builtin && d.Name != m.Name {
			out = appendUnique(out, d.Name)
		}
	}
	for _, dep := range m.Depends {
		if d, ok := ix.mods[dep]; ok && !d.Builtin {
			out = appendUnique(out, d.Name)
		}
	}
	return out
}

// DeviceAliases returns the aliases of m that name devices a bus announces in sysfs
// (modalias, "bus:..."), leaving out names that are no device: fs-, crypto-, char-major-,
// devname: and the like.
func DeviceAliases(m Module) []string {
	var out []string
	for _, a := range m.Aliases {
		bus, _, ok := strings.Cut(a, ":")
		if !ok || bus == "" || bus == "devname" || strings.ContainsAny(bus, "*?[") {
			continue
		}
		out = append(out, a)
	}
	return out
}
