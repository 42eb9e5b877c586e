package scenario

import (
	"strings"
	"testing"
)

// update-grub's entries (GRUB_DISABLE_SUBMENU=y, two kernels, one entry with a microcode image
// first): only the guest kernel's initrd lines name the kept copy, the rest is byte for byte.
func TestDistGrubConfig(t *testing.T) {
	const rel = "6.1.0-50-amd64"
	cfg := `menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-0a3e' {
	search --no-floppy --fs-uuid --set=root 0a3e
	echo	'Loading Linux 6.1.0-50-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-50-amd64 root=UUID=0a3e ro console=ttyS0,115200 resume=UUID=77c1
	echo	'Loading initial ramdisk ...'
	initrd	/boot/intel-ucode.img /boot/initrd.img-6.1.0-50-amd64
}
menuentry 'Debian GNU/Linux, with Linux 6.12.57+deb13-amd64' --class debian {
	linux	/boot/vmlinuz-6.12.57+deb13-amd64 root=UUID=0a3e ro
	initrd	/boot/initrd.img-6.12.57+deb13-amd64
}
menuentry 'Debian GNU/Linux, with Linux 6.1.0-50-amd64' --class debian {
	linux	/boot/vmlinuz-6.1.0-50-amd64 root=UUID=0a3e ro
	initrd	/boot/initrd.img-6.1.0-50-amd64
}
`
	got, n := distGrubConfig([]byte(cfg), rel)
	want := strings.ReplaceAll(cfg, "/boot/initrd.img-"+rel+"\n", "/boot/initrd.img-"+rel+DistInitrdSuffix+"\n")
	if n != 2 || string(got) != want {
		t.Errorf("changed %d lines, want 2:\n%s", n, got)
	}
	if _, n := distGrubConfig([]byte(cfg), "6.1.0-9-amd64"); n != 0 {
		t.Errorf("changed %d lines for a kernel the configuration does not boot", n)
	}
}
