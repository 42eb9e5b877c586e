// Command hibernate freezes a Linux machine to disk (the kernel's suspend-to-disk) and brings it
// back as it was. See `hibernate --help` and docs/guide.md.
package main

import (
	"os"

	"github.com/hibernate-linux/hibernate/cmd/hibernate/cli"
)

func main() {
	stop := startProfile(os.Args[1:])
	code := cli.Run(cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}, os.Args[1:])
	stop()
	os.Exit(code)
}
