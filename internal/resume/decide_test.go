package resume

import (
	"errors"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

func image(release string, problems ...string) *swsusp.Area {
	a := &swsusp.Area{Sig: swsusp.SigSwsusp, Header: &swsusp.Header{Sig: swsusp.SigSwsusp, OrigSig: swsusp.SigSwap, Image: 1},
		Info: &swsusp.Info{Size: 150 << 20}, Problems: problems}
	if release != "" {
		a.Record = &swsusp.Record{KernelRelease: release}
	}
	return a
}

func recorded(release, cmdline string) *swsusp.Area {
	a := image(release)
	a.Record.Cmdline = cmdline
	return a
}

func TestDecide(t *testing.T) {
	const running = "6.1.0-57-amd64"
	plain := &swsusp.Area{Sig: swsusp.SigSwap}
	for _, tc := range []struct {
		name   string
		in     Input
		action Action
		reason string // a part of the console line
	}{
		{"nothing configured", Input{}, Boot, "no resume device configured"},
		{"device absent", Input{DeviceSpec: "UUID=x"}, Boot, "resume device UUID=x not found"},
		{"unreadable", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", ReadErr: errors.New("EIO")}, Boot, "cannot read /dev/vda2 (EIO)"},
		{"plain swap", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: plain}, Boot, "no hibernation image on /dev/vda2 (swap)"},
		{"image, no record", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(""), RunningRelease: running}, Resume, "image of an unknown kernel on /dev/vda2 (150 MiB): resuming"},
		{"image of this kernel", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running), RunningRelease: running}, Resume, "image of 6.1.0-57-amd64 on /dev/vda2 (150 MiB): resuming"},
		{"image of another kernel", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image("6.12.9-amd64"), RunningRelease: running}, Kexec, "kexec into 6.12.9-amd64"},
		{"another kernel after kexec", Input{Params: Params{Kexeced: true}, DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image("6.12.9-amd64"), RunningRelease: running}, Resume, "after a kexec already"},
		{"noresume", Input{Params: Params{NoResume: true}, DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running), RunningRelease: running}, Discard, "noresume on the command line: discarding"},
		{"noresume keep", Input{Params: Params{NoResume: true, Keep: true}, DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running), RunningRelease: running}, PowerOff, "hibernate.keep=1: powering off"},
		{"corrupt", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running, "map page 3 points past the device"), RunningRelease: running}, Discard, "not valid (map page 3 points past the device)"},
		{"hibernation off", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running), RunningRelease: running, HibernationOff: "nohibernate on the command line: this kernel takes no image"}, Discard, "this kernel takes no image: discarding it"},
		{"hibernation off, keep", Input{Params: Params{Keep: true}, DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: image(running), RunningRelease: running, HibernationOff: "lockdown"}, PowerOff, "powering off, image kept"},
		{"scan: no record", Input{Params: Params{Root: "/dev/vda1"}, Scanned: true, DeviceSpec: "/dev/sdb2", Device: "/dev/sdb2", Area: image(""), RunningRelease: running}, Boot, "not made by a boot of this root (root=/dev/vda1): booting, image left as it is"},
		{"scan: another root", Input{Params: Params{Root: "/dev/vda1"}, Scanned: true, DeviceSpec: "/dev/sdb2", Device: "/dev/sdb2", Area: recorded(running, "root=UUID=other ro"), RunningRelease: running}, Boot, "image left as it is"},
		{"scan: this root", Input{Params: Params{Root: "/dev/vda1"}, Scanned: true, DeviceSpec: "/dev/vda2", Device: "/dev/vda2", Area: recorded(running, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro"), RunningRelease: running}, Resume, "resuming"},
		{"uswsusp", Input{DeviceSpec: "UUID=x", Device: "/dev/vda2", Area: &swsusp.Area{Sig: swsusp.SigUswsusp, Header: &swsusp.Header{Sig: swsusp.SigUswsusp}}}, Boot, "left as it is"},
	} {
		d := Decide(tc.in)
		if leave := strings.Contains(tc.reason, "left as it is"); d.LeaveImage != leave {
			t.Errorf("%s: LeaveImage %v, want %v", tc.name, d.LeaveImage, leave)
		}
		if d.Action != tc.action || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: Decide = %v %q, want %v containing %q", tc.name, d.Action, d.Reason, tc.action, tc.reason)
		}
	}
}
