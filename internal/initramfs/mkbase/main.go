// Command mkbase compiles the part of the hibernate initramfs that needs a Go toolchain: our
// /init (cmd/hibernate-init, a binary of its own) and a u-root busybox of the shell tools of the
// emergency shell. It runs once, when hibernate itself is built (make build); the result ships beside
// the hibernate binary, and `hibernate initramfs build` adds a kernel's modules and the config
// to it on the user's machine, with no Go toolchain there.
//
// Run it from the module root: go run ./initramfs/mkbase -o build/lib/hibernate/initramfs-base.cpio
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"
)

// Commands in the busybox: what an emergency shell on the console needs to look around, mount,
// and read the kernel's log. Each u-root command adds about 150 KiB.
//
// Our /init is not in it: a busybox runs the package initialisers of every command in it at
// every start, and under TCG the Go start of /init inside it took 355 ms (gosh's terminal
// libraries, ls's humanize tables, go-diskfs's CRC table: GODEBUG=inittrace=1 on the kernel
// command line shows them) against 166 ms for /init alone (measured in one guest, same image).
var commands = []string{
	"github.com/u-root/u-root/cmds/core/gosh",
	"github.com/u-root/u-root/cmds/core/cat",
	"github.com/u-root/u-root/cmds/core/dmesg",
	"github.com/u-root/u-root/cmds/core/ls",
	"github.com/u-root/u-root/cmds/core/mkdir",
	"github.com/u-root/u-root/cmds/core/mount",
	"github.com/u-root/u-root/cmds/core/umount",
	"github.com/u-root/u-root/cmds/core/ps",
	"github.com/u-root/u-root/cmds/core/poweroff",
}

// initCommand is /init, built as a binary of its own (bin/hibernate-init).
const initCommand = "./cmd/hibernate-init"

func main() {
	out := flag.String("o", "build/lib/hibernate/initramfs-base.cpio", "output cpio archive")
	flag.Parse()
	if err := build(*out); err != nil {
		fmt.Fprintf(os.Stderr, "mkbase: %v\n", err)
		os.Exit(1)
	}
}

func build(out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// mkuimage's temp folder must stay outside the module, or `go mod tidy` trips over it.
	tmp, err := os.MkdirTemp("", "hibernate-mkbase-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	l := llog.New(slog.LevelWarn, func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
	env := golang.Default(golang.DisableCGO())
	return uimage.Create(l,
		uimage.WithReplaceEnv(env),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithBusyboxCommands(commands...),
		uimage.WithBinaryCommands(initCommand),
		uimage.WithInit("hibernate-init"),
		uimage.WithShell("gosh"),
		uimage.WithSkipLDD(),
		uimage.WithTempDir(tmp),
		uimage.WithCPIOOutput(out),
	)
}
