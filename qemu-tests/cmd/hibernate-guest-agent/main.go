// Command hibernate-guest-agent runs inside a QEMU test guest and serves the harness's requests
// on a serial port. See package github.com/hibernate-linux/hibernate/qemu-tests/guestagent.
package main

import (
	"os"

	"github.com/hibernate-linux/hibernate/qemu-tests/guestagent"
)

func main() { os.Exit(guestagent.Main(os.Args[1:])) }
