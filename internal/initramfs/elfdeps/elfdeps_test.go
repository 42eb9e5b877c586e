package elfdeps

import (
	"bytes"
	"debug/elf"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkClosure checks what every closure must be: each Path absolute and once, each file's
// Source a regular file, each link naming a file of the closure, one program at least.
func checkClosure(t *testing.T, files []File) map[string]File {
	t.Helper()
	byPath := map[string]File{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			t.Errorf("Path %q: want an absolute clean path", f.Path)
		}
		if _, dup := byPath[f.Path]; dup {
			t.Errorf("%s twice", f.Path)
		}
		byPath[f.Path] = f
		if f.LinkTo != "" {
			continue
		}
		if st, err := os.Stat(f.Source); err != nil || !st.Mode().IsRegular() || f.Mode == 0 {
			t.Errorf("%s: Source %q mode %v: want a regular file (%v)", f.Path, f.Source, f.Mode, err)
		}
	}
	for _, f := range files {
		if to, ok := byPath[f.LinkTo]; f.LinkTo != "" && (!ok || to.LinkTo != "") {
			t.Errorf("%s links to %q, not a file of the closure", f.Path, f.LinkTo)
		}
	}
	return byPath
}

// The programs the initramfs carries, and two with a DT_RPATH ($ORIGIN) and a DT_RUNPATH, as
// this machine has them: each needed library found (sonames by prefix, those Debian 12 and 13
// share: Debian 13's cryptsetup takes Argon2 from libcrypto, not libargon2), the loader at its
// PT_INTERP path, libgcc_s.so.1 beside glibc.
func TestClosureOfThisMachinesPrograms(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		want []string // base names, by prefix, of libraries that must be in the closure
	}{
		{"/bin/ls", []string{"libc.so.6", "libselinux.so.", "libgcc_s.so.1"}},
		{"/usr/sbin/cryptsetup", []string{"libcryptsetup.so.", "libpopt.so.", "libuuid.so.", "libblkid.so.", "libdevmapper.so.", "libcrypto.so.", "libjson-c.so.", "libc.so.6", "libgcc_s.so.1"}},
		{"/usr/sbin/lvm", []string{"libdevmapper-event.so.", "libdevmapper.so.", "libaio.so.", "libblkid.so.", "libudev.so.", "libc.so.6", "libgcc_s.so.1"}},
		{"/usr/bin/java", []string{"libjli.so"}},            // DT_RPATH $ORIGIN/../lib
		{"/usr/bin/busctl", []string{"libsystemd-shared-"}}, // DT_RUNPATH /usr/lib/x86_64-linux-gnu/systemd
	} {
		t.Run(path.Base(tc.exe), func(t *testing.T) {
			if _, err := os.Stat(tc.exe); err != nil {
				t.Skipf("%s is not installed here: %v", tc.exe, err)
			}
			files, err := Closure("/", tc.exe)
			if err != nil {
				t.Fatal(err)
			}
			byPath := checkClosure(t, files)
			var names []string
			loader := ""
			for _, f := range files {
				names = append(names, path.Base(f.Path))
				if f.Kind == Loader {
					loader = f.Path
				}
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, w) }) {
					t.Errorf("no %s* in %v", w, names)
				}
			}
			if loader != "/lib64/ld-linux-x86-64.so.2" || byPath[loader].LinkTo != "" {
				t.Errorf("loader %q (%+v), want /lib64/ld-linux-x86-64.so.2 with its contents", loader, byPath[loader])
			}
			if real, _ := filepath.EvalSymlinks(tc.exe); byPath[real].Kind != Program || byPath[real].LinkTo != "" {
				t.Errorf("the program's real path %s: %+v", real, byPath[real])
			}
		})
	}
}

// lsLibs is ls's libraries as this machine has them, for fake roots laid out otherwise: the
// DT_NEEDED entries of /bin/ls and of its libraries, read here with debug/elf from the multiarch
// folder alone, and libgcc_s.so.1 (glibc loads it). The cases below need libselinux.so.1,
// libpcre2-8.so.0 and libc.so.6 among them; Debian 13's ls needs libcap.so.2 besides.
func lsLibs(t *testing.T) []string {
	t.Helper()
	libs := []string{}
	var walk func(p string)
	walk = func(p string) {
		f, err := elf.Open(p)
		if err != nil {
			t.Skipf("this machine's %s: %v", p, err)
		}
		defer f.Close()
		needed, err := f.ImportedLibraries()
		if err != nil {
			t.Skipf("this machine's %s: %v", p, err)
		}
		for _, n := range needed {
			if n != loaderName && !slices.Contains(libs, n) {
				libs = append(libs, n)
				walk(filepath.Join(hostLibs, n))
			}
		}
	}
	walk("/bin/ls")
	if !slices.Contains(libs, "libgcc_s.so.1") {
		libs = append(libs, "libgcc_s.so.1")
	}
	for _, n := range []string{"libselinux.so.1", "libpcre2-8.so.0", "libc.so.6"} {
		if !slices.Contains(libs, n) {
			t.Skipf("this machine's ls does not need %s (it needs %v): the cases are written for one that does", n, libs)
		}
	}
	return libs
}

const hostLibs, loaderName = "/lib/x86_64-linux-gnu", "ld-linux-x86-64.so.2"

// fakeRoot lays out a merged-/usr Debian root with ls and its libraries, copied from this
// machine: /lib, /bin and /lib64 links into /usr, each library a versioned file with its soname
// a relative link to it, the loader in /usr/lib64 an absolute link into the multiarch folder.
// It returns the root and the number of libraries copied (the loader not counted).
func fakeRoot(t *testing.T) (string, int) {
	t.Helper()
	libs := append(lsLibs(t), loaderName)
	for _, n := range libs {
		if _, err := os.Stat(filepath.Join(hostLibs, n)); err != nil {
			t.Skipf("this machine has no %s to copy: %v", n, err)
		}
	}
	root := t.TempDir()
	copyFile(t, "/bin/ls", filepath.Join(root, "usr/bin/ls"), 0o755)
	for _, n := range libs {
		copyFile(t, filepath.Join(hostLibs, n), filepath.Join(root, "usr/lib/x86_64-linux-gnu", n+".real"), 0o644)
		link(t, root, "usr/lib/x86_64-linux-gnu/"+n, n+".real")
	}
	link(t, root, "bin", "usr/bin")
	link(t, root, "lib", "usr/lib")
	link(t, root, "lib64", "usr/lib64")
	link(t, root, "usr/lib64/"+loaderName, "/lib/x86_64-linux-gnu/"+loaderName)
	return root, len(libs) - 1
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, b, mode)
}

func write(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
}

// link makes name (below root) a symlink to target, replacing what is there.
func link(t *testing.T, root, name, target string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// move moves name to the folder dir (both below root).
func move(t *testing.T, root, name, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, name), filepath.Join(root, dir, path.Base(name))); err != nil {
		t.Fatal(err)
	}
}

// Fake roots laid out as other machines are: the files by the names the loader looks up, their
// contents from the end of each root's links (never from outside the root), a second name of
// one file a link to the first, and the errors that name what is missing.
func TestClosureInFakeRoots(t *testing.T) {
	ml := "/lib/x86_64-linux-gnu/"
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, root string)
		want    []string // "PATH <- SOURCE" (below the root) or "PATH -> LINK"
		dirs    string   // LibraryDirs, joined with ':'
		wantErr string
	}{
		{"merged /usr, the loader an absolute link", nil, []string{
			"/usr/bin/ls <- /usr/bin/ls", "/bin/ls -> /usr/bin/ls",
			"/lib64/" + loaderName + " <- /usr/lib/x86_64-linux-gnu/" + loaderName + ".real",
			ml + "libc.so.6 <- /usr/lib/x86_64-linux-gnu/libc.so.6.real",
			ml + loaderName + " -> /lib64/" + loaderName,
			ml + "libgcc_s.so.1 <- /usr/lib/x86_64-linux-gnu/libgcc_s.so.1.real",
		}, ml[:len(ml)-1], ""},
		{"libraries in /lib64, no multiarch folder", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "lib64"))
			if err := os.Rename(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), filepath.Join(root, "lib64")); err != nil {
				t.Fatal(err)
			}
		}, []string{"/lib64/" + loaderName + " <- /lib64/" + loaderName + ".real", "/lib64/libc.so.6 <- /lib64/libc.so.6.real", "/lib64/libselinux.so.1 <- /lib64/libselinux.so.1.real"}, "/lib64", ""},
		{"a library in a folder of ld.so.conf.d", func(t *testing.T, root string) {
			move(t, root, "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.real", "opt/pcre/lib")
			link(t, root, "opt/pcre/lib/libpcre2-8.so.0", "libpcre2-8.so.0.real")
			os.Remove(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0"))
			write(t, filepath.Join(root, "etc/ld.so.conf"), []byte("# libc default\ninclude /etc/ld.so.conf.d/*.conf\n"), 0o644)
			write(t, filepath.Join(root, "etc/ld.so.conf.d/pcre.conf"), []byte("/opt/pcre/lib   # ours\n"), 0o644)
			write(t, filepath.Join(root, "etc/ld.so.conf.d/README"), []byte("/nowhere\n"), 0o644)
		}, []string{"/opt/pcre/lib/libpcre2-8.so.0 <- /opt/pcre/lib/libpcre2-8.so.0.real"}, ml[:len(ml)-1] + ":/opt/pcre/lib", ""},
		{"a file of the name that is no ELF object comes first, and is passed over", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "usr/local/lib/libc.so.6"), []byte("not ELF\n"), 0o644)
			write(t, filepath.Join(root, "etc/ld.so.conf"), []byte("/usr/local/lib\n"), 0o644)
		}, []string{ml + "libc.so.6 <- /usr/lib/x86_64-linux-gnu/libc.so.6.real"}, ml[:len(ml)-1], ""},
		{"a link that climbs out of the root stays in it", func(t *testing.T, root string) {
			link(t, root, "usr/lib/x86_64-linux-gnu/libselinux.so.1", "../../../../../../../../../usr/lib/x86_64-linux-gnu/libselinux.so.1.real")
		}, []string{ml + "libselinux.so.1 <- /usr/lib/x86_64-linux-gnu/libselinux.so.1.real"}, ml[:len(ml)-1], ""},
		{"another machine's library comes first, and is passed over", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "usr/local/lib/libc.so.6"), tinyELF(elf.EM_AARCH64, "", ""), 0o644)
			write(t, filepath.Join(root, "etc/ld.so.conf"), []byte("/usr/local/lib\n"), 0o644)
		}, []string{ml + "libc.so.6 <- /usr/lib/x86_64-linux-gnu/libc.so.6.real"}, ml[:len(ml)-1], ""},
		{"a library missing", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0"))
		}, nil, "", "libpcre2-8.so.0 (needed by " + ml + "libselinux.so.1) is in none of " + ml[:len(ml)-1] + ":/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib below"},
		{"no libgcc_s beside glibc", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libgcc_s.so.1"))
		}, nil, "", "glibc loads it for pthread_cancel: install libgcc-s1"},
		{"the program is a script", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "usr/bin/ls"), []byte("#!/bin/sh\n"), 0o755)
		}, nil, "", "program /bin/ls ("},
		{"no loader", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "usr/lib/x86_64-linux-gnu/"+loaderName+".real"))
		}, nil, "", "program /bin/ls: its loader /lib64/" + loaderName},
		{"a loop of links", func(t *testing.T, root string) {
			link(t, root, "usr/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6")
		}, nil, "", "libc.so.6 (needed by /usr/bin/ls) is in none of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, nlibs := fakeRoot(t)
			if tc.change != nil {
				tc.change(t, root)
			}
			files, err := Closure(root, "/bin/ls")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Closure = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			byPath := checkClosure(t, files)
			got := map[string]bool{}
			for _, f := range files {
				if f.LinkTo != "" {
					got[f.Path+" -> "+f.LinkTo] = true
				} else {
					got[f.Path+" <- "+strings.TrimPrefix(f.Source, root)] = true
				}
				if f.Source != "" && !strings.HasPrefix(f.Source, root+"/") {
					t.Errorf("%s read from %s, outside the root", f.Path, f.Source)
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("want %s; closure:\n%s", w, describe(files, root))
				}
			}
			if d := strings.Join(LibraryDirs(files), ":"); d != tc.dirs {
				t.Errorf("LibraryDirs = %s, want %s", d, tc.dirs)
			}
			if len(byPath) != nlibs+4 && len(byPath) != nlibs+3 {
				t.Errorf("%d files, want ls, its link, the loader, the loader's other name and %d libraries:\n%s", len(byPath), nlibs, describe(files, root))
			}
		})
	}
}

// A program reached through a link (as update-alternatives makes them) whose DT_RUNPATH is
// $ORIGIN/../lib: its contents at its real path, where $ORIGIN is the same at boot (ld.so
// takes it from /proc/self/exe), and its private library found beside it.
func TestClosureOrigin(t *testing.T) {
	root, _ := fakeRoot(t)
	write(t, filepath.Join(root, "opt/app/bin/app"), tinyELF(elf.EM_X86_64, "/lib64/"+loaderName, "$ORIGIN/../lib", "libapp.so", "libc.so.6"), 0o755)
	write(t, filepath.Join(root, "opt/app/lib/libapp.so"), tinyELF(elf.EM_X86_64, "", "", "libc.so.6"), 0o644)
	link(t, root, "etc/alternatives/app", "/opt/app/bin/app")
	link(t, root, "usr/bin/app", "/etc/alternatives/app")
	files, err := Closure(root, "/usr/bin/app")
	if err != nil {
		t.Fatal(err)
	}
	checkClosure(t, files)
	want := "/opt/app/bin/app <- /opt/app/bin/app\n/usr/bin/app -> /opt/app/bin/app\n/lib64/" + loaderName + " <- /usr/lib/x86_64-linux-gnu/" + loaderName + ".real\n" +
		"/opt/app/lib/libapp.so <- /opt/app/lib/libapp.so\n/lib/x86_64-linux-gnu/libc.so.6 <- /usr/lib/x86_64-linux-gnu/libc.so.6.real\n" +
		"/lib/x86_64-linux-gnu/" + loaderName + " -> /lib64/" + loaderName + "\n/lib/x86_64-linux-gnu/libgcc_s.so.1 <- /usr/lib/x86_64-linux-gnu/libgcc_s.so.1.real\n"
	if got := describe(files, root); got != want {
		t.Errorf("closure:\n%s\nwant:\n%s", got, want)
	}
	if d := strings.Join(LibraryDirs(files), ":"); d != "/opt/app/lib:/lib/x86_64-linux-gnu" {
		t.Errorf("LibraryDirs = %s", d)
	}
}

func describe(files []File, root string) string {
	var b strings.Builder
	for _, f := range files {
		if f.LinkTo != "" {
			b.WriteString(f.Path + " -> " + f.LinkTo + "\n")
		} else {
			b.WriteString(f.Path + " <- " + strings.TrimPrefix(f.Source, root) + "\n")
		}
	}
	return b.String()
}

// The folders searched for a library, in ld.so's order: DT_RPATH up the chain of loaders while
// no DT_RUNPATH replaces it, the object's DT_RUNPATH, ld.so.conf's, the system's.
func TestSearchDirs(t *testing.T) {
	x86 := func(rpath, runpath string) object {
		o := object{class: elf.ELFCLASS64, machine: elf.EM_X86_64}
		if rpath != "" {
			o.rpath = []string{rpath}
		}
		if runpath != "" {
			o.runpath = []string{runpath}
		}
		return o
	}
	sys := "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib"
	for _, tc := range []struct {
		name string
		n    *node
		want string
	}{
		{"no paths", &node{path: "/usr/bin/a", obj: x86("", "")}, "/etc/conf.d:" + sys},
		{"$ORIGIN and ${ORIGIN}, the rest dropped", &node{path: "/opt/a/bin/a", obj: x86("$ORIGIN/../lib:${ORIGIN}:$LIB/x:rel:", "")}, "/opt/a/lib:/opt/a/bin:/etc/conf.d:" + sys},
		{"DT_RPATH of the loaders", &node{path: "/opt/lib/libb.so", obj: x86("/b", ""), loader: &node{path: "/opt/bin/a", obj: x86("$ORIGIN/../lib2", "")}}, "/b:/opt/lib2:/etc/conf.d:" + sys},
		{"DT_RUNPATH replaces every DT_RPATH", &node{path: "/opt/lib/libb.so", obj: x86("/b", "$ORIGIN/run"), loader: &node{path: "/opt/bin/a", obj: x86("/a", "")}}, "/opt/lib/run:/etc/conf.d:" + sys},
		{"a loader's DT_RUNPATH is its own", &node{path: "/opt/lib/libb.so", obj: x86("", ""), loader: &node{path: "/opt/bin/a", obj: x86("/a", "/a-run")}}, "/etc/conf.d:" + sys},
		{"32-bit: no lib64", &node{path: "/a", obj: object{class: elf.ELFCLASS32, machine: elf.EM_386}}, "/etc/conf.d:/lib/i386-linux-gnu:/usr/lib/i386-linux-gnu:/lib:/usr/lib"},
	} {
		w := &walker{conf: []string{"/etc/conf.d", "/etc/conf.d"}}
		if got := strings.Join(w.searchDirs(tc.n), ":"); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "usr/lib/a.so.1.2"), []byte("x"), 0o644)
	link(t, root, "usr/lib/a.so.1", "a.so.1.2")
	link(t, root, "lib", "usr/lib")
	link(t, root, "abs", "/lib/a.so.1")
	link(t, root, "up", "../../../../usr/lib/a.so.1")
	link(t, root, "loop", "loop")
	for _, tc := range []struct{ in, want, err string }{
		{"/lib/a.so.1", "/usr/lib/a.so.1.2", ""},
		{"/abs", "/usr/lib/a.so.1.2", ""},
		{"/up", "/usr/lib/a.so.1.2", ""},
		{"/usr/../../lib/./a.so.1", "/usr/lib/a.so.1.2", ""},
		{"/lib/none", "", "no such file"},
		{"/lib/a.so.1/x", "", "not a folder"},
		{"/loop", "", "more than 40 symbolic links"},
	} {
		got, err := resolveIn(root, tc.in)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("resolveIn(%s) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// Any bytes as the ELF file: an object or an error, never a panic.
func FuzzParseObject(f *testing.F) {
	// Small seeds: the fuzzer stalled on a program of this machine (150 KiB) as a seed.
	f.Add(tinyELF(elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2", "$ORIGIN/../lib:/usr/lib", "libapp.so", "libc.so.6"))
	f.Add(tinyELF(elf.EM_AARCH64, "", "", "libc.so.6"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseObject(bytes.NewReader(b))
		if err != nil {
			return
		}
		if o.interp != "" && !path.IsAbs(o.interp) {
			t.Fatalf("PT_INTERP %q accepted", o.interp)
		}
		for _, d := range expandPaths(append(o.rpath, o.runpath...), "/o") {
			if !path.IsAbs(d) {
				t.Fatalf("folder %q from %q %q", d, o.rpath, o.runpath)
			}
		}
	})
}

func TestLookPath(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "usr/sbin/cryptsetup"), []byte("x"), 0o755)
	write(t, filepath.Join(root, "usr/sbin/lvm"), []byte("x"), 0o644) // not executable
	write(t, filepath.Join(root, "bin/lvm"), []byte("x"), 0o755)
	link(t, root, "sbin", "usr/sbin")
	link(t, root, "usr/bin/app", "/opt/app")
	for _, tc := range []struct{ name, want, err string }{
		{"cryptsetup", "/usr/sbin/cryptsetup", ""},
		{"lvm", "/bin/lvm", ""},
		{"app", "", "no program app below " + root + " in /usr/sbin, /sbin, /usr/bin, /bin"},
	} {
		got, err := LookPath(root, tc.name)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("LookPath(%s) = %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.err)
		}
	}
}
