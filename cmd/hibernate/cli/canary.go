package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// canaryArgs is the parsed command line of canary.
type canaryArgs struct {
	o      hibernate.Options
	root   string
	asJSON bool
	hooks  bool
}

func canaryFlags(env Env) (*flagSet, *canaryArgs) {
	a := canaryArgs{o: hibernate.Options{Out: env.Stderr}}
	fs := newFlags(env, "canary", "[--json] [--hooks] [--image-size auto|kernel|min|BYTES]", `
Tries this machine's hibernation without powering off: runs every check of 'hibernate check'
(and refuses, exit 1, nothing changed, where one fails), then has the kernel write the image to
the swap area and read it back at once (test_resume in /sys/power/disk), as a hibernation and
a resume would; then reads the swap area's header back: a plain swap area again. It says how
long the machine was frozen for the write and the read together (the kernel's own split is
said where its log keeps it: test_resume restores the log with the memory it wrote, so most
kernels' does not). Nothing powers off. Run it after a change of disk, kernel or swap. Exit 1 when it
fails, with the reason.`)
	fs.BoolVar(&a.asJSON, "json", false, `print {"device","offset","after","write_ns","restore_ns",...}`)
	fs.BoolVar(&a.hooks, "hooks", false, `run the sleep hooks ("pre hibernate", "post hibernate") as hibernate now does (default: none: the canary is not a sleep)`)
	fs.StringVar(&a.o.ImageSize, "image-size", hibernate.DefaultImageSize, "the image's target (/sys/power/image_size, put back after): auto keeps what processes hold and leaves out the page cache none maps (capped by the free swap); kernel leaves the kernel's (2/5 of RAM); min asks for the smallest; or BYTES")
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

func runCanary(env Env, args []string) error {
	fs, a := canaryFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	a.o.NoHooks = !a.hooks
	res, err := hibernate.Canary(sysfs.New(a.root), a.o)
	if errors.Is(err, hibernate.ErrNotReady) {
		return &ExitError{Code: 1, Err: fmt.Errorf("canary: %w", err)}
	}
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("canary failed: %w", err)}
	}
	if a.asJSON {
		return printJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "frozen for %s: the image written and read back\n", res.Asleep.Round(10*time.Millisecond))
	say := func(what string, d time.Duration, line string) {
		if line == "" {
			fmt.Fprintf(env.Stdout, "%s: not in the kernel log (test_resume restored the log with the memory)\n", what)
			return
		}
		fmt.Fprintf(env.Stdout, "%s in %s (kernel: %s)\n", what, d.Round(10*time.Millisecond), line)
	}
	say("image written", res.Write, res.WriteLog)
	say("image read back and restored", res.Restore, res.RestoreLog)
	fmt.Fprintf(env.Stdout, "swap area on %s at page %d: %s again (read back): the canary came back\n", res.Device, res.Offset, res.After)
	return nil
}
