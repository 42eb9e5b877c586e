package sysfs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	// The first lines of a Debian 12 guest's /proc/meminfo, and lines it cannot read.
	in := "MemTotal:         500644 kB\nMemFree:          123456 kB\nAnonPages:         20480 kB\nHugePages_Total:       0\n" +
		"Hugepagesize:       2048 kB\nbroken line\nShmem: x kB\nNegative: -1 kB\nEmpty:\n"
	got := ParseMeminfo([]byte(in))
	want := Meminfo{"MemTotal": 500644 << 10, "MemFree": 123456 << 10, "AnonPages": 20480 << 10, "HugePages_Total": 0, "Hugepagesize": 2048 << 10}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseMeminfo = %v, want %v", got, want)
	}
	if n, err := got.MemTotal(); err != nil || n != 500644<<10 {
		t.Fatalf("MemTotal = %d, %v", n, err)
	}
	if _, err := (Meminfo{}).MemTotal(); err == nil || !strings.Contains(err.Error(), "no MemTotal") {
		t.Fatalf("MemTotal of nothing = %v, want an error naming MemTotal", err)
	}
}

func TestParseMounts(t *testing.T) {
	in := "sysfs /sys sysfs rw,nosuid 0 0\n/dev/vda1 / ext4 rw,relatime 0 0\n" +
		"/dev/vdb1 /mnt/my\\040disk\\011tab xfs ro 0 0\n/dev/odd /a\\\\b\\9 ext4 rw 0 0\nshort line\n\n"
	got := parseMounts([]byte(in))
	want := []Mount{
		{"sysfs", "/sys", "sysfs", "rw,nosuid"},
		{"/dev/vda1", "/", "ext4", "rw,relatime"},
		{"/dev/vdb1", "/mnt/my disk\ttab", "xfs", "ro"},
		{"/dev/odd", `/a\\b\9`, "ext4", "rw"}, // not octal escapes: kept as they are
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseMounts =\n%q\nwant\n%q", got, want)
	}
	for _, tc := range []struct{ path, point string }{
		{"/", "/"}, {"/etc/fstab", "/"}, {"/sys/power", "/sys"}, {"/sysx", "/"}, {"/mnt/my disk\ttab/f", "/mnt/my disk\ttab"},
	} {
		if m, ok := MountOf(got, tc.path); !ok || m.Point != tc.point {
			t.Errorf("MountOf(%q) = %q %v, want %q", tc.path, m.Point, ok, tc.point)
		}
	}
	if _, ok := MountOf(nil, "/x"); ok {
		t.Error("MountOf found a mount in no mounts")
	}
}

func TestKernelFilesBelowRoot(t *testing.T) {
	root := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := New(root)
	if _, err := fs.Uname(); err == nil || !strings.Contains(err.Error(), "/proc/sys/kernel/osrelease") {
		t.Fatalf("Uname of an empty tree = %v, want an error naming the file", err)
	}
	write("proc/sys/kernel/osrelease", "6.1.0-57-amd64\n")
	write("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-01)\n")
	write("proc/cmdline", "root=/dev/vda1 ro quiet\n")
	write("proc/mounts", "/dev/vda1 / ext4 rw 0 0\n")
	write("proc/meminfo", "MemTotal: 1024 kB\n")
	u, err := fs.Uname()
	if err != nil || u != (Uname{"6.1.0-57-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-01)"}) {
		t.Fatalf("Uname = %+v, %v", u, err)
	}
	if c, err := fs.Cmdline(); err != nil || c != "root=/dev/vda1 ro quiet" {
		t.Fatalf("Cmdline = %q, %v", c, err)
	}
	if m, err := fs.Mounts(); err != nil || len(m) != 1 || m[0].Type != "ext4" {
		t.Fatalf("Mounts = %v, %v", m, err)
	}
	if m, err := fs.Meminfo(); err != nil || m["MemTotal"] != 1<<20 {
		t.Fatalf("Meminfo = %v, %v", m, err)
	}
}

func TestEscapeMountField(t *testing.T) {
	for in, want := range map[string]string{"/swapfile": "/swapfile", "/my swap": `/my\040swap`, "/a\tb\nc": `/a\011b\012c`, `/back\slash`: `/back\134slash`} {
		got := EscapeMountField(in)
		if got != want || UnescapeMountField(got) != in || strings.ContainsAny(got, " \t\n") {
			t.Errorf("EscapeMountField(%q) = %q (back: %q), want %q", in, got, UnescapeMountField(got), want)
		}
	}
}

func FuzzParseMounts(f *testing.F) {
	f.Add([]byte("/dev/vda1 /mnt/a\\040b ext4 rw 0 0\n"))
	f.Add([]byte("x \\777\\0 t o\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseMounts(b) {
			if m.Point == "" || m.Type == "" {
				t.Fatalf("empty field in %+v", m)
			}
		}
		ParseMeminfo(b)
		if s := string(b); UnescapeMountField(EscapeMountField(s)) != s {
			t.Fatalf("escape of %q does not come back", s)
		}
	})
}
