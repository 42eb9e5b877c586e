// Command gendoc writes hibernate's man pages and its bash and zsh completions from the flag
// definitions of cmd/hibernate/cli, at build time, so that none is kept by hand to drift from
// --help:
//
//	go run ./tools/gendoc -o build/doc -version V -date 2026-01-31
//
// writes DIR/man8/hibernate.8 and hibernate-COMMAND.8, DIR/bash-completion/hibernate and
// DIR/zsh/_hibernate.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hibernate-linux/hibernate/cmd/hibernate/cli"
)

func main() {
	out := flag.String("o", "build/doc", "output folder")
	version := flag.String("version", cli.Version, "the version the man pages name")
	date := flag.String("date", "", "the date the man pages give (YYYY-MM-DD; the last commit's, for a reproducible build)")
	flag.Parse()
	if err := write(*out, *version, *date); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
}

// files is every file gendoc writes, by path below the output folder.
func files(version, date string) map[string]string {
	docs := cli.Documentation()
	m := map[string]string{
		"bash-completion/hibernate": bashCompletion(docs),
		"zsh/_hibernate":            zshCompletion(docs),
	}
	for _, p := range manPages(docs, version, date) {
		m[filepath.Join("man8", p.name)] = p.text
	}
	return m
}

func write(dir, version, date string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, text := range files(version, date) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
