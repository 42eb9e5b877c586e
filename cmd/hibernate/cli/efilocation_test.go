package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// check shows systemd's HibernateLocation, read from the fake tree's efivarfs, and whether it is
// this system's; it says nothing when the machine is not EFI or has no such variable.
func TestCheckShowsHibernateLocation(t *testing.T) {
	tr := faketree.New(t)
	tr.Write("proc/sys/kernel/osrelease", "6.12.48+deb13-amd64\n")
	tr.Write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"13\"\n")
	if out, _, _ := runCLI("check", "--root", tr.Root); strings.Contains(out, "efi-location") {
		t.Errorf("not an EFI machine, yet check said:\n%s", out)
	}
	tr.Mkdir("sys/firmware/efi/efivars")
	if out, _, _ := runCLI("check", "--root", tr.Root); strings.Contains(out, "efi-location") {
		t.Errorf("no variable, yet check said:\n%s", out)
	}

	h := efivars.HibernateLocation{UUID: "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31", Offset: 0, OSReleaseID: "debian"}
	if err := efivars.WriteHibernateLocation(tr.Root, h); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runCLI("check", "--root", tr.Root)
	if !strings.Contains(out, "note efi-location   systemd's HibernateLocation EFI variable is set: UUID=0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31 offset=0 ID=debian") ||
		!strings.Contains(out, "written by this system: systemd's initrd would resume from /dev/disk/by-uuid/0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31") {
		t.Errorf("check output:\n%s", out)
	}

	h.OSReleaseID = "fedora"
	if err := efivars.WriteHibernateLocation(tr.Root, h); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runCLI("check", "--json", "--root", tr.Root)
	var rep struct {
		Ready    *bool `json:"ready"`
		Location struct {
			Device  string `json:"device"`
			Matches bool   `json:"matches"`
			Detail  string `json:"detail"`
		} `json:"hibernate_location"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Ready == nil || rep.Location.Matches || !strings.Contains(rep.Location.Detail, `its ID is "fedora"`) {
		t.Errorf("check --json: %+v\n%s", rep, out)
	}

	if err := os.WriteFile(efivars.Path(tr.Root, efivars.HibernateLocationName), []byte{7, 0, 0, 0, '{', 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := runCLI("check", "--root", tr.Root); !strings.Contains(out, "HibernateLocation EFI variable is unreadable") {
		t.Errorf("bad variable, check said:\n%s", out)
	}
	// Read only: check left the variable as it found it.
	if b, err := os.ReadFile(efivars.Path(tr.Root, efivars.HibernateLocationName)); err != nil || len(b) != 8 {
		t.Errorf("check changed the variable: % x, %v", b, err)
	}
}
