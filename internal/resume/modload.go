package resume

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/initramfs/modalias"
)

// Loader loads the initramfs's modules in two steps. Before the resume decision, only the
// drivers of the devices the machine has (coldplug, as udev does at boot: each device's
// modalias in sysfs against the modules' alias patterns, again as loaded drivers bring new
// devices, such as the disks behind virtio_pci); everything else (file systems, dm-crypt, the
// drivers of hardware that is not there) after, when the boot goes on.
//
// Before the decision the loads go one at a time between two looks for the disk (LoadNext),
// the earliest in the config's order first: the order is the priority, so the disk drivers the
// default set lists first are not held up by the AHCI or NVMe chain of a controller with no
// disk. After it (LoadRest) they run as many at once as there are CPUs, each as soon as the
// modules it needs are in.
type Loader struct {
	b        *Machine
	modules  []string                // every module, in the config's load order
	index    map[string]int          // module -> its place in that order
	needs    map[string][]string     // module -> modules to load first (earlier in the order)
	patterns map[string][]devPattern // modalias prefix ("pci", "virtio", …) -> patterns
	buses    []string                // the sysfs buses whose devices the patterns can match
	seen     map[string]bool         // "bus/device" already looked at
	workers  int                     // at most this many loads at once

	mu      sync.Mutex
	changed *sync.Cond // a load ended, or modules were queued
	state   map[string]modState
	queued  int // modules queued and not started
	running int // loads started and not returned
	active  int // worker goroutines
	loaded  int
	failed  []string // "module: error", for the log
	rest    bool     // LoadRest has run
	// Debug says each module's load time (hibernate.debug).
	Debug bool
}

type modState int

const (
	notAsked modState = iota
	queued
	loading
	done
)

type devPattern struct {
	glob    string
	literal string // the glob up to its first wildcard: a cheap first test
	module  string
}

// NewLoader reads the load tables of cfg. A config without Needs (an initramfs built before
// them) loads its modules one after the other, in its order.
func NewLoader(b *Machine, cfg config.Config) *Loader {
	l := &Loader{b: b, modules: cfg.Modules, index: map[string]int{}, needs: map[string][]string{},
		patterns: map[string][]devPattern{}, seen: map[string]bool{}, state: map[string]modState{},
		workers: max(1, runtime.NumCPU())}
	l.changed = sync.NewCond(&l.mu)
	for i, m := range cfg.Modules {
		l.index[m] = i
	}
	for i, m := range cfg.Modules {
		if cfg.Needs == nil {
			if i > 0 {
				l.needs[m] = []string{cfg.Modules[i-1]}
			}
			continue
		}
		// The order loads every module after what it needs; a need that is not earlier in
		// it (a broken config) could never be met, and is dropped.
		for _, n := range cfg.Needs[m] {
			if j, ok := l.index[n]; ok && j < i {
				l.needs[m] = append(l.needs[m], n)
			}
		}
	}
	for _, m := range cfg.Modules {
		for _, g := range cfg.Devices[m] {
			bus, _, _ := strings.Cut(g, ":")
			lit := g
			if i := strings.IndexAny(g, `*?[\`); i >= 0 {
				lit = g[:i]
			}
			l.patterns[bus] = append(l.patterns[bus], devPattern{glob: g, literal: lit, module: m})
		}
	}
	// A modalias starts with its bus's name, but for devices on the platform bus, which
	// firmware describes: "of:" (device tree) and "acpi:" there too.
	for prefix := range l.patterns {
		l.buses = append(l.buses, prefix)
		if prefix == "of" || prefix == "acpi" {
			l.buses = append(l.buses, "platform")
		}
	}
	slices.Sort(l.buses)
	l.buses = slices.Compact(l.buses)
	return l
}

// Coldplug starts the loads of the drivers of the devices present that no load was started
// for yet, without waiting for them; call it again to catch the devices those drivers bring
// (the disks behind virtio_pci). It returns the modules it started.
func (l *Loader) Coldplug() []string {
	want := l.forDevices()
	l.mu.Lock()
	l.queue(want)
	l.mu.Unlock()
	return want
}

// LoadNext loads the earliest queued module whose needs are in, here and now, and says whether
// there was one. Before the decision /init loads this way, one module between two looks for the
// disk: a load runs in the kernel until it is done (Debian's kernels preempt only voluntarily),
// so a load in the background would hold up the look that finds the disk its driver just
// brought, whatever its priority.
func (l *Loader) LoadNext() bool {
	l.mu.Lock()
	m := l.next()
	if m == "" {
		l.mu.Unlock()
		return false
	}
	l.begin(m)
	l.mu.Unlock()
	l.finish(m, l.loadNow(m))
	return true
}

// begin marks the queued module m as loading. l.mu is held.
func (l *Loader) begin(m string) {
	l.state[m] = loading
	l.queued--
	l.running++
}

func (l *Loader) loadNow(m string) error {
	load := l.b.LoadModule
	if load == nil {
		load = loadModule
	}
	t := l.b.Now()
	err := load(m)
	if l.Debug {
		l.b.Logf("module %s: %d ms (%v)", path.Base(m), (l.b.Now() - t).Milliseconds(), err)
	}
	return err
}

// finish records the end of m's load.
func (l *Loader) finish(m string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state[m] = done
	l.running--
	if err != nil && !errors.Is(err, unix.EEXIST) {
		l.failed = append(l.failed, path.Base(m)+": "+err.Error())
	} else {
		l.loaded++
	}
	l.changed.Broadcast()
}

// Busy says whether a module's load has not returned yet.
func (l *Loader) Busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running > 0 || l.queued > 0
}

// forDevices returns the modules, not started yet, whose patterns match the modalias of a
// device not looked at before, on the buses the patterns name.
func (l *Loader) forDevices() []string {
	want := map[string]bool{}
	for _, bus := range l.buses {
		dir := "sys/bus/" + bus + "/devices"
		devs, err := os.ReadDir(l.b.FS.Path(dir))
		if err != nil {
			continue
		}
		for _, d := range devs {
			key := bus + "/" + d.Name()
			if l.seen[key] {
				continue // a device's modalias does not change
			}
			// A device's folder can be there a moment before its files: one that cannot be
			// read now is read again next time.
			alias, err := l.b.FS.ReadString(dir + "/" + d.Name() + "/modalias")
			if err != nil {
				continue
			}
			l.seen[key] = true
			if alias == "" {
				continue
			}
			alias = modalias.Normalize(alias)
			prefix, _, _ := strings.Cut(alias, ":")
			for _, p := range l.patterns[prefix] {
				if l.stateOf(p.module) == notAsked && !want[p.module] &&
					strings.HasPrefix(alias, p.literal) && modalias.Match(p.glob, alias) {
					want[p.module] = true
				}
			}
		}
	}
	var out []string
	for _, m := range l.modules { // the config's order: the log reads the same every boot
		if want[m] {
			out = append(out, m)
		}
	}
	return out
}

// LoadRest loads every module not loaded yet (once; later calls do nothing), waits for every
// load, and says whether it loaded any.
func (l *Loader) LoadRest() bool {
	if l.rest {
		return false
	}
	l.rest = true
	var todo []string
	for _, m := range l.modules {
		if l.stateOf(m) == notAsked {
			todo = append(todo, m)
		}
	}
	l.Start(todo)
	l.Wait()
	return len(todo) > 0
}

func (l *Loader) stateOf(m string) modState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state[m]
}

// Start queues the modules and those they need, each once, and returns at once. A module
// already in the kernel is fine; any other failure is kept for the log and the boot goes on.
func (l *Loader) Start(mods []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue(mods)
	for l.active < l.workers && l.active < l.queued {
		l.active++
		go l.work()
	}
	l.changed.Broadcast()
}

// queue marks the modules and what they need as queued. l.mu is held.
func (l *Loader) queue(mods []string) {
	var q func(m string)
	q = func(m string) {
		if _, ok := l.index[m]; !ok || l.state[m] != notAsked {
			return
		}
		l.state[m] = queued
		l.queued++
		for _, n := range l.needs[m] {
			q(n)
		}
	}
	for _, m := range mods {
		q(m)
	}
	l.changed.Broadcast()
}

// Wait waits until every queued module's load has returned.
func (l *Loader) Wait() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.queued > 0 || l.running > 0 {
		l.changed.Wait()
	}
}

// Hold drops the modules queued and not started yet (they go back to not asked for, and
// LoadRest loads them), and waits for the loads that are running. Before the resume write:
// the kernel's freezer then finds no load in progress, and no CPU goes to a module the
// restored kernel does not need.
func (l *Loader) Hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m, st := range l.state {
		if st == queued {
			l.state[m] = notAsked
		}
	}
	l.queued = 0
	l.changed.Broadcast()
	for l.running > 0 {
		l.changed.Wait()
	}
}

// work loads queued modules, the earliest in the order whose needs are in, until none is
// queued.
func (l *Loader) work() {
	if l.b.LoadModule == nil {
		// The loads of LoadRest run on threads of their own at the lowest priority, so that
		// what goes on beside them (mounting root) gets the CPU between two loads. The thread
		// ends with the goroutine (it stays locked), so the priority goes nowhere else.
		runtime.LockOSThread()
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
	}
	l.mu.Lock()
	for l.queued > 0 {
		m := l.next()
		if m == "" {
			l.changed.Wait() // what is queued waits for a load in progress
			continue
		}
		l.begin(m)
		l.mu.Unlock()
		l.finish(m, l.loadNow(m))
		l.mu.Lock()
	}
	l.active--
	l.mu.Unlock()
}

// next returns the earliest queued module whose needs are all loaded, or "". l.mu is held.
func (l *Loader) next() string {
	for _, m := range l.modules {
		if l.state[m] != queued {
			continue
		}
		ready := true
		for _, n := range l.needs[m] {
			if l.state[n] != done {
				ready = false
				break
			}
		}
		if ready {
			return m
		}
	}
	return ""
}

// Named is the archive path of the module called name ("efivarfs"), "" when the initramfs has
// none.
func (l *Loader) Named(name string) string {
	for _, m := range l.modules {
		if moduleNames([]string{m}) == name {
			return m
		}
	}
	return ""
}

// LoadNow loads module p of the initramfs, the modules it needs first, here and now, for a
// step that cannot go on without it (efivarfs, to read an EFI variable before the decision).
// A module loaded already is no error, nor one in the kernel already; one being loaded is
// waited for.
func (l *Loader) LoadNow(p string) error {
	l.mu.Lock()
	if _, ok := l.index[p]; !ok {
		l.mu.Unlock()
		return fmt.Errorf("module %s is not in this initramfs", p)
	}
	needs := l.needs[p]
	l.mu.Unlock()
	for _, n := range needs {
		if err := l.LoadNow(n); err != nil {
			return fmt.Errorf("%s, which %s needs: %w", path.Base(n), path.Base(p), err)
		}
	}
	l.mu.Lock()
	for l.state[p] == loading {
		l.changed.Wait()
	}
	switch l.state[p] {
	case done:
		l.mu.Unlock()
		return nil
	case queued:
		l.queued--
	}
	l.state[p] = loading
	l.running++
	l.mu.Unlock()
	err := l.loadNow(p)
	l.finish(p, err)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// Drop takes module p out of the loads to come, LoadRest's among them: for a module this
// machine has no use for and whose load would only fail (efivarfs without EFI: ENODEV). "" is
// no module.
func (l *Loader) Drop(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state[p] {
	case queued:
		l.queued--
	case loading, done:
		return
	}
	if _, ok := l.index[p]; ok {
		l.state[p] = done
		l.changed.Broadcast()
	}
}

// Failures returns the failed loads since the last call, and how many modules are in.
func (l *Loader) Failures() (failed []string, loaded int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	failed, l.failed = l.failed, nil
	return failed, l.loaded
}

// moduleNames gives the module names of archive paths, for the log.
func moduleNames(paths []string) string {
	names := make([]string, len(paths))
	for i, p := range paths {
		n := path.Base(p)
		if j := strings.Index(n, ".ko"); j >= 0 {
			n = n[:j]
		}
		names[i] = n
	}
	return strings.Join(names, " ")
}

// moduleParams are given to every module: none. async_probe (the kernel's own parameter, for
// every module) would let a load return before its driver probed, but it was tried and dropped:
// two virtio disks then came up as vda and vdb in either order (seen in make bench), where
// root=/dev/vda must name the same disk every boot.
const moduleParams = ""

func loadModule(path string) error {
	if strings.HasSuffix(path, ".ko") {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.FinitModule(int(f.Fd()), moduleParams, 0)
	}
	// hibernate initramfs build puts modules in decompressed, so that /init carries no
	// decompressor (every package of /init costs at each boot under emulation).
	return fmt.Errorf("%s: a compressed module; rebuild the initramfs with this hibernate (it decompresses them)", path)
}
