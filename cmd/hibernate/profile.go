//go:build cpuprofile

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// A build with -tags cpuprofile (never the one that ships: `make build` has no tags) writes a
// CPU profile of every run to $TMPDIR/hibernate.ARGS.pprof, for looking at where a command's
// time goes inside a guest (go tool pprof on the host). The benchmark of hibernate now's share
// used it: the checks' time under -icount.
func startProfile(args []string) func() {
	name := strings.Join(append([]string{"hibernate"}, args...), ".")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '=' {
			return '_'
		}
		return r
	}, name)
	f, err := os.Create(filepath.Join(os.TempDir(), name+".pprof"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "hibernate: cpuprofile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "hibernate: cpuprofile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
