package main

import (
	"strings"
	"testing"
)

func TestViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	for _, tc := range []struct {
		name    string
		p       pkgImports
		wantBad string // "" for none
	}{
		{"down", pkgImports{path: m("internal/hibernate"), imports: []string{m("internal/swapsetup"), m("internal/sysfs"), "fmt"}}, ""},
		{"up", pkgImports{path: m("internal/sysfs"), imports: []string{m("internal/hibernate")}}, "imports " + m("internal/hibernate")},
		{"sideways", pkgImports{path: m("internal/resume"), imports: []string{m("internal/swapsetup")}}, "layer 3"},
		{"own subpackage", pkgImports{path: m("internal/initramfs"), imports: []string{m("internal/initramfs/modules")}}, ""},
		{"into the harness", pkgImports{path: m("cmd/hibernate"), imports: []string{m("qemu-tests/harness")}}, "layer 7"},
		{"harness anywhere", pkgImports{path: m("qemu-tests/scenario"), imports: []string{m("qemu-tests/harness"), m("internal/testutil")}}, ""},
		{"testutil in a test", pkgImports{path: m("internal/swapsetup"), tests: []string{m("internal/testutil/faketree")}}, ""},
		{"testutil in the product", pkgImports{path: m("internal/swapsetup"), imports: []string{m("internal/testutil")}}, "outside its tests"},
		{"unknown package", pkgImports{path: m("newpkg")}, "in no layer"},
	} {
		bad := violations(tc.p)
		switch {
		case tc.wantBad == "" && len(bad) > 0:
			t.Errorf("%s: %v, want none", tc.name, bad)
		case tc.wantBad != "" && (len(bad) != 1 || !strings.Contains(bad[0], tc.wantBad)):
			t.Errorf("%s: %v, want one naming %q", tc.name, bad, tc.wantBad)
		}
	}
}
