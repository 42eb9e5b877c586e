package sysfs

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The kernel files below have one reader each, here: a method on FS that reads the file and a
// parse function beside it that the tests feed directly (procfs's shape).

// Meminfo is /proc/meminfo, each value in bytes (the kernel's "kB" values are KiB).
type Meminfo map[string]int64

// Meminfo reads /proc/meminfo.
func (fs FS) Meminfo() (Meminfo, error) {
	b, err := fs.readFile("proc/meminfo")
	if err != nil {
		return nil, err
	}
	return ParseMeminfo(b), nil
}

// MemTotal is the machine's RAM in bytes (MemTotal), or an error naming the file.
func (m Meminfo) MemTotal() (int64, error) {
	v, ok := m["MemTotal"]
	if !ok || v <= 0 {
		return 0, fmt.Errorf("/proc/meminfo has no MemTotal")
	}
	return v, nil
}

// ParseMeminfo reads /proc/meminfo's "Key:   123 kB" lines (of this machine or a guest's); a line
// it cannot read is left out.
func ParseMeminfo(b []byte) Meminfo {
	out := Meminfo{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			n <<= 10
		}
		out[strings.TrimSpace(k)] = n
	}
	return out
}

// Cmdline reads /proc/cmdline: the running kernel's command line, white space trimmed.
func (fs FS) Cmdline() (string, error) {
	b, err := fs.readFile("proc/cmdline")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Uname is the part of uname(2) we keep, as the kernel also shows it in /proc/sys/kernel.
type Uname struct {
	Release string // osrelease: uname -r
	Version string // version: uname -v
}

// Uname reads /proc/sys/kernel/osrelease and version, which hold what uname(2) returns; read
// through the root prefix, a fake tree can name any kernel.
func (fs FS) Uname() (Uname, error) {
	rel, err := fs.readFile("proc/sys/kernel/osrelease")
	if err != nil {
		return Uname{}, err
	}
	ver, err := fs.readFile("proc/sys/kernel/version")
	if err != nil {
		return Uname{}, err
	}
	return Uname{Release: strings.TrimSpace(string(rel)), Version: strings.TrimSpace(string(ver))}, nil
}

// Mount is one line of /proc/mounts.
type Mount struct {
	Device  string // /dev/vda1, or the file system's name (proc, tmpfs)
	Point   string // where it is mounted, unescaped
	Type    string // ext4, vfat…
	Options string // rw,relatime…
}

// Mounts reads /proc/mounts.
func (fs FS) Mounts() ([]Mount, error) {
	b, err := fs.readFile("proc/mounts")
	if err != nil {
		return nil, err
	}
	return parseMounts(b), nil
}

// MountOf is the mount whose point is the longest prefix of path ("/" for any absolute path),
// found in mounts; ok is false when none is.
func MountOf(mounts []Mount, path string) (m Mount, ok bool) {
	for _, c := range mounts {
		if c.Point == path || c.Point == "/" || strings.HasPrefix(path, c.Point+"/") {
			if !ok || len(c.Point) >= len(m.Point) {
				m, ok = c, true
			}
		}
	}
	return m, ok
}

// parseMounts reads fstab-format lines; the kernel escapes space, tab, newline and backslash
// in names as \040, \011, \012 and \134. A line of fewer than four fields is left out.
func parseMounts(b []byte) []Mount {
	var out []Mount
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		out = append(out, Mount{Device: UnescapeMountField(f[0]), Point: UnescapeMountField(f[1]), Type: f[2], Options: f[3]})
	}
	return out
}

// EscapeMountField writes s as a field of a mount table (/proc/mounts, /etc/fstab): space, tab,
// newline and backslash as \040, \011, \012 and \134, as the kernel's mangle and glibc's
// getmntent have them.
func EscapeMountField(s string) string {
	return strings.NewReplacer(`\`, `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`).Replace(s)
}

// UnescapeMountField undoes the \ooo escapes of a mount table's field (EscapeMountField).
func UnescapeMountField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// readFile reads a whole file below the root; the error names the file as the kernel has it.
func (fs FS) readFile(name string) ([]byte, error) {
	b, err := readSmall(fs.Path(name))
	if err != nil {
		return nil, fmt.Errorf("read /%s: %w", name, err)
	}
	return b, nil
}
