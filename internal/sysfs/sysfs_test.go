package sysfs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSelected(t *testing.T) {
	for _, tc := range []struct {
		in      string
		sel     string
		choices []string
	}{
		{"[platform] shutdown reboot suspend test_resume", "platform", []string{"platform", "shutdown", "reboot", "suspend", "test_resume"}},
		{"platform [shutdown] reboot", "shutdown", []string{"platform", "shutdown", "reboot"}},
		{"shutdown reboot", "", []string{"shutdown", "reboot"}},
		{"", "", nil},
	} {
		sel, ch := Selected(tc.in)
		if sel != tc.sel || !reflect.DeepEqual(ch, tc.choices) {
			t.Errorf("Selected(%q) = %q %q, want %q %q", tc.in, sel, ch, tc.sel, tc.choices)
		}
	}
}

func TestReadWriteBelowRoot(t *testing.T) {
	root := t.TempDir()
	fs := New(root)
	if err := os.MkdirAll(filepath.Join(root, "sys/power"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fs.Path("sys/power/image_size"), []byte("1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := fs.ReadString("sys/power/image_size")
	if err != nil || v != "1000" {
		t.Fatalf("ReadString = %q, %v", v, err)
	}
	if err := fs.WriteString("sys/power/image_size", "0"); err != nil {
		t.Fatal(err)
	}
	if v, _ := fs.ReadString("sys/power/image_size"); v != "0" {
		t.Fatalf("after write: %q", v)
	}
	if err := fs.WriteString("sys/power/missing", "x"); err == nil {
		t.Fatal("writing a missing attribute must fail, not create it")
	}
	if fs.Exists("sys/power/missing") {
		t.Fatal("WriteString created a file")
	}
}
