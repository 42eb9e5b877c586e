package guestagent

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Insmod is `hibernate-guest-agent insmod FILE...`: it loads the modules in the order given
// (finit_module, no parameters), as insmod does; a module already loaded is no error. The guests
// that need more than our /init loads (the builder of the encrypted disk: dm-crypt, the crypto
// modules) have no kmod: the host resolves the order (internal/initramfs/modules) and the agent
// loads the files.
func Insmod(files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("usage: insmod FILE...")
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("finit_module %s: %w", p, err)
		}
	}
	return nil
}
