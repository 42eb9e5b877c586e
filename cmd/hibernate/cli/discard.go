package cli

import (
	"fmt"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

func discardFlags(env Env) (*flagSet, *areaArgs) {
	var a areaArgs
	fs := newFlags(env, "discard", "DEV|FILE [--offset PAGES] [--partition N] [--dry-run]", `
Invalidates the hibernation image on DEV the way the kernel does (the swap signature it
replaced is written back), so the area is a plain swap area again and the image is never
resumed. Refuses what is not an image.`)
	fs.Uint64Var(&a.offset, "offset", 0, "where the swap area starts, in pages")
	fs.IntVar(&a.partition, "partition", 0, "the area is partition N of a GPT disk image")
	fs.BoolVar(&a.dryRun, "dry-run", false, "say what would be written, write nothing")
	return fs, &a
}

func runDiscard(env Env, args []string) error {
	fs, fl := discardFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one device or file: %w", errUsage)
	}
	path := fs.Arg(0)
	ar, err := openArea(path, fl.partition, !fl.dryRun)
	if err != nil {
		return err
	}
	defer ar.f.Close()
	f := ar.f
	path = ar.where
	plan, err := swsusp.Discard(ar, fl.offset, fl.dryRun)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !fl.dryRun {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", path, err)
		}
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", path, plan)
	return nil
}
