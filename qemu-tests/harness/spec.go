// Package harness boots QEMU guests for the end-to-end tests: it builds the QEMU command line,
// keeps every byte of the serial console, follows QMP events, and talks to the guest agent
// (package guestagent) over a second serial port.
//
// A VM is one QEMU process. A hibernation test boots two on the same disk: the first ends when
// the guest powers off after writing its image, the second resumes it; the guest agent, frozen
// inside the image, answers the second VM's harness on a new socket.
package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Disk is one virtio-blk disk.
type Disk struct {
	Path     string // image file on the host
	Format   string // "raw" (default) or "qcow2"
	Serial   string // virtio-blk serial (/dev/disk/by-id/virtio-SERIAL), optional
	ReadOnly bool
	BPS      int64 // QEMU throttle on reads+writes, bytes per second; 0 = none
	// Cache is the QEMU cache mode, "writeback" by default: writes reach the host file (page
	// cache) before QEMU completes them, guest flushes become fsync, and QEMU flushes on exit,
	// so an image written by hibernation is in the file once QEMU is gone, even after Kill.
	// "unsafe" drops the guest's flushes (faster, but a killed qcow2 may lose metadata).
	Cache string
}

// Firmware is the UEFI firmware a boot starts in, as two flash chips: Code, OVMF's code (read
// only, shared), and Vars, the machine's own copy of its variable store (written by the firmware
// and the guest: boot entries, Secure Boot keys, systemd's HibernateLocation), kept across its
// boots as a real machine's NVRAM is.
type Firmware struct {
	Code, Vars string
	// SMM is for firmware built with Secure Boot (OVMF_CODE_4M.secboot.fd): it keeps its
	// variables behind System Management Mode, so that the OS cannot write the keys; the machine
	// then needs SMM and its flash marked secure, or the firmware stops at its start.
	SMM bool
}

// Spec describes one boot.
type Spec struct {
	Name      string // names the log folder: LogDir/<Name>-<n>/, n counting the boots of Name in this process
	Kernel    string // "" with Firmware: the firmware boots the disks
	Initrd    string
	Firmware  *Firmware // nil: no firmware, the Kernel booted directly (PVH)
	Cmdline   string    // console=ttyS0 is added if absent
	MemoryMiB int       // default 512
	CPUs      int       // default 1
	Disks     []Disk    // virtio-blk, in order: /dev/vda, /dev/vdb ...
	LogDir    string    // default: $HIBERNATE_TEST_LOGS or <module root>/build/test-logs
	Agent     bool      // attach the guest agent channel as the guest's /dev/ttyS1
	NoReboot  bool      // -no-reboot: a guest reboot (or a panic with panic=N) ends QEMU instead
	ExtraArgs []string

	QEMU    string // binary; default $HIBERNATE_QEMU or qemu-system-x86_64
	Machine string // default "q35" (ACPI on: the guest can power off, and S4 is offered)
	Accel   string // default "tcg" (KVM does not work on the test hosts)
	CPU     string // default $HIBERNATE_QEMU_CPU or "max"
}

// RunPaths are the host paths of one boot, chosen by Start.
type RunPaths struct {
	Dir         string // log folder
	QMPSocket   string
	AgentSocket string
}

// Defaults used by Args.
const (
	DefaultMemoryMiB = 512
	DefaultMachine   = "q35"
	DefaultAccel     = "tcg"
	// DefaultCPU is TCG's fullest CPU without 5-level paging. With la57 on, a kernel booted
	// through QEMU's PVH entry (how the tests boot, see scenario.BootableKernel) and one booted by
	// kexec from it run different paging modes, and the restore of an image made under one by
	// the other triple-faults right after "Disabling non-boot CPUs" (seen here, 6.1, QEMU 7.2).
	// Boots from firmware all take the same path, so real machines do not meet this.
	DefaultCPU  = "max,la57=off"
	DefaultQEMU = "qemu-system-x86_64"
)

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// qemuBinary is the QEMU to run.
func (s Spec) qemuBinary() string {
	return or(s.QEMU, or(os.Getenv("HIBERNATE_QEMU"), DefaultQEMU))
}

// KernelCmdline is the command line the guest gets: Cmdline, plus console=ttyS0 if it has none.
func (s Spec) KernelCmdline() string {
	for _, f := range strings.Fields(s.Cmdline) {
		if f == "console=ttyS0" || strings.HasPrefix(f, "console=ttyS0,") {
			return s.Cmdline
		}
	}
	return strings.TrimSpace(s.Cmdline + " console=ttyS0")
}

// qemuEscape doubles commas, QEMU's escape inside an option value.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Args returns QEMU's arguments (without the binary) for s. It is pure: Start picks the paths,
// and a table test checks the result without QEMU.
//
// The console is the first serial port (ttyS0, the chardev on QEMU's stdio: its output piped
// into the harness, its input a pipe that Type writes to); QMP is a unix socket; the agent, if asked, is the second serial port (ttyS1) on a
// unix socket that QEMU serves without waiting (wait=off), so the guest boots whether or not the
// harness is connected.
func (s Spec) Args(p RunPaths) []string {
	machine := or(s.Machine, DefaultMachine)
	if s.Firmware != nil && s.Firmware.SMM {
		machine += ",smm=on"
	}
	a := []string{
		"-nodefaults", "-no-user-config", "-display", "none",
		"-machine", machine,
		"-accel", or(s.Accel, DefaultAccel),
		"-cpu", or(s.CPU, or(os.Getenv("HIBERNATE_QEMU_CPU"), DefaultCPU)),
		"-m", strconv.Itoa(or(s.MemoryMiB, DefaultMemoryMiB)),
		"-smp", strconv.Itoa(or(s.CPUs, 1)),
	}
	if f := s.Firmware; f != nil {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+qemuEscape(f.Code),
			"-drive", "if=pflash,format=raw,unit=1,file="+qemuEscape(f.Vars))
		if f.SMM {
			a = append(a, "-global", "driver=cfi.pflash01,property=secure,value=on")
		}
	}
	if s.Kernel != "" {
		a = append(a, "-kernel", s.Kernel, "-append", s.KernelCmdline())
	}
	if s.Initrd != "" {
		a = append(a, "-initrd", s.Initrd)
	}
	a = append(a,
		"-chardev", "stdio,id=console,signal=off",
		"-device", "isa-serial,chardev=console,index=0",
		"-chardev", "socket,id=qmp,path="+qemuEscape(p.QMPSocket)+",server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
	)
	if s.Agent {
		a = append(a,
			"-chardev", "socket,id=agent,path="+qemuEscape(p.AgentSocket)+",server=on,wait=off",
			"-device", "isa-serial,chardev=agent,index=1",
		)
	}
	for i, d := range s.Disks {
		drive := fmt.Sprintf("file=%s,format=%s,if=none,id=d%d,cache=%s",
			qemuEscape(d.Path), or(d.Format, "raw"), i, or(d.Cache, "writeback"))
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		if d.BPS > 0 {
			drive += fmt.Sprintf(",throttling.bps-total=%d", d.BPS)
		}
		dev := fmt.Sprintf("virtio-blk-pci,drive=d%d", i)
		if d.Serial != "" {
			dev += ",serial=" + qemuEscape(d.Serial)
		}
		a = append(a, "-drive", drive, "-device", dev)
	}
	if s.NoReboot {
		a = append(a, "-no-reboot")
	}
	return append(a, s.ExtraArgs...)
}

// logRoot is the folder that boots' log folders go in.
func (s Spec) logRoot() (string, error) {
	dir := or(s.LogDir, os.Getenv("HIBERNATE_TEST_LOGS"))
	if dir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", fmt.Errorf("no LogDir, no $HIBERNATE_TEST_LOGS, and %w", err)
		}
		dir = filepath.Join(root, "build", "test-logs")
	}
	return filepath.Abs(dir)
}
