// Package debroot makes Debian root file systems for test guests with debootstrap, and keeps
// them: a root is built once for its inputs (suite, variant, packages, the files put in it) and
// reused by every later run, under $HIBERNATE_CACHE/debroot/<name>-<hash of the inputs>/root (testutil.CacheDir), complete
// once .done is there.
//
// Two layers, so that changing a unit file does not download the packages again: the
// debootstrap output (base-<hash>, keyed by suite, variant and packages) and the named root
// made from it (hard links, then Spec.Files written as new files: the base is never changed).
//
// Safety: debootstrap's second stage runs maintainer scripts chrooted in the target. It runs
// here in its own mount and PID namespaces (the /proc it mounts is gone with them, however it
// ends), and without sysfs: an entry put in the target's /sys beforehand makes debootstrap
// skip its sysfs mount, so nothing in the chroot reaches this machine's /sys/power. The chroot
// has no block device nodes (debootstrap makes null, zero, tty and the like), and its /boot and
// /etc are the target's.
package debroot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

// recipe changes when the way a root is made changes, so that old cached roots are not reused.
const recipe = 1

// File is one file (or symlink, with Link) put into the root after debootstrap.
type File struct {
	Path string      // inside the root, relative ("etc/fstab")
	Data string      // contents of a regular file
	Mode os.FileMode // permission bits; 0644 if zero
	Link string      // if set, a symlink to Link instead of a file
}

// Spec describes a root.
type Spec struct {
	Name     string   // names the cache folder: <CacheDir>/<Name>-<hash>
	Suite    string   // default "bookworm"
	Variant  string   // debootstrap --variant, default "minbase"
	Include  []string // packages beyond the variant's (with their dependencies, not recommends)
	Files    []File   // written (or replaced) after debootstrap
	Remove   []string // paths removed after debootstrap (relative)
	NoRootPW bool     // root gets an empty password (login without one on a console)

	// Not inputs of the hash: where and from where.
	CacheDir string    // default testutil.CacheDir()/debroot
	Mirror   string    // default: the Debian mirror apt uses (MirrorFromApt)
	Log      io.Writer // debootstrap's output; the build log is kept in the cache folder too
}

// Root is a built root.
type Root struct {
	Dir      string        // the root tree
	Cache    string        // <CacheDir>/<Name>-<hash>: Dir is its root/
	Kernels  []string      // releases under Dir/lib/modules, sorted
	Built    bool          // made by this call (not found in the cache)
	Took     time.Duration // how long debootstrap took, when Built made the base too
	BaseDir  string        // the debootstrap output Dir was made from
	BaseNew  bool          // debootstrap ran in this call
	Packages []string      // Include, sorted
}

func (s *Spec) defaults() error {
	if s.Name == "" {
		return errors.New("debroot: Spec.Name is empty")
	}
	if strings.ContainsAny(s.Name, "/ ") {
		return fmt.Errorf("debroot: Spec.Name %q: no slashes or spaces", s.Name)
	}
	if s.Suite == "" {
		s.Suite = "bookworm"
	}
	if s.Variant == "" {
		s.Variant = "minbase"
	}
	if s.CacheDir == "" {
		s.CacheDir = filepath.Join(testutil.CacheDir(), "debroot")
	}
	if s.Log == nil {
		s.Log = io.Discard
	}
	for _, f := range s.Files {
		if err := checkRel(f.Path); err != nil {
			return err
		}
	}
	for _, p := range s.Remove {
		if err := checkRel(p); err != nil {
			return err
		}
	}
	return nil
}

func checkRel(p string) error {
	if p == "" || filepath.IsAbs(p) || filepath.Clean(p) != p || strings.HasPrefix(p, "..") {
		return fmt.Errorf("debroot: path %q: want a clean path relative to the root", p)
	}
	return nil
}

// baseKey is the hash of what debootstrap makes: suite, variant, packages.
func (s Spec) baseKey() string {
	pk := append([]string(nil), s.Include...)
	sort.Strings(pk)
	return hashOf(struct {
		Recipe         int
		Suite, Variant string
		Include        []string
	}{recipe, s.Suite, s.Variant, pk})
}

// Key is the hash of all of the root's inputs, the one in its folder name.
func (s Spec) Key() string {
	rm := append([]string(nil), s.Remove...)
	sort.Strings(rm)
	files := append([]File(nil), s.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return hashOf(struct {
		Base     string
		Files    []File
		Remove   []string
		NoRootPW bool
	}{s.baseKey(), files, rm, s.NoRootPW})
}

func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings: cannot fail
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// Ensure returns the root for s, building what the cache does not hold yet. A cold build
// downloads the packages (several minutes); a cached one returns at once. Concurrent callers
// for the same root wait for each other (a lock file beside it).
func Ensure(ctx context.Context, s Spec) (Root, error) {
	if err := s.defaults(); err != nil {
		return Root{}, err
	}
	if err := os.MkdirAll(s.CacheDir, 0o755); err != nil {
		return Root{}, err
	}
	r := Root{Cache: filepath.Join(s.CacheDir, s.Name+"-"+s.Key()), BaseDir: filepath.Join(s.CacheDir, "base-"+s.baseKey())}
	r.Dir = filepath.Join(r.Cache, "root")
	r.Packages = append([]string(nil), s.Include...)
	sort.Strings(r.Packages)
	unlock, err := testutil.LockCache(ctx, r.Cache+".lock", "this root")
	if err != nil {
		return r, err
	}
	defer unlock()
	// Marked before anything is made from it: a Prune by another run building another root
	// then leaves the base alone while this one derives from it (a new base's .done is new).
	markUsed(r.BaseDir)
	if !done(r.Cache) {
		if !done(r.BaseDir) {
			start := time.Now()
			if err := debootstrap(ctx, s, r.BaseDir); err != nil {
				return r, err
			}
			r.BaseNew, r.Took = true, time.Since(start)
		}
		if err := derive(s, r.BaseDir, r.Cache); err != nil {
			return r, err
		}
		r.Built = true
	}
	markUsed(r.Cache)
	if r.Built {
		pruneLogged(s.CacheDir, s.Log)
	}
	r.Kernels, err = kernels(r.Dir)
	return r, err
}

// pruneLogged prunes the cache folder when something new came into it (Prune), saying what
// went to log; a failure to prune fails nothing.
func pruneLogged(dir string, log io.Writer) {
	removed, err := Prune(dir, Unused, time.Now())
	for _, n := range removed {
		fmt.Fprintf(log, "debroot: removed %s from the cache: no run used it for %v\n", n, Unused)
	}
	if err != nil {
		fmt.Fprintf(log, "debroot: pruning %s: %v\n", dir, err)
	}
}

func done(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".done"))
	return err == nil
}

// sysPlaceholder is put into the target's /sys before debootstrap: a non-empty /sys makes its
// second stage skip mounting sysfs (see setup_proc in /usr/share/debootstrap/functions).
const sysPlaceholder = "sys/.debroot-no-sysfs"

// debootstrap makes the base in dir (through dir.partial, renamed once complete).
func debootstrap(ctx context.Context, s Spec, dir string) error {
	mirror := s.Mirror
	if mirror == "" {
		var err error
		if mirror, err = MirrorFromApt("/etc/apt", s.Suite); err != nil {
			return err
		}
	}
	bin, err := findTool("debootstrap")
	if err != nil {
		return err
	}
	tmp := dir + ".partial"
	if err := RemoveTree(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "sys"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, sysPlaceholder), []byte("keeps debootstrap from mounting sysfs here\n"), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
		bin, "--variant=" + s.Variant}
	if len(s.Include) > 0 {
		args = append(args, "--include="+strings.Join(s.Include, ","))
	}
	args = append(args, s.Suite, tmp, mirror)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(logf, s.Log, &tail)
	cmd.Stderr = cmd.Stdout
	// A clean environment: no host locale or proxy settings leak into the chroot's scripts.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
	cmd.WaitDelay = 10 * time.Second
	fmt.Fprintf(logf, "$ unshare %s\n", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap into %s: %w (log %s)\n%s", tmp, err, logf.Name(), tail.String())
	}
	if err := checkNoMounts(tmp); err != nil {
		return err
	}
	os.Remove(filepath.Join(tmp, sysPlaceholder))
	// Downloaded packages: nobody installs from them again.
	debs, _ := filepath.Glob(filepath.Join(tmp, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		os.Remove(d)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".done"), nil, 0o644); err != nil {
		return err
	}
	if err := RemoveTree(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// derive makes the named root in cache/root from base: hard links of every file, then the
// removals and Files (each written as a new file, so the base's inode is never changed).
func derive(s Spec, base, cache string) error {
	tmp := cache + ".partial"
	if err := RemoveTree(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.Command("cp", "-al", base, root).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -al %s %s: %w: %s", base, root, err, out)
	}
	os.Remove(filepath.Join(root, ".done"))
	for _, p := range s.Remove {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			return err
		}
	}
	for _, f := range s.Files {
		if err := WriteFile(root, f); err != nil {
			return err
		}
	}
	if s.NoRootPW {
		if err := emptyRootPassword(root); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".done"), nil, 0o644); err != nil {
		return err
	}
	if err := RemoveTree(cache); err != nil {
		return err
	}
	return os.Rename(tmp, cache)
}

// WriteFile puts f into the root tree: the old file (perhaps a hard link into a cached tree) is
// removed first and a new one made, so no other tree sharing its inode sees the change.
func WriteFile(root string, f File) error {
	p := filepath.Join(root, f.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if f.Link != "" {
		return os.Symlink(f.Link, p)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(p, []byte(f.Data), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode) // not the umask's
}

// emptyRootPassword empties root's password field in etc/shadow.
func emptyRootPassword(root string) error {
	p := filepath.Join(root, "etc/shadow")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i, l := range lines {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == "root" {
			f[1] = ""
			lines[i] = strings.Join(f, ":")
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s has no root line", p)
	}
	return WriteFile(root, File{Path: "etc/shadow", Data: strings.Join(lines, "\n"), Mode: 0o640})
}

// kernels lists the releases under root/lib/modules.
func kernels(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "lib/modules"))
	if err != nil {
		return nil, err
	}
	var rels []string
	for _, e := range entries {
		if e.IsDir() {
			rels = append(rels, e.Name())
		}
	}
	sort.Strings(rels)
	return rels, nil
}

// checkNoMounts fails if anything is mounted at or below dir in this mount namespace.
func checkNoMounts(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == abs || strings.HasPrefix(f[4], abs+"/")) {
			return fmt.Errorf("debroot: %s is still mounted (mountinfo: %s): not touching the tree", f[4], l)
		}
	}
	return nil
}

// RemoveTree removes dir, refusing when something is mounted at or below it (a bind mount left
// by a chroot would otherwise take the files of what it shows with it).
func RemoveTree(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := checkNoMounts(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// findTool finds a program on PATH or in the sbin folders a non-root PATH leaves out.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("debroot: no %s: run qemu-tests/scripts/deps.sh (apt-get install %s)", name, name)
}

// tailBuffer keeps the last 4 KiB written to it, for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(bytes.TrimSpace(t.b)) }
