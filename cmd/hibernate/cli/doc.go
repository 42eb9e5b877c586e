package cli

import (
	"io"

	"github.com/spf13/pflag"
)

// Doc is one subcommand as its --help says it, for the man pages and shell completions that
// tools/gendoc generates at build time: nothing about a flag is written twice.
type Doc struct {
	Name    string         // "check"; "initramfs build" for a command with a word after it
	Summary string         // its line in hibernate --help
	Usage   string         // what follows "hibernate Name" in its usage line
	About   string         // the description --help prints above the flags
	Flags   *pflag.FlagSet // what it parses; nil for a command without flags (version)
}

// Docs is hibernate's own description and its subcommands', in --help's order.
type Docs struct {
	Tagline   string // what hibernate is, in one line
	FirstTime string // the commands of a first time on a machine, as --help lists them
	Commands  []Doc
}

// Documentation describes hibernate without running any subcommand: each one's flags are made
// by the same function its run parses them with.
func Documentation() Docs {
	env := Env{Stdout: io.Discard, Stderr: io.Discard}
	d := Docs{Tagline: tagline, FirstTime: firstTime}
	for _, c := range commands() {
		doc := Doc{Name: c.name, Summary: c.summary}
		if c.flags != nil {
			fs := c.flags(env)
			doc.Name, doc.Usage, doc.About, doc.Flags = fs.name, fs.usage, fs.about, fs.FlagSet
		}
		d.Commands = append(d.Commands, doc)
	}
	return d
}
