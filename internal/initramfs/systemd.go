package initramfs

import (
	"path"
	"strconv"
	"strings"
)

// SystemdInitrd is what an initramfs holds of systemd's own resume, for an initramfs whose /init
// is systemd (dracut's with its systemd module, mkosi's, mkinitcpio's systemd hook): the
// parts that resume from systemd's HibernateLocation EFI variable when the command line has no
// resume= (systemd ≥ 255; docs/hibernatelocation.md). An empty field is a part not there.
type SystemdInitrd struct {
	// Version is systemd's major version, read from the name of its shared library
	// (libsystemd-shared-257.so); 0 when there is none.
	Version int
	// Resume, Generator and Unit are systemd-hibernate-resume, the generator that starts it
	// (it reads the variable) and the unit it starts.
	Resume, Generator, Unit string
	// Efivarfs is efivarfs's module in the initramfs: PID 1 loads it to mount efivarfs, where
	// the variable is; a kernel with efivarfs built in needs none.
	Efivarfs string
	// OSRelease is the os-release the initrd's systemd compares the variable with (its
	// /etc/os-release, else /usr/lib/os-release: usually the initrd-release its generator
	// wrote), as text, and the name it was read from; nil when neither is in the initramfs.
	OSRelease     []byte
	OSReleasePath string
}

// Systemd says whether the initramfs's /init is systemd, and what of its resume it has.
func (ic Contents) Systemd() (SystemdInitrd, bool) {
	init, ok := ic.resolve("init")
	if !ok || path.Base(init) != "systemd" || !strings.HasSuffix(path.Dir(init), "lib/systemd") {
		return SystemdInitrd{}, false
	}
	var sd SystemdInitrd
	for n := range ic.Names {
		base := path.Base(n)
		switch {
		case strings.HasPrefix(base, "libsystemd-shared-") && strings.Contains(base, ".so"):
			v := strings.TrimPrefix(base, "libsystemd-shared-")
			if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
				if n, err := strconv.Atoi(v[:i]); err == nil && n > sd.Version {
					sd.Version = n
				}
			}
		case base == "systemd-hibernate-resume" && strings.HasSuffix(path.Dir(n), "lib/systemd"):
			sd.Resume = pick(sd.Resume, n)
		case base == "systemd-hibernate-resume-generator" && strings.HasSuffix(path.Dir(n), "system-generators"):
			sd.Generator = pick(sd.Generator, n)
		case base == "systemd-hibernate-resume.service" && strings.HasSuffix(path.Dir(n), "systemd/system"):
			sd.Unit = pick(sd.Unit, n)
		case strings.HasPrefix(base, "efivarfs.ko"):
			sd.Efivarfs = pick(sd.Efivarfs, n)
		}
	}
	for _, n := range []string{"etc/os-release", "usr/lib/os-release"} {
		if p, ok := ic.resolve(n); ok {
			if b, ok := ic.Files[p]; ok {
				sd.OSRelease, sd.OSReleasePath = b, "/"+n
				break
			}
		}
	}
	return sd, true
}

// pick keeps the first name in sort order, so that the answer does not depend on map order.
func pick(had, n string) string {
	if had == "" || n < had {
		return n
	}
	return had
}

// resolve follows the symbolic links of name inside the initramfs (an absolute target is
// below its root, as systemd resolves it there), up to 40 of them; ok is false when an element
// is not in it. Folders that are links (lib -> usr/lib) are followed too.
func (ic Contents) resolve(name string) (string, bool) {
	todo := strings.Split(strings.TrimPrefix(path.Clean("/"+name), "/"), "/")
	var done []string
	for links := 0; len(todo) > 0; {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := path.Join(append(append([]string(nil), done...), elem)...)
		target, isLink := ic.Links[p]
		if !isLink {
			if !ic.Names[p] {
				return "", false
			}
			done = append(done, elem)
			continue
		}
		if links++; links > 40 {
			return "", false
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return path.Join(done...), len(done) > 0
}
