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
	// flags makes the flag set run parses, without running anything: the man pages and the
	// shell completions are generated from it (tools/gendoc), so they cannot drift from --help.
	// nil for a command without flags.
	flags func(env Env) *flagSet
}

func commands() []command {
	return []command{
		{"check", "say whether hibernation will come back on this machine, now", runCheck, flagsOf(checkFlags)},
		{"now", "check, then hibernate this machine (it powers off)", runNow, flagsOf(nowFlags)},
		{"prepare", "run the checks and stamp the record before systemd-sleep hibernates", runPrepare, flagsOf(prepareFlags)},
		{"canary", "write an image and read it back, without powering off", runCanary, flagsOf(canaryFlags)},
		{"setup", "make the swap and resume settings hibernation needs", runSetup, flagsOf(setupFlags)},
		{"initramfs", "build the initramfs that resumes images at boot", runInitramfs, flagsOf(initramfsBuildFlags)},
		{"inspect", "show what a swap device or file holds (image, record)", runInspect, flagsOf(inspectFlags)},
		{"watch", "hibernate before the UPS or the battery runs out (a service)", runWatch, flagsOf(watchFlags)},
		{"discard", "invalidate a hibernation image so it is never resumed", runDiscard, flagsOf(discardFlags)},
		{"version", "print the version", runVersion, nil},
	}
}

// flagsOf drops the options that a subcommand's flag definer returns beside its flag set.
func flagsOf[T any](define func(env Env) (*flagSet, T)) func(env Env) *flagSet {
	return func(env Env) *flagSet {
		fs, _ := define(env)
		return fs
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

// tagline is what hibernate is, in one line; firstTime, the commands of a first time on a machine.
const (
	tagline   = "freeze this machine to disk and bring it back exactly as it was."
	firstTime = `  hibernate setup --device /dev/sdX2     make swap, set the resume device, print resume=
  hibernate initramfs build              an initramfs that resumes (for the running kernel)
  hibernate check                        every reason it would not come back, with the fix
  hibernate now                          hibernate (the machine powers off)
`
)

func usage(w io.Writer) {
	fmt.Fprintf(w, `hibernate: %s

Usage: hibernate COMMAND [flags]   (hibernate COMMAND --help for each)

Commands:
`, tagline)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nA first time on a machine:\n%s", firstTime)
}

// flagSet is a subcommand's flags with what its --help says above them: the name ("check",
// "initramfs build"), the usage line after "hibernate NAME", and the description.
type flagSet struct {
	*pflag.FlagSet
	name, usage, about string
}

// newFlags makes a flag set whose --help prints the summary, the usage line and the flags.
func newFlags(env Env, name, usageLine, about string) *flagSet {
	fs := &flagSet{pflag.NewFlagSet("hibernate "+name, pflag.ContinueOnError), name, usageLine, strings.TrimSpace(about)}
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: hibernate %s %s\n\n%s\n\nFlags:\n%s", name, usageLine, fs.about, fs.FlagUsages())
	}
	return fs
}

func parse(fs *flagSet, args []string) error {
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

// DocDefault is the flag annotation whose value the man page gives as the flag's default
// instead of the one found on the machine that runs the generator.
const DocDefault = "hibernate-doc-default"
