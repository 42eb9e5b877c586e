package sdboot

import (
	"reflect"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// The entry kernel-install wrote on Debian 13 (TestDebian13SystemdBoot's guest), with a microcode
// initrd added before ours and the options split over two lines.
const debianEntry = `# Boot Loader Specification type#1 entry
# File created by /usr/lib/kernel/install.d/90-loaderentry.install (systemd 257.13-1~deb13u1)
title      Debian GNU/Linux 13 (trixie)
version    6.12.117+deb13-amd64
machine-id dcc0073021474be28e109a5227f912c4
sort-key   debian
options    root=PARTUUID=7cfcb727 rw console=ttyS0
options	resume=UUID=03f356c5 systemd.machine_id=dcc0073021474be28e109a5227f912c4
linux      /dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/linux
initrd     /dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/intel-ucode.img
initrd     /dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/initrd.img-6.12.117+deb13-amd64
`

func TestParseEntry(t *testing.T) {
	e := ParseEntry(debianEntry)
	want := Entry{Version: "6.12.117+deb13-amd64", Linux: "/dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/linux",
		Initrd:  []string{"/dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/intel-ucode.img", "/dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/initrd.img-6.12.117+deb13-amd64"},
		Options: "root=PARTUUID=7cfcb727 rw console=ttyS0 resume=UUID=03f356c5 systemd.machine_id=dcc0073021474be28e109a5227f912c4"}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
}

func TestEntriesAndFor(t *testing.T) {
	tr := faketree.New(t)
	if es, err := Entries(tr.FS()); es != nil || err != nil || ESP(tr.FS()) != "" {
		t.Fatalf("no systemd-boot: %v %v", es, err)
	}
	tr.Write("boot/efi/EFI/systemd/systemd-bootx64.efi", "MZ")
	tr.Write("boot/efi/loader/entries/dcc0-6.12.117+deb13-amd64.conf", debianEntry)
	tr.Write("boot/efi/loader/entries/dcc0-6.1.0-50-amd64.conf", "title Debian\nlinux /dcc0/6.1.0-50-amd64/linux\noptions root=UUID=1 ro\n")
	tr.Write("boot/efi/loader/entries/notes.txt", "not an entry")
	es, err := Entries(tr.FS())
	if err != nil || len(es) != 2 {
		t.Fatalf("entries %+v, %v", es, err)
	}
	e, ok := For(es, "6.12.117+deb13-amd64")
	if !ok || e.File != "/boot/efi/loader/entries/dcc0-6.12.117+deb13-amd64.conf" || e.InitrdPath() != "boot/efi/dcc0073021474be28e109a5227f912c4/6.12.117+deb13-amd64/initrd.img-6.12.117+deb13-amd64" {
		t.Errorf("6.12: %+v (%v), initrd %q", e, ok, e.InitrdPath())
	}
	if e, ok := For(es, "6.1.0-50-amd64"); !ok || e.Options != "root=UUID=1 ro" || e.InitrdPath() != "" {
		t.Errorf("6.1 by its kernel's folder: %+v (%v)", e, ok)
	}
	if _, ok := For(es, "6.1.0-9-amd64"); ok {
		t.Error("an entry for a kernel none boots")
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(debianEntry)
	f.Add("options\n#x\ninitrd  \n")
	f.Fuzz(func(t *testing.T, s string) {
		e := ParseEntry(s)
		_ = e.InitrdPath()
	})
}
