// Command layercheck fails when a package of this module imports one above it. `make vet` runs
// it. The layers, lowest first, are in layers below; docs/architecture.md draws the same graph.
//
// A package may import packages of lower layers only (and its own subpackages' layers are
// named apart). The test harness (qemu-tests/) and the tools sit above everything and may
// import anything; nothing below them may import them. internal/testutil is imported by tests
// alone: a _test.go file, or the harness.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

const module = "github.com/hibernate-linux/hibernate"

// layers, lowest first: each entry is a path prefix below the module (the longest prefix wins).
var layers = [][]string{
	{"internal/sysfs", "internal/swsusp", "internal/units", "internal/initramfs/config", "internal/initramfs/modalias", "internal/initramfs/elfdeps", "internal/efivars"},
	{"internal/blockdev", "internal/crypttab", "internal/sdboot", "internal/initramfs/modules", "internal/testutil"},
	{"internal/imagerecord"},
	{"internal/swapsetup", "internal/initramfs", "internal/resume", "internal/watch"},
	{"internal/hibernate"},
	{"cmd/hibernate/cli"},
	{"cmd"},
	{"qemu-tests", "tools"},
}

// free is the top layer, whose packages may import one another.
var free = len(layers) - 1

func layerOf(pkg string) (layer int, prefix string) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	layer = -1
	for i, l := range layers {
		for _, p := range l {
			if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > len(prefix) {
				layer, prefix = i, p
			}
		}
	}
	return layer, prefix
}

type pkgImports struct {
	path    string
	imports []string // what its non-test files import
	tests   []string // what its _test.go files import
}

func list() ([]pkgImports, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	var pkgs []pkgImports
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 3 {
			return nil, fmt.Errorf("go list: unexpected line %q", sc.Text())
		}
		pkgs = append(pkgs, pkgImports{f[0], strings.Fields(f[1]), strings.Fields(f[2])})
	}
	return pkgs, nil
}

// violations lists the imports of p that run up the layers, or sideways within one.
func violations(p pkgImports) []string {
	from, fromPrefix := layerOf(p.path)
	if from < 0 {
		return []string{fmt.Sprintf("%s is in no layer: add it to tools/layercheck", p.path)}
	}
	var bad []string
	check := func(imp string, test bool) {
		if !strings.HasPrefix(imp, module+"/") {
			return
		}
		to, toPrefix := layerOf(imp)
		switch {
		case to < 0:
			bad = append(bad, fmt.Sprintf("%s imports %s, which is in no layer", p.path, imp))
		case toPrefix == "internal/testutil" && !test && from != free:
			bad = append(bad, fmt.Sprintf("%s imports %s outside its tests", p.path, imp))
		case test && toPrefix == "internal/testutil":
		case to > from || (to == from && from != free && toPrefix != fromPrefix):
			bad = append(bad, fmt.Sprintf("%s (layer %d, %s) imports %s (layer %d, %s)", p.path, from, fromPrefix, imp, to, toPrefix))
		}
	}
	for _, imp := range p.imports {
		check(imp, false)
	}
	for _, imp := range p.tests {
		check(imp, true)
	}
	return bad
}

func main() {
	pkgs, err := list()
	if err != nil {
		fmt.Fprintln(os.Stderr, "layercheck:", err)
		os.Exit(2)
	}
	var bad []string
	for _, p := range pkgs {
		bad = append(bad, violations(p)...)
	}
	sort.Strings(bad)
	for _, b := range bad {
		fmt.Fprintln(os.Stderr, "layercheck:", b)
	}
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "layercheck: %d import(s) run up the layers; the layers are in tools/layercheck/main.go and docs/architecture.md\n", len(bad))
		os.Exit(1)
	}
	fmt.Printf("layercheck: %d packages, every import runs down the layers\n", len(pkgs))
}
