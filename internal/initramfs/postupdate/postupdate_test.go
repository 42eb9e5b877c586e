package postupdate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type recorder struct {
	runs []string
	fail string
}

func (r *recorder) Run(path string, args ...string) error {
	r.runs = append(r.runs, filepath.Base(path)+" "+strings.Join(args, " "))
	if filepath.Base(path) == r.fail {
		return errors.New("exit status 1")
	}
	return nil
}

func hooksDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), Dir)
	if err := os.MkdirAll(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{
		"systemd-boot": 0o755, "zz-other": 0o755, "50_plain": 0o644, "systemd-boot.dpkg-old": 0o755, "a.sh": 0o755,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("systemd-boot", filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run-parts' rules: by name, bytewise; dotted names, folders and files without x skipped; a
// symlink to a program run.
func TestRunOrderAndSkips(t *testing.T) {
	dir := hooksDir(t)
	var r recorder
	hooks, err := Run(dir, "6.12.57+deb13-amd64", "/boot/initrd.img-6.12.57+deb13-amd64", &r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linked 6.12.57+deb13-amd64 /boot/initrd.img-6.12.57+deb13-amd64", "systemd-boot 6.12.57+deb13-amd64 /boot/initrd.img-6.12.57+deb13-amd64",
		"zz-other 6.12.57+deb13-amd64 /boot/initrd.img-6.12.57+deb13-amd64"}
	if !reflect.DeepEqual(r.runs, want) {
		t.Errorf("ran %q, want %q", r.runs, want)
	}
	skipped := map[string]string{}
	for _, h := range hooks {
		if h.Skipped != "" {
			skipped[filepath.Base(h.Path)] = h.Skipped
		}
	}
	wantSkipped := map[string]string{"50_plain": "not executable", "a.sh": "a name run-parts skips",
		"systemd-boot.dpkg-old": "a name run-parts skips", "subdir": "not a regular file"}
	if !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("skipped %q, want %q", skipped, wantSkipped)
	}
}

// The first hook that fails stops the rest, and the error names it with its arguments.
func TestRunStopsAtAFailure(t *testing.T) {
	r := recorder{fail: "systemd-boot"}
	_, err := Run(hooksDir(t), "6.1.0-50-amd64", "/boot/initrd.img-6.1.0-50-amd64", &r)
	if err == nil || !strings.Contains(err.Error(), "systemd-boot 6.1.0-50-amd64 /boot/initrd.img-6.1.0-50-amd64") {
		t.Fatalf("error %v, want one naming the hook and its arguments", err)
	}
	if len(r.runs) != 2 {
		t.Errorf("ran %q: want linked, then systemd-boot, and nothing after", r.runs)
	}
}

func TestNoFolderNoHooks(t *testing.T) {
	var r recorder
	hooks, err := Run(filepath.Join(t.TempDir(), Dir), "6.1.0-50-amd64", "/boot/initrd.img-6.1.0-50-amd64", &r)
	if err != nil || hooks != nil || r.runs != nil {
		t.Errorf("hooks %v, runs %v, err %v", hooks, r.runs, err)
	}
}

// Exec runs a real program (a script of the test's own, in its temporary folder) with the
// arguments in order, and says its exit status when it fails.
func TestExec(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("#!/bin/sh\necho \"$1|$2\" > "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (Exec{}).Run(ok, "6.1.0-50-amd64", "/boot/initrd.img-6.1.0-50-amd64"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "6.1.0-50-amd64|/boot/initrd.img-6.1.0-50-amd64\n" {
		t.Errorf("the hook got %q", b)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho no ESP >&2\nexit 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (Exec{}).Run(bad); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("a hook exiting 4: %v", err)
	}
}
