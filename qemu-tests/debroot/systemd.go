package debroot

import "github.com/hibernate-linux/hibernate/qemu-tests/demojob"

// Paths in a SystemdGuest root of the programs its units start; the binaries themselves are put
// in per run (they change with every build, the cached root does not).
const (
	AgentPath   = "/usr/local/sbin/hibernate-guest-agent"
	DemoJobPath = "/usr/local/bin/hibernate-demo-job"
	DemoJobLog  = demojob.LogPath
	AgentUnit   = "hibernate-guest-agent.service"
	DemoJobUnit = "hibernate-demo-job.service"
	RootLabel   = "root" // the file system label fstab mounts / by (guestdisk's default)
)

// SystemdPackages are what SystemdGuest installs beyond minbase: systemd as PID 1, udev and
// kmod to load the kernel's modules, the Debian kernel, e2fsprogs for the ext4 root, dbus for
// systemd-logind (without it the system would be "degraded" from the start), and cryptsetup-bin
// and lvm2, which an encrypted LVM machine has (the EncryptedLVMRoot guest: hibernate initramfs
// build copies them into the initramfs); one root for every Debian guest, debootstrapped once.
var SystemdPackages = []string{"systemd", "systemd-sysv", "udev", "kmod", "e2fsprogs", "util-linux", "dbus", "linux-image-amd64", "cryptsetup-bin", "lvm2"}

const agentUnit = `[Unit]
Description=hibernate test guest agent on /dev/ttyS1
# Early and on its own: it needs nothing but the serial port, which is there from the start.
DefaultDependencies=no
Conflicts=shutdown.target
Before=shutdown.target

[Service]
ExecStart=` + AgentPath + ` --device /dev/ttyS1
Restart=always
RestartSec=1

[Install]
WantedBy=sysinit.target
`

const demoJobUnit = `[Unit]
Description=hibernate demo job: 64 MiB of state, a line a second

[Service]
ExecStart=` + DemoJobPath + ` --state-mib 64 --log ` + DemoJobLog + `
Restart=no

[Install]
WantedBy=multi-user.target
`

// SystemdGuest is the Debian 12 guest with systemd as PID 1: minbase plus SystemdPackages,
// the guest agent and the demo job as enabled units, no serial getty (the console is the
// test's log), root without a password, / by label.
func SystemdGuest() Spec {
	return Spec{
		Name:    "systemd",
		Suite:   "bookworm",
		Variant: "minbase",
		Include: SystemdPackages,
		Files: []File{
			{Path: "etc/fstab", Data: "# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=" + RootLabel + " / ext4 defaults 0 0\n"},
			{Path: "etc/hostname", Data: "hibernate-debian\n"},
			{Path: "etc/hosts", Data: "127.0.0.1\tlocalhost\n127.0.1.1\thibernate-debian\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
			{Path: "etc/systemd/system/" + AgentUnit, Data: agentUnit},
			{Path: "etc/systemd/system/sysinit.target.wants/" + AgentUnit, Link: "/etc/systemd/system/" + AgentUnit},
			{Path: "etc/systemd/system/" + DemoJobUnit, Data: demoJobUnit},
			{Path: "etc/systemd/system/multi-user.target.wants/" + DemoJobUnit, Link: "/etc/systemd/system/" + DemoJobUnit},
			{Path: "etc/systemd/system/serial-getty@ttyS0.service", Link: "/dev/null"},
		},
		// The host's resolver configuration, copied in by debootstrap: the guest has no network.
		Remove:   []string{"etc/resolv.conf"},
		NoRootPW: true,
	}
}

// SystemdMDGuest is SystemdGuest with mdadm: its root is on an md RAID1, which Debian's
// initramfs (initramfs-tools' mdadm hook and local-block script) assembles at boot. The
// kernel's initramfs is made at the end of debootstrap, after mdadm is unpacked (initramfs-tools
// runs as a dpkg trigger), so it holds mdadm; with no ARRAY in mdadm.conf the script assembles
// every array it finds. Its own root (and base) beside SystemdGuest's: one package more.
// Without apt's list of the mirror's packages (50 MB, which every apt-get parses again under
// emulation: an apt install of the local .deb took 1 to 3 min): the guest has no network, and
// the .deb needs nothing that is not installed.
func SystemdMDGuest() Spec {
	s := SystemdGuest()
	s.Name = "systemd-md"
	s.Include = append(append([]string(nil), s.Include...), "mdadm")
	s.Remove = append(append([]string(nil), s.Remove...), AptPackagesList)
	return s
}

// AptPackagesList is the list of the mirror's packages debootstrap leaves for apt.
const AptPackagesList = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"

// ESPLabel is the label of the EFI system partition an EFI guest's fstab mounts at /boot/efi.
const ESPLabel = "ESP"

// grubDefaults is /etc/default/grub of an EFI guest, as an admin of a headless machine writes it:
// no menu to wait at, GRUB and the kernel on the serial console (the test's log), the kernel's
// quiet off so that the log says what the boot did, and a flat menu without recovery entries
// (each kernel's entry "Debian GNU/Linux, with Linux R", for grub-reboot). hibernate setup --write-boot-config adds
// resume= to GRUB_CMDLINE_LINUX_DEFAULT, and update-grub writes /boot/grub/grub.cfg from it.
const grubDefaults = `GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB_DISABLE_SUBMENU=y
GRUB_DISABLE_RECOVERY=true
`

// SystemdEFIGuest is SystemdGuest booted as a UEFI machine is: with GRUB for EFI and Debian's
// signed boot chain (grub-efi-amd64, shim-signed and grub-efi-amd64-signed, which the Debian
// installer puts on a UEFI machine; the kernel package is signed already), the EFI system
// partition mounted at /boot/efi by label, and grubDefaults. debootstrap installs GRUB's files,
// not GRUB: the guest runs grub-install --removable itself (its postinst installs it only where
// /boot/efi/EFI/debian exists). Its own root beside SystemdGuest's: with GRUB's configuration
// there, hibernate check reads the next boot's command line from it.
func SystemdEFIGuest() Spec {
	s := SystemdGuest()
	s.Name = "systemd-efi"
	s.Include = append(append([]string(nil), s.Include...), "grub-efi-amd64", "shim-signed", "grub-efi-amd64-signed")
	files := []File{
		{Path: "etc/fstab", Data: "# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=" + RootLabel + " / ext4 defaults 0 1\nLABEL=" + ESPLabel + " /boot/efi vfat umask=0077 0 1\n"},
		{Path: "etc/default/grub", Data: grubDefaults},
	}
	for _, f := range s.Files {
		if f.Path != "etc/fstab" {
			files = append(files, f)
		}
	}
	s.Files = files
	return s
}

// SystemdTrixieGuest is SystemdGuest on Debian 13 (trixie: systemd 257, Linux 6.12, merged
// /usr), from the same mirror. Its own root and base.
func SystemdTrixieGuest() Spec {
	s := SystemdGuest()
	s.Name, s.Suite = "systemd-trixie", "trixie"
	return s
}

// SystemdBootTrixieGuest is SystemdTrixieGuest booted as a UEFI machine with systemd-boot:
// Debian 13's systemd-boot package (its hooks: /etc/kernel/postinst.d/zz-systemd-boot and
// /etc/initramfs/post-update.d/systemd-boot, each running kernel-install add once bootctl has
// installed the loader), the EFI system partition mounted at /boot/efi by label. debootstrap
// installs the package, not the loader: the guest runs bootctl install itself. No GRUB.
func SystemdBootTrixieGuest() Spec {
	s := SystemdTrixieGuest()
	s.Name = "systemd-boot-trixie"
	s.Include = append(append([]string(nil), s.Include...), "systemd-boot", "systemd-boot-efi")
	files := []File{{Path: "etc/fstab", Data: "# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=" + RootLabel + " / ext4 defaults 0 1\nLABEL=" + ESPLabel + " /boot/efi vfat umask=0077 0 1\n"}}
	for _, f := range s.Files {
		if f.Path != "etc/fstab" {
			files = append(files, f)
		}
	}
	s.Files = files
	return s
}

// SystemdBootDracutTrixieGuest is SystemdBootTrixieGuest with dracut as the initramfs generator
// instead of initramfs-tools, as Debian 13 has it when dracut is installed (the two conflict): with
// systemd installed, dracut builds systemd's initrd, whose systemd-hibernate-resume (dracut's
// resume module) reads the HibernateLocation EFI variable. The kernel package depends on
// "initramfs-tools | linux-initramfs-tool", and debootstrap takes the first alternative even
// where dracut (which provides the second) is asked for and initramfs-tools excluded: so the root
// has no kernel, and EnsureKernelRoot installs it with dpkg, whose postinst hook has dracut build
// /boot/initrd.img-R with Debian's defaults (a generic initrd: Debian enables no hostonly).
func SystemdBootDracutTrixieGuest() Spec {
	s := SystemdBootTrixieGuest()
	s.Name = "systemd-boot-dracut-trixie"
	var pk []string
	for _, p := range s.Include {
		if p != "linux-image-amd64" {
			pk = append(pk, p)
		}
	}
	s.Include = append(pk, "dracut", "zstd")
	s.Files = append(append([]File(nil), s.Files...), modulesKeep)
	return s
}

// SystemdBIOSGuest is SystemdGuest booted as a BIOS machine is: GRUB for BIOS (grub-pc, which
// the Debian installer puts on a machine without UEFI), installed by the guest itself with
// grub-install --target=i386-pc into the BIOS boot partition of its GPT disk, and grubDefaults.
// Its own root: grub-pc and grub-efi-amd64 conflict.
func SystemdBIOSGuest() Spec {
	s := SystemdGuest()
	s.Name = "systemd-bios"
	s.Include = append(append([]string(nil), s.Include...), "grub-pc")
	s.Files = append(append([]File(nil), s.Files...), File{Path: "etc/default/grub", Data: grubDefaults})
	return s
}
