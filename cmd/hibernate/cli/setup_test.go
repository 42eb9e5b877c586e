package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestParseSetup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want swapsetup.Options
		undo bool
		err  string
	}{
		{args: []string{"--device", "/dev/vda2"}, want: swapsetup.Options{Device: "/dev/vda2", Priority: -1}},
		{args: []string{"--file", "/swapfile", "--size", "4G", "--priority", "10", "--fstab", "--write-boot-config"},
			want: swapsetup.Options{File: "/swapfile", Size: 4 << 30, Priority: 10, Fstab: true, WriteBootConfig: true}},
		{args: []string{"--file", "/swapfile", "--size", "auto", "--dry-run"}, want: swapsetup.Options{File: "/swapfile", Priority: -1, DryRun: true}},
		{args: []string{"--file", "/swapfile", "--size", "1048576"}, want: swapsetup.Options{File: "/swapfile", Size: 1 << 20, Priority: -1}},
		{args: []string{"--file", "/swapfile", "--size", "512MiB"}, want: swapsetup.Options{File: "/swapfile", Size: 512 << 20, Priority: -1}},
		{args: []string{"--new-partition", "/dev/vdb", "--size", "2g"}, want: swapsetup.Options{NewPartition: "/dev/vdb", Size: 2 << 30, Priority: -1}},
		{args: []string{"--undo", "--dry-run"}, want: swapsetup.Options{Priority: -1, DryRun: true}, undo: true},
		{args: []string{"--undo", "--file", "/swapfile"}, err: "--undo takes back"},
		{args: []string{"--file", "/a", "--device", "/dev/b"}, err: "give one of"},
		{args: []string{"--file", "/a", "--size", "lots"}, err: "--size"},
		{args: []string{"--file", "/a", "--size", "-1"}, err: "--size"},
		{args: []string{"--device", "/dev/b", "--size", "1G"}, err: "--size is for"},
		{args: []string{"--device", "/dev/b", "extra"}, err: "unexpected argument"},
	} {
		var out bytes.Buffer
		a, err := parseSetup(Env{Stdout: &out, Stderr: &out}, tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errUsage) {
				t.Errorf("%q: err = %v, want %q (a usage error)", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || a.o != tc.want || a.undo != tc.undo {
			t.Errorf("%q: %+v undo=%v, %v; want %+v undo=%v", tc.args, a.o, a.undo, err, tc.want, tc.undo)
		}
	}
}

func TestSetupHelpSaysTheSizeRule(t *testing.T) {
	var out bytes.Buffer
	Run(Env{Stdout: &out, Stderr: &out}, []string{"setup", "--help"})
	for _, want := range []string{"auto is the RAM", "MemTotal", "--undo", "--new-partition", "zram"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("setup --help lacks %q:\n%s", want, out.String())
		}
	}
}

// The command on a fake machine: a dry run, then the JSON of a real run; below --root, swapon is
// refused, and what was made before it is recorded for --undo.
func TestSetupCommandBelowRoot(t *testing.T) {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 8 << 20}, faketree.Part{Size: 64 << 20, Label: "swap"})
	tr.Write("etc/fstab", "")
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb}
	if code := Run(env, []string{"setup", "--root", tr.Root, "--device", "PARTLABEL=swap", "--fstab", "--dry-run"}); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "would make a swap area on /dev/vda2") || !strings.Contains(out.String(), "would add \"UUID=") ||
		!strings.Contains(out.String(), "kernel parameters: resume=UUID=") || tr.Read("etc/fstab") != "" {
		t.Fatalf("dry run said:\n%s", out.String())
	}
	out.Reset()
	errb.Reset()
	code := Run(env, []string{"setup", "--root", tr.Root, "--device", "/dev/vda2", "--json"})
	if code != 1 || !strings.Contains(errb.String(), "swapon is never done below --root") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	var res swapsetup.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.Made || res.Activated {
		t.Fatalf("json %s: %v", out.String(), err)
	}
	out.Reset()
	if code := Run(env, []string{"setup", "--root", tr.Root, "--undo"}); code != 0 || !strings.Contains(out.String(), "put back the first page of /dev/vda2") {
		t.Fatalf("undo: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"auto": 0, "": 0, "320M": 320 << 20, "1GiB": 1 << 30, "4096": 4096} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"iB", "0", "1e9", "12abc", "-1G", "M"} {
		if _, err := parseSize(in); err == nil || !strings.Contains(err.Error(), "--size \""+in+"\"") {
			t.Errorf("parseSize(%q) = %v, want an error naming it", in, err)
		}
	}
}
