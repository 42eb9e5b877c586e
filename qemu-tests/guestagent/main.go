package guestagent

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// Name is the program name used in messages.
const Name = "hibernate-guest-agent"

// Options are the agent's flags.
type Options struct {
	Device  string // serial port the host talks on
	Version bool
}

// parseArgs parses the command line (without the program name).
func parseArgs(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Device, "device", "/dev/ttyS1", "serial port to serve requests on")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Device == "" {
		return o, fmt.Errorf("--device must not be empty")
	}
	return o, nil
}

// Version is the module version the agent was built from ("devel" in a work tree).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// tools are the agent's subcommands (`hibernate-guest-agent NAME ARGS...`): what the test
// guests need and their roots have no program for.
var tools = map[string]func([]string) error{
	"chattr":     Chattr,
	"insmod":     Insmod,
	"askpass":    Askpass,
	"zram-swap":  ZramSwap,
	"net-up":     NetUp,
	"disk-speed": DiskSpeed,
}

// Main runs the agent and returns its exit code. As PID 1 it mounts what is missing, reaps
// orphans, ignores SIGTERM/SIGINT/SIGHUP and never returns: failures are reported on
// /dev/console and retried.
func Main(args []string) int {
	if len(args) > 0 {
		if tool, ok := tools[args[0]]; ok {
			if err := tool(args[1:]); err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", Name, args[0], err)
				return 1
			}
			return 0
		}
	}
	pid1 := os.Getpid() == 1
	var logw io.Writer = os.Stderr
	logf := func(format string, a ...any) { fmt.Fprintf(logw, Name+": "+format+"\n", a...) }

	opts, err := parseArgs(args, os.Stderr)
	if err != nil {
		if !pid1 {
			logf("%v", err)
			return 2
		}
		logf("%v; going on with the defaults", err)
		opts, _ = parseArgs(nil, io.Discard)
	}
	if opts.Version {
		fmt.Printf("%s %s\n", Name, Version())
		if !pid1 {
			return 0
		}
	}
	if pid1 {
		// The kernel delivers to PID 1 only the signals it handles, and Go handles SIGTERM by
		// exiting, which would panic the kernel.
		signal.Ignore(unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
		setupPID1(logf)
		if c, err := os.OpenFile("/dev/console", os.O_WRONLY|unix.O_NOCTTY, 0); err == nil {
			logw = c
		}
	}

	srv := NewServer()
	srv.Logf = logf
	srv.PowerOff = func() error {
		unix.Sync()
		return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	srv.Reboot = func() error {
		unix.Sync()
		return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	}
	for failures := 0; ; {
		t, err := openTTY(opts.Device)
		if err != nil {
			if !pid1 {
				logf("%v", err)
				return 1
			}
			if failures == 0 {
				logf("%v; retrying every second", err)
			}
			failures++
			time.Sleep(time.Second) // nothing to wait on: the device may never appear
			continue
		}
		failures = 0
		logf("ready on %s", opts.Device)
		opened := time.Now()
		err = srv.Serve(context.Background(), t, t)
		t.Close()
		logf("%s: %v; reopening", opts.Device, err)
		if time.Since(opened) < time.Second {
			time.Sleep(time.Second) // a port that fails at once must not spin
		}
	}
}
