// Package cli is the hibernate command: one file per subcommand, each parsing its flags with
// pflag into an options struct and returning an error; main only calls Run.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Env is what a subcommand may touch: its input and output streams. The machine itself is
// reached through each subcommand's --root (a sysfs.FS), so that tests run it on a fake tree.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
}

// ExitError carries an exit status other than 1 (inspect's 2 and 3, check's 2).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// errUsage marks an error that the subcommand's usage should follow.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(env Env, args []string) error
}

func commands() []command {
	return []command{
		{"check", "say whether hibernation will come back on this machine, now", runCheck},
		{"now", "check, then hibernate this machine (it powers off)", runNow},
		{"setup", "make the swap and resume settings hibernation needs", runSetup},
		{"initramfs", "build the initramfs that resumes images at boot", runInitramfs},
		{"inspect", "show what a swap device or file holds (image, record)", runInspect},
		{"watch", "hibernate before the UPS or the battery runs out (a service)", runWatch},
		{"discard", "invalidate a hibernation image so it is never resumed", runDiscard},
		{"version", "print the version", runVersion},
	}
}

// Version is set at build time (-ldflags "-X .../cmd/hibernate/cli.Version=...").
var Version = "dev"

// Run runs the hibernate command with args (without the program name) and returns the exit status.
func Run(env Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-V" {
		return Run(env, []string{"version"})
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(env, args[1:])
			if err == nil || errors.Is(err, pflag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(env.Stderr, "hibernate %s: %v\n", c.name, err)
			var ee *ExitError
			if errors.As(err, &ee) {
				return ee.Code
			}
			if errors.Is(err, errUsage) {
				return 2
			}
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "hibernate: unknown command %q; commands: %s\n", args[0], strings.Join(names(), ", "))
	return 2
}

func names() []string {
	var out []string
	for _, c := range commands() {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `hibernate: freeze this machine to disk and bring it back exactly as it was.

Usage: hibernate COMMAND [flags]   (hibernate COMMAND --help for each)

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
A first time on a machine:
  hibernate setup --device /dev/sdX2     make swap, set the resume device, print resume=
  hibernate initramfs build              an initramfs that resumes (for the running kernel)
  hibernate check                        every reason it would not come back, with the fix
  hibernate now                          hibernate (the machine powers off)
`)
}

// newFlags makes a flag set whose --help prints the summary, the usage line and the flags.
func newFlags(env Env, name, usageLine, about string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("hibernate "+name, pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: hibernate %s %s\n\n%s\n\nFlags:\n%s", name, usageLine, strings.TrimSpace(about), fs.FlagUsages())
	}
	return fs
}

func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w (see --help): %w", err, errUsage)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runVersion(env Env, args []string) error {
	fmt.Fprintf(env.Stdout, "hibernate %s\n", Version)
	return nil
}

// exeDir is the folder of the running hibernate binary, for files installed beside it.
func exeDir() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Dir(p)
}
