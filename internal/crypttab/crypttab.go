// Package crypttab reads /etc/crypttab (crypttab(5)): the encrypted volumes a machine unlocks
// at boot, which the initramfs and the checks need to know (is the swap's key random at each
// boot? which volumes does the resume device need?).
package crypttab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Path is where the table is, on the machine.
const Path = "/etc/crypttab"

// Entry is one volume of the table.
type Entry struct {
	Name    string   // the mapping: /dev/mapper/NAME
	Device  string   // UUID=…, PARTUUID=…, /dev/… as written
	KeyFile string   // "none" (ask), a file, or a random source (/dev/urandom)
	Options []string // luks, swap, discard, keyscript=…, …
	Line    int      // its line in the file, for messages
}

// Option is the value of option key ("keyscript=/x" gives "/x", true), or "", true for a flag.
func (e Entry) Option(key string) (string, bool) {
	for _, o := range e.Options {
		k, v, _ := strings.Cut(o, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// RandomKey says whether the volume gets a new random key at each boot (crypttab's
// /dev/urandom, /dev/random or /dev/hw_random key file): what it held is gone at the next boot,
// so it can never hold a hibernation image.
func (e Entry) RandomKey() bool {
	switch e.KeyFile {
	case "/dev/urandom", "/dev/random", "/dev/hw_random":
		return true
	}
	return false
}

// RandomKeyFix is what to do about a swap keyed anew at each boot.
const RandomKeyFix = "make the swap a LUKS volume with a passphrase or key file (cryptsetup luksFormat, then luks in " + Path + "), or use a swap file on the encrypted root (hibernate setup --file)"

// RandomKeyWhy says, for a person, why a volume with a random key cannot hold an image.
func (e Entry) RandomKeyWhy() string {
	return fmt.Sprintf("%s gets a new random key at each boot (%s line %d: key %s), so the next boot cannot read an image written to it", e.Name, Path, e.Line, e.KeyFile)
}

// Read reads the table below fs; no table is no entry and no error.
func Read(fs sysfs.FS) ([]Entry, error) {
	b, err := os.ReadFile(fs.Path(strings.TrimPrefix(Path, "/")))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Path, err)
	}
	return Parse(b)
}

// Parse reads the table's text: fields separated by white space, # comments, the key file
// and options optional ("none" and "-" mean no key file). A line of one field is an error
// naming it.
func Parse(b []byte) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return out, fmt.Errorf("%s line %d: %q: want NAME DEVICE [KEYFILE [OPTIONS]]", Path, n, line)
		}
		e := Entry{Name: f[0], Device: f[1], KeyFile: "none", Line: n}
		if len(f) > 2 && f[2] != "-" {
			e.KeyFile = f[2]
		}
		if len(f) > 3 {
			e.Options = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// ByName is the entry of the mapping name, if the table has one.
func ByName(entries []Entry, name string) (Entry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// RandomKeyed is the first of the mappings named (dm names, top first) that the table below fs
// keys anew at each boot: a swap there can never hold an image. ok is false when none is.
func RandomKeyed(fs sysfs.FS, names []string) (e Entry, ok bool, err error) {
	entries, err := Read(fs)
	if err != nil {
		return Entry{}, false, err
	}
	for _, n := range names {
		if e, found := ByName(entries, n); found && e.RandomKey() {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}
