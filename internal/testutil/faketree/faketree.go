// Package faketree builds fake machine trees (/sys, /proc, /dev) in a folder, for the unit tests
// of everything that reads the machine through a root prefix. Nothing here touches the real one.
package faketree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// Tree is a fake machine under a test's temporary folder.
type Tree struct {
	t    testing.TB
	Root string
}

// New makes a machine that can hibernate: /sys/power as Debian 12's kernel has it, 1 GiB of RAM
// with 200 MiB of anonymous memory, no swap, a short command line, a kernel version but no
// release (proc/sys/kernel/osrelease: each test names the kernel it needs).
func New(t testing.TB) *Tree {
	tr := &Tree{t: t, Root: t.TempDir()}
	tr.Write("sys/power/state", "freeze mem disk\n")
	tr.Write("sys/power/disk", "[platform] shutdown reboot suspend test_resume\n")
	tr.Write("sys/power/image_size", "423053312\n")
	tr.Write("sys/power/resume", "0:0\n")
	tr.Write("sys/power/resume_offset", "0\n")
	tr.Write("sys/power/pm_test", "[none] core processors platform devices freezer\n")
	tr.Write("sys/kernel/security/lockdown", "[none] integrity confidentiality\n")
	tr.Write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro\n")
	tr.Write("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-01)\n")
	tr.Write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
	tr.Meminfo(map[string]int64{"MemTotal": 1 << 20, "MemFree": 600 << 10, "Active(anon)": 200 << 10, "AnonPages": 220 << 10,
		"Buffers": 10 << 10, "Cached": 150 << 10, "Shmem": 10 << 10, "Mapped": 30 << 10, "SReclaimable": 20 << 10})
	tr.Mkdir("sys/class/block")
	tr.Mkdir("dev")
	tr.Mkdir("run")
	return tr
}

// FS is the tree as a root prefix.
func (tr *Tree) FS() sysfs.FS { return sysfs.New(tr.Root) }

// Write makes a file below the root.
func (tr *Tree) Write(name, content string) {
	tr.t.Helper()
	p := filepath.Join(tr.Root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// Read reads a file below the root, white space trimmed.
func (tr *Tree) Read(name string) string {
	tr.t.Helper()
	b, err := os.ReadFile(filepath.Join(tr.Root, name))
	if err != nil {
		tr.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Mkdir makes a folder below the root.
func (tr *Tree) Mkdir(name string) {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Join(tr.Root, name), 0o755); err != nil {
		tr.t.Fatal(err)
	}
}

// Meminfo writes /proc/meminfo with the given fields, in KiB.
func (tr *Tree) Meminfo(kib map[string]int64) {
	var b strings.Builder
	for _, k := range []string{"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "Active(anon)", "Inactive(anon)", "AnonPages", "Mapped", "Shmem", "SReclaimable"} {
		if v, ok := kib[k]; ok {
			fmt.Fprintf(&b, "%s:%12d kB\n", k, v)
		}
	}
	tr.Write("proc/meminfo", b.String())
}

// Disk adds a whole disk (vda, 254:0) and its partitions, each a file under dev/ of the given
// size whose first bytes are content[i] (nil: zeros), as /sys/class/block shows them.
func (tr *Tree) Disk(name string, major int, parts ...Part) {
	tr.t.Helper()
	tr.blockDev(name, "devices/virtual/block/"+name, major, 0, 0, "", 64<<20, nil)
	for i, p := range parts {
		n := i + 1
		pname := fmt.Sprintf("%s%d", name, n)
		tr.blockDev(pname, "devices/virtual/block/"+name+"/"+pname, major, n, n, p.Label, p.Size, p.Content)
	}
}

// Part is one partition of a fake disk.
type Part struct {
	Size    int64
	Label   string // GPT partition name
	Content []byte
}

func (tr *Tree) blockDev(name, sysPath string, major, minor, partn int, partName string, size int64, content []byte) {
	tr.t.Helper()
	dir := filepath.Join(tr.Root, "sys", sysPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tr.t.Fatal(err)
	}
	tr.Write(filepath.Join("sys", sysPath, "dev"), fmt.Sprintf("%d:%d\n", major, minor))
	tr.Write(filepath.Join("sys", sysPath, "size"), fmt.Sprintf("%d\n", size/512))
	ue := fmt.Sprintf("MAJOR=%d\nMINOR=%d\nDEVNAME=%s\n", major, minor, name)
	if partn > 0 {
		ue += fmt.Sprintf("DEVTYPE=partition\nPARTN=%d\n", partn)
		if partName != "" {
			ue += "PARTNAME=" + partName + "\n"
		}
		tr.Write(filepath.Join("sys", sysPath, "partition"), fmt.Sprintf("%d\n", partn))
	} else {
		ue += "DEVTYPE=disk\n"
		tr.Mkdir(filepath.Join("sys", sysPath, "device")) // a link to the hardware's node in sysfs
	}
	tr.Write(filepath.Join("sys", sysPath, "uevent"), ue)
	link := filepath.Join(tr.Root, "sys/class/block", name)
	if err := os.Symlink(filepath.Join("../..", sysPath), link); err != nil {
		tr.t.Fatal(err)
	}
	dev := filepath.Join(tr.Root, "dev", name)
	f, err := os.Create(dev)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tr.t.Fatal(err)
	}
	if content != nil {
		if _, err := f.WriteAt(content, 0); err != nil {
			tr.t.Fatal(err)
		}
	}
}

// Mapper adds a device-mapper device (dm-N, major 253) named dmName with the dm uuid given
// ("CRYPT-LUKS2-…" for LUKS, "LVM-…" for an LVM LV), made of slaves, and its /dev/mapper node.
func (tr *Tree) Mapper(n int, dmName, uuid string, slaves ...string) {
	tr.t.Helper()
	name := fmt.Sprintf("dm-%d", n)
	tr.blockDev(name, "devices/virtual/block/"+name, 253, n, 0, "", 32<<20, nil)
	tr.Write(filepath.Join("sys/devices/virtual/block", name, "dm/name"), dmName+"\n")
	tr.Write(filepath.Join("sys/devices/virtual/block", name, "dm/uuid"), uuid+"\n")
	os.RemoveAll(filepath.Join(tr.Root, "sys/devices/virtual/block", name, "device"))
	tr.slaves(name, slaves)
}

// MD adds an md RAID device (mdN, major 9) of the level given, made of slaves.
func (tr *Tree) MD(n int, level string, slaves ...string) {
	tr.t.Helper()
	name := fmt.Sprintf("md%d", n)
	tr.blockDev(name, "devices/virtual/block/"+name, 9, n, 0, "", 32<<20, nil)
	tr.Write(filepath.Join("sys/devices/virtual/block", name, "md/level"), level+"\n")
	os.RemoveAll(filepath.Join(tr.Root, "sys/devices/virtual/block", name, "device"))
	tr.slaves(name, slaves)
}

func (tr *Tree) slaves(name string, slaves []string) {
	tr.t.Helper()
	tr.Mkdir(filepath.Join("sys/devices/virtual/block", name, "slaves"))
	for _, s := range slaves {
		if err := os.Symlink(filepath.Join("../../../../class/block", s), filepath.Join(tr.Root, "sys/devices/virtual/block", name, "slaves", s)); err != nil {
			tr.t.Fatal(err)
		}
	}
}

// Swap lists an active swap area in /proc/swaps (sizes in KiB, as the kernel prints them).
func (tr *Tree) Swap(lines ...string) {
	tr.Write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"+strings.Join(lines, "\n")+"\n")
}

// LUKSHeader is the start of a LUKS volume of version 1 or 2 whose header has uuid (and, for
// LUKS2, label), where blkid and blockdev read them: the magic, the version, the UUID as text
// at 168, LUKS2's label at 24. The rest of the header (key slots, JSON) is zeros.
func LUKSHeader(version int, uuid, label string) []byte {
	b := make([]byte, 4096)
	copy(b, "LUKS\xba\xbe")
	b[7] = byte(version)
	if version == 2 {
		copy(b[24:72], label)
	}
	copy(b[168:208], uuid)
	return b
}
