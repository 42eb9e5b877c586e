package swapsetup

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Swapper activates and deactivates swap areas. The real one makes the system calls; tests use a fake.
type Swapper interface {
	Swapon(path string, priority int) error
	Swapoff(path string) error
}

// SystemSwapper is the real swapon(2)/swapoff(2). golang.org/x/sys/unix has no wrapper for them.
type SystemSwapper struct{}

const (
	swapFlagPrefer   = 0x8000
	swapFlagPrioMask = 0x7fff
)

// Swapon activates path; priority < 0 leaves the kernel's default.
func (SystemSwapper) Swapon(path string, priority int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	flags := 0
	if priority >= 0 {
		flags = swapFlagPrefer | (priority & swapFlagPrioMask)
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), uintptr(flags), 0); e != 0 {
		return fmt.Errorf("swapon %s: %w", path, e)
	}
	return nil
}

// Swapoff deactivates path.
func (SystemSwapper) Swapoff(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return fmt.Errorf("swapoff %s: %w", path, e)
	}
	return nil
}

// RootSwapper stands in for swapon below a --root other than "/": activating a swap area of a
// fake tree or an image file would act on the machine that runs the command, so it only says
// what it would have done.
type RootSwapper struct{ Root string }

// Swapon refuses, naming the root.
func (r RootSwapper) Swapon(path string, priority int) error {
	return fmt.Errorf("not activating %s: swapon is never done below --root %s", path, r.Root)
}

// Swapoff refuses, naming the root.
func (r RootSwapper) Swapoff(path string) error {
	return fmt.Errorf("not deactivating %s: swapoff is never done below --root %s", path, r.Root)
}
