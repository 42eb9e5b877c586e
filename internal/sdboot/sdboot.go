// Package sdboot reads what systemd-boot boots: its menu entries (the Boot Loader
// Specification's type #1 entries that kernel-install writes, loader/entries/*.conf on the EFI
// system partition) and where the partition is mounted. It writes nothing; kernel-install does.
//
// bootctl list --json would give the same, but it is a program of the machine's (absent below a
// --root, and systemd-boot is installed without it at times), and an entry is a few lines of
// "key value".
package sdboot

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// espMounts are where bootctl looks for the EFI system partition (and kernel-install for $BOOT):
// /efi, /boot/efi, /boot.
var espMounts = []string{"efi", "boot/efi", "boot"}

// ESP is where systemd-boot is installed below fs's root ("boot/efi"), "" where it is not: the
// mount whose EFI/systemd holds its loader.
func ESP(fs sysfs.FS) string {
	for _, esp := range espMounts {
		if fs.Exists(esp + "/EFI/systemd/systemd-bootx64.efi") {
			return esp
		}
	}
	return ""
}

// Entry is one type #1 menu entry.
type Entry struct {
	File    string   // as on the machine: /boot/efi/loader/entries/ID-R.conf
	ESP     string   // the partition it is on, below the root: boot/efi
	Version string   // version
	Linux   string   // linux: the kernel, a path on the ESP
	Initrd  []string // initrd lines, in order
	Options string   // every options line, joined
}

// Entries reads the menu entries of the ESP where systemd-boot is installed, by file name (the
// order systemd-boot sorts equal entries in). No systemd-boot, no entries.
func Entries(fs sysfs.FS) ([]Entry, error) {
	esp := ESP(fs)
	if esp == "" {
		return nil, nil
	}
	dir := esp + "/loader/entries"
	ents, err := os.ReadDir(fs.Path(dir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read systemd-boot's entries in /%s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".conf") && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []Entry
	for _, n := range names {
		b, err := os.ReadFile(fs.Path(dir + "/" + n))
		if err != nil {
			return out, fmt.Errorf("read systemd-boot's entry /%s/%s: %w", dir, n, err)
		}
		e := ParseEntry(string(b))
		e.File, e.ESP = "/"+dir+"/"+n, esp
		out = append(out, e)
	}
	return out, nil
}

// ParseEntry reads an entry's keys: a key and its value on each line, split at the first run of
// blanks; # begins a comment line; options lines add up, initrd lines each name one file.
func ParseEntry(text string) Entry {
	var e Entry
	var options []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(strings.Join(strings.Fields(l), " "), " ")
		switch k {
		case "version":
			e.Version = v
		case "linux":
			e.Linux = v
		case "initrd":
			e.Initrd = append(e.Initrd, v)
		case "options":
			options = append(options, v)
		}
	}
	e.Options = strings.Join(options, " ")
	return e
}

// For is the entry that boots kernel release: its version, or (an entry without one) a kernel
// file kernel-install's way (ESP/ENTRY-TOKEN/R/linux) or vmlinuz-R. The second result is false
// where there is none.
func For(entries []Entry, release string) (Entry, bool) {
	for _, e := range entries {
		switch {
		case e.Version == release,
			e.Version == "" && (path.Base(path.Dir(e.Linux)) == release || path.Base(e.Linux) == "vmlinuz-"+release):
			return e, true
		}
	}
	return Entry{}, false
}

// InitrdPath is the entry's last initramfs below the root (the one with the system's /init: an
// earlier one is CPU microcode), "" where it names none.
func (e Entry) InitrdPath() string {
	if len(e.Initrd) == 0 {
		return ""
	}
	return path.Join(e.ESP, e.Initrd[len(e.Initrd)-1])
}
