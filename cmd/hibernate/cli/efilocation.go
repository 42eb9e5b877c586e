package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/hibernate-linux/hibernate/internal/efivars"
)

// efiLocation is systemd's HibernateLocation EFI variable as check shows it, read only: on an
// EFI machine systemd's initrd resumes from it without resume= on the command line, so a
// variable left from another hibernation, or another system's, is worth knowing about.
type efiLocation struct {
	Location string `json:"location,omitempty"` // its fields, in one line
	Device   string `json:"device,omitempty"`   // what systemd's initrd would wait for
	Matches  bool   `json:"matches"`            // written by this system, as systemd's initrd decides it
	Detail   string `json:"detail"`
}

// readEFILocation is nil when the machine below root did not boot through UEFI or has no
// such variable: the common case, with nothing to say.
func readEFILocation(root string) *efiLocation {
	if !efivars.IsEFIBoot(root) {
		return nil
	}
	h, err := efivars.ReadHibernateLocation(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &efiLocation{Detail: fmt.Sprintf("unreadable: %v", err)}
	}
	l := &efiLocation{Location: h.String(), Device: h.Device()}
	if err := efivars.CheckSystem(root, h); err != nil {
		l.Detail = err.Error()
		return l
	}
	l.Matches = true
	l.Detail = "written by this system: systemd's initrd would resume from " + h.Device() + " when resume= is not given"
	return l
}

func printEFILocation(w io.Writer, l *efiLocation) {
	if l == nil {
		return
	}
	if l.Location != "" {
		fmt.Fprintf(w, "note %-14s systemd's HibernateLocation EFI variable is set: %s\n", "efi-location", l.Location)
		fmt.Fprintf(w, "     %-14s %s\n", "", l.Detail)
		return
	}
	fmt.Fprintf(w, "note %-14s systemd's HibernateLocation EFI variable is %s\n", "efi-location", l.Detail)
}
