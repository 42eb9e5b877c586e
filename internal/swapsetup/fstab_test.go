package swapsetup

import (
	"strings"
	"testing"
)

// A swap file's path goes into fstab as one field whatever it holds, and is found there again.
func TestFstabLineEscapes(t *testing.T) {
	for _, file := range []string{"/swapfile", "/my swap", "/a\tb", "/new\nline", `/back\slash`} {
		res := Result{File: file}
		line := fstabLine(res, -1)
		if f := strings.Fields(line); len(f) != 6 || strings.Contains(line, "\n") {
			t.Errorf("fstabLine(%q) = %q: want six fields on one line", file, line)
		}
		if got, ok := fstabEntry("# a comment\n/dev/vda1 / ext4 defaults 0 1\n"+line+"\n", res); !ok || got != line {
			t.Errorf("fstabEntry did not find %q again", line)
		}
	}
}
