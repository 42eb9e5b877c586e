package scenario

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The encrypted disks. The host has no device-mapper: they are laid out inside the tools guest
// (toolsguest.go) by the host's own cryptsetup and lvm. Two layouts, one GPT partition holding
// a LUKS2 volume each:
//
//   - the encrypted LVM disk (newLUKS), the layout of the Debian installer's "Guided - use entire
//     disk and set up encrypted LVM", the default on a laptop: in the volume an LVM physical
//     volume of the volume group guest-vg, whose LVs are root (ext4) and swap_1. The installer
//     also makes an ESP and a /boot partition; our guests boot PVH without a boot loader, so
//     /boot is on the root LV. The root file system, made on the host as for every guest
//     (guestdisk, mke2fs -d), is copied into its LV there. Its key is a passphrase.
//   - the encrypted swap disk (newSwapLUKS): the volume swap_crypt is the swap itself, blank for
//     hibernate setup, keyed by a random key file made on the host, as crypttab's
//     "swap_crypt UUID=… /etc/keys/swap.key luks" has it beside a plain root.
//   - the Debian guest's encrypted LVM disk (newDebianLUKS): the first layout with the Debian
//     systemd root in a larger root LV; its /boot is a plain partition of a second disk, as the
//     installer makes it (debian.go).

// LUKS is how an encrypted disk was laid out: names as the Debian installer gives them.
type LUKS struct {
	Partition string // the LUKS partition in the tools guest: /dev/vda1
	PartUUID  string // its GPT PARTUUID
	UUID      string // the LUKS header's UUID (cryptsetup luksUUID): what /init unlocks (UUID=…)
	Name      string // the name it opens as: vda1_crypt, /dev/mapper/vda1_crypt
	// The LVM in the volume; VG "" for a volume that is the swap itself (the encrypted swap disk).
	VG      string // guest-vg
	RootLV  string // root: ext4, the guest's / (and /boot)
	SwapLV  string // swap_1: left blank for hibernate setup to mkswap
	RootMiB int
	SwapMiB int    // the swap LV, or the whole volume without a VG
	Recipe  string // how it is made (luksRecipe, …): the cache's kind, pruned apart
	// The key: a passphrase typed at /init's prompt (LUKSPassphrase), or, when it is "", the key
	// file on the host (luksKeyFileBytes random bytes, a copy beside the disk), set by luksDiskFor.
	Passphrase string
	KeyFile    string
	PBKDF      string // the keyslot's PBKDF, as cryptsetup luksDump says it

	// What the build took (the tools guest's wall time, from power on to off), and the unlock in
	// it (cryptsetup open: the PBKDF under TCG). Cached is true when the disk came from the cache.
	BuildTime, UnlockTime, CopyTime time.Duration
	Cached                          bool
}

// The encrypted disk's constants. The passphrase is a test constant: it is typed at the console
// (harness.VM.AnswerPrompt), never written to a log.
const (
	LUKSPassphrase = "hibernate e2e passphrase"
	luksVG         = "guest-vg"
	luksName       = "vda1_crypt"
	// LUKSRootMiB is the root LV: the size of the minimal guest's root partition (a 1024 MiB
	// disk, 512 MiB of swap, 2 MiB of GPT: 510 MiB), rounded up to LVM's 4 MiB extents.
	LUKSRootMiB = 512
	LUKSSwapMiB = 512
	// luksDebianRootMiB is the Debian guest's root LV: its plain disk's root partition (a 2048 MiB
	// disk less the swap), /boot aside.
	luksDebianRootMiB = 1536
	// luksHeaderMiB is the LUKS2 header cryptsetup writes (its default data offset).
	luksHeaderMiB = 16
	// The encrypted swap disk's volume, and its key file: as many random bytes as a key file
	// made with dd from /dev/urandom for crypttab usually has.
	luksSwapName     = "swap_crypt"
	luksKeyFileBytes = 64
)

// The keyslot's PBKDF: argon2id as cryptsetup makes it, at costs a TCG guest can pay at every
// boot. --pbkdf-force-iterations (4, argon2's least) with 32 MiB and one thread: the same work at
// every unlock whatever the host's load, where --iter-time would benchmark the builder guest and
// give each disk another cost.
var luksPBKDF = []string{"--pbkdf", "argon2id", "--pbkdf-memory", "32768", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"}

// The recipes name the ways the disks are made: change one with the commands, to leave the
// cached disks made another way.
const (
	luksRecipe       = "luks2-aes-xts-plain64/lvm-root-swap_1/e2image/1"
	luksSwapRecipe   = "luks2-aes-xts-plain64/keyfile-64/swap-blank/1"
	luksDebianRecipe = "luks2-aes-xts-plain64/lvm-root-swap_1/e2image/debian/1"
)

// newLUKS is the encrypted LVM disk's layout, its LUKS UUID given (luksUUIDFor): its root tree
// holds the initramfs that names the UUID, so the UUID is fixed before the disk is made.
func newLUKS(luksUUID string) *LUKS {
	return &LUKS{Partition: "/dev/vda1", UUID: luksUUID, Name: luksName, VG: luksVG, RootLV: "root", SwapLV: "swap_1",
		RootMiB: LUKSRootMiB, SwapMiB: LUKSSwapMiB, Passphrase: LUKSPassphrase, Recipe: luksRecipe}
}

// newDebianLUKS is the Debian guest's encrypted LVM disk: newLUKS with the larger root LV.
func newDebianLUKS(luksUUID string) *LUKS {
	l := newLUKS(luksUUID)
	l.RootMiB, l.Recipe = luksDebianRootMiB, luksDebianRecipe
	return l
}

// newSwapLUKS is the encrypted swap disk's layout. Its UUID is made from the cache key by
// luksDiskFor: the initramfs that names it (and its key file) is built after the disk.
func newSwapLUKS() *LUKS {
	return &LUKS{Partition: "/dev/vda1", Name: luksSwapName, SwapMiB: LUKSSwapMiB, Recipe: luksSwapRecipe}
}

// recipe is how the layout is made (luksRecipe, luksSwapRecipe, luksDebianRecipe).
func (l *LUKS) recipe() string { return l.Recipe }

// diskMiB is the size of the layout's disk: 1 MiB of GPT, the LUKS2 header, the volume and
// 1 MiB of backup GPT; with a VG the volume holds the PV's metadata (1 MiB), root, swap, and 4
// MiB to spare for the rounding of extents.
func (l *LUKS) diskMiB() int {
	if l.VG == "" {
		return 1 + luksHeaderMiB + l.SwapMiB + 1
	}
	return 1 + luksHeaderMiB + 1 + l.RootMiB + l.SwapMiB + 1 + 4
}

// mapperName is the device-mapper name of an LV, as lvm makes it: each '-' doubled, then vg-lv.
func mapperName(vg, lv string) string {
	return strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--")
}

// RootDevice is the root LV's device, /dev/mapper/guest--vg-root; "" without a VG (the root is
// not in the volume).
func (l *LUKS) RootDevice() string {
	if l.VG == "" {
		return ""
	}
	return "/dev/mapper/" + mapperName(l.VG, l.RootLV)
}

// SwapDevice is the swap LV's device, /dev/mapper/guest--vg-swap_1; without a VG the volume's
// own, /dev/mapper/swap_crypt.
func (l *LUKS) SwapDevice() string {
	if l.VG == "" {
		return "/dev/mapper/" + l.Name
	}
	return "/dev/mapper/" + mapperName(l.VG, l.SwapLV)
}

// Prompt is what the console shows when /init asks for this volume's passphrase
// (resume.PassphrasePrompt: "Passphrase for vda1_crypt (UUID=…): ").
func (l *LUKS) Prompt() string { return fmt.Sprintf(resume.PassphrasePrompt, l.Name, "UUID="+l.UUID) }

// InitramfsFlags are the flags of `hibernate initramfs build` for this disk, as a user would give
// them for a cross build: the volume to unlock (crypttab's way: name, source, options: the key
// file, copied in) and the LVs to activate. The one place they are written.
func (l *LUKS) InitramfsFlags() []string {
	if l.VG == "" {
		return []string{"--luks", l.Name + "=UUID=" + l.UUID + ",keyfile=" + l.KeyFile}
	}
	return []string{"--luks", l.Name + "=UUID=" + l.UUID + ",discard", "--lvm", l.VG + "/" + l.RootLV, "--lvm", l.VG + "/" + l.SwapLV}
}

// luksDisk is a built encrypted disk: the image and its layout.
type luksDisk struct {
	Disk   string `json:"-"` // the copy made for the caller
	Layout guestdisk.Layout
	LUKS   LUKS
}

// luksKeyFileName is the key file in a cache entry, beside its disk.img.
const luksKeyFileName = "volume.key"

// luksCache holds the encrypted disks across runs ($HIBERNATE_CACHE/luksdisk/KEY), each keyed
// by all it is made from. The minimal root tree holds this build's binaries, so its disk is
// found again only for the same tree (a second make test of the same commit); the Debian guest's
// holds none (it installs the .deb from another disk), so its disk serves every commit. It keeps
// two disks of each recipe (the most recently used): an encrypted LVM disk is about 70 MB on the
// host (the LUKS header, the LVM metadata and what e2image wrote; the rest is holes), the Debian
// one some 700 MB, a swap disk a few.
var luksCache = diskCache{name: "luksdisk", keep: 2, kindOf: func(meta []byte) string {
	var d luksDisk
	_ = json.Unmarshal(meta, &d) // one that does not parse goes with the oldest kind
	return or(d.LUKS.Recipe, luksRecipe)
}}

// treeHash hashes a tree: every path, its type and mode, and each file's contents (a symlink's
// target), in path order.
func treeHash(tree string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			io.WriteString(h, t)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		h.Write([]byte{0})
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// luksUUIDFor is the LUKS UUID of a disk made from key: fixed by what the disk is made of, so
// that the initramfs (whose flags name it) can be built before the disk, and the same inputs make
// the same disk.
func luksUUIDFor(key string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("hibernate-luksdisk:"+key)).String()
}

// luksDiskFor writes to dst (sparse) the encrypted disk l describes (newLUKS with tree in its
// root LV, newSwapLUKS with tree ""), and returns it: made by the tools guest, or copied from the
// cache, where it is made once for all that is made of the same. l.UUID is the UUID its header
// must have (luksUUIDFor), or "": then it is made from the cache key, and set. A volume keyed by
// a key file gets a copy of it beside dst (LUKS.KeyFile). say reports progress.
func luksDiskFor(ctx context.Context, a Artifacts, l *LUKS, tree, dst string, say func(string, ...any)) (*luksDisk, error) {
	key, err := toolsDiskKey(a, l.recipe(), struct {
		L     *LUKS
		PBKDF []string
		Disk  int
	}{l, luksPBKDF, l.diskMiB()}, tree)
	if err != nil {
		return nil, err
	}
	if l.UUID == "" {
		l.UUID = luksUUIDFor(key)
	}
	entry := filepath.Join(luksCache.dir(), key)
	copies := map[string]string{"disk.img": dst}
	keyCopy := ""
	if l.Passphrase == "" {
		// The key file goes with the disk, mode 0600 as luksKey wrote it in the entry.
		keyCopy = filepath.Join(filepath.Dir(dst), l.Name+".key")
		copies[luksKeyFileName] = keyCopy
	}
	d := &luksDisk{}
	valid := func() bool {
		_, keyErr := os.Stat(filepath.Join(entry, luksKeyFileName))
		return d.LUKS.UUID == l.UUID && (l.Passphrase != "" || keyErr == nil)
	}
	cached, err := luksCache.get(ctx, key, d, valid, func(ctx context.Context, entry string) error {
		*d = luksDisk{LUKS: *l}
		return buildLUKSDisk(ctx, a, tree, entry, d, say)
	}, copies, say)
	if err != nil {
		return nil, err
	}
	if cached {
		d.LUKS.Cached = true
		say("encrypted disk from the cache, %s (made in %s)", entry, d.LUKS.BuildTime.Round(100*time.Millisecond))
	}
	d.Disk, d.LUKS.KeyFile = dst, keyCopy
	return d, nil
}

// buildLUKSDisk lays the disk out in the tools guest, into the cache entry's folder: it boots
// with the blank disk (vda, GPT of one partition made here) and, for the encrypted LVM disk, the
// root file system made from tree (vdb, read-only); puts the key in (luksKey); makes the LUKS2
// volume and opens it; fills it (fillLVM, blankSwap); closes everything and powers off.
func buildLUKSDisk(ctx context.Context, a Artifacts, tree, entry string, d *luksDisk, say func(string, ...any)) error {
	l := &d.LUKS
	disk := filepath.Join(entry, "disk.img")
	var err error
	if d.Layout, err = guestdisk.Blank(guestdisk.Spec{Path: disk, SizeMiB: l.diskMiB()}); err != nil {
		return err
	}
	l.PartUUID = d.Layout.RootPartUUID
	disks := []harness.Disk{{Path: disk}}
	type part struct {
		name string
		size int64
	}
	parts := []part{{"vda1", d.Layout.RootSize}}
	fill := blankSwap
	if tree != "" {
		rootImg := filepath.Join(entry, "root.img")
		if _, err := guestdisk.Build(guestdisk.Spec{Path: rootImg, SizeMiB: l.RootMiB + 2, RootSizeMiB: l.RootMiB, RootTree: tree}); err != nil {
			return fmt.Errorf("the root file system for the encrypted disk: %w", err)
		}
		defer os.Remove(rootImg)
		disks = append(disks, harness.Disk{Path: rootImg, ReadOnly: true})
		parts = append(parts, part{"vdb1", int64(l.RootMiB) << 20})
		fill = fillLVM
	}
	start := time.Now()
	g, err := bootToolsGuest(ctx, a, "luks-disk-builder", disks, say)
	if g != nil {
		defer g.vm.Kill()
	}
	if err != nil {
		return err
	}
	say("tools guest up %s after power on: %s", time.Since(start).Round(100*time.Millisecond), g.vm.ConsoleLogPath())
	for _, p := range parts {
		if got, err := g.partitionBytes(ctx, p.name); err != nil || got != p.size {
			return fmt.Errorf("the tools guest's %s: %d bytes (%v), want %d", p.name, got, err, p.size)
		}
	}
	keyFile, err := luksKey(ctx, g, l, filepath.Join(entry, luksKeyFileName))
	if err != nil {
		return err
	}
	t0 := time.Now()
	format := append([]string{"/usr/sbin/cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64",
		"--uuid", l.UUID, "--key-file", keyFile}, luksPBKDF...)
	if _, err := g.run(ctx, append(format, l.Partition)...); err != nil {
		return err
	}
	say("cryptsetup luksFormat %s (%s)", l.Partition, time.Since(t0).Round(10*time.Millisecond))
	r, err := g.run(ctx, "/usr/sbin/cryptsetup", "luksUUID", l.Partition)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(r.Stdout); got != l.UUID {
		return g.vm.Fail("cryptsetup luksUUID says %s, luksFormat was given %s", got, l.UUID)
	}
	if r, err = g.run(ctx, "/usr/sbin/cryptsetup", "luksDump", l.Partition); err != nil {
		return err
	}
	l.PBKDF = keyslotPBKDF(r.Stdout)
	t0 = time.Now()
	if _, err := g.run(ctx, "/usr/sbin/cryptsetup", "open", "--key-file", keyFile, l.Partition, l.Name); err != nil {
		return err
	}
	l.UnlockTime = time.Since(t0)
	say("cryptsetup open %s as %s: %s (keyslot %s)", l.Partition, l.Name, l.UnlockTime.Round(10*time.Millisecond), l.PBKDF)
	if err := fill(ctx, g, l, say); err != nil {
		return err
	}
	if err := closeLUKS(ctx, g, l); err != nil {
		return err
	}
	if err := g.powerOff(ctx); err != nil {
		return err
	}
	l.BuildTime = time.Since(start)
	say("encrypted disk %s made in %s (LUKS UUID %s)", disk, l.BuildTime.Round(100*time.Millisecond), l.UUID)
	return nil
}

// luksKey puts the volume's key into the tools guest and returns its path there: its passphrase,
// asked on the console and typed by the harness (the typing /init's prompt will need, proved
// here), or, without one, luksKeyFileBytes random bytes made on the host and kept at hostKey,
// beside the disk in the cache.
func luksKey(ctx context.Context, g *toolsGuest, l *LUKS, hostKey string) (string, error) {
	const keyFile = "/run/volume.key"
	if l.Passphrase == "" {
		key := make([]byte, luksKeyFileBytes)
		if _, err := rand.Read(key); err != nil {
			return "", err
		}
		if err := os.WriteFile(hostKey, key, 0o600); err != nil {
			return "", err
		}
		return keyFile, g.vm.WriteFile(ctx, keyFile, key, 0o600)
	}
	asked := make(chan error, 1)
	prompt := "Passphrase for the new LUKS volume " + l.Name + ": "
	go func() {
		_, err := g.run(ctx, toolsAgent, "askpass", "/dev/ttyS0", prompt, keyFile)
		asked <- err
	}()
	if _, _, err := g.vm.AnswerPrompt(ctx, -1, prompt, l.Passphrase+"\n", "<passphrase>"); err != nil {
		return "", err
	}
	if err := <-asked; err != nil {
		return "", err
	}
	if got, err := g.vm.ReadFile(ctx, keyFile); err != nil || string(got) != l.Passphrase {
		return "", g.vm.Fail("the passphrase typed at the console came as %d bytes (%v), not the %d typed", len(got), err, len(l.Passphrase))
	}
	return keyFile, nil
}

// fillLVM makes the encrypted LVM disk's PV, VG and LVs in the open volume, and copies the root
// file system (vdb1) into its LV.
func fillLVM(ctx context.Context, g *toolsGuest, l *LUKS, say func(string, ...any)) error {
	pv := "/dev/mapper/" + l.Name
	for _, cmd := range [][]string{
		{"pvcreate", "--yes", pv},
		{"vgcreate", "--yes", l.VG, pv},
		{"lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "-n", l.RootLV, "-L", fmt.Sprintf("%dm", l.RootMiB), l.VG},
		{"lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "-n", l.SwapLV, "-L", fmt.Sprintf("%dm", l.SwapMiB), l.VG},
	} {
		if _, err := g.lvm(ctx, cmd...); err != nil {
			return err
		}
	}
	if err := checkLVs(ctx, g, l); err != nil {
		return err
	}
	t0 := time.Now()
	// e2image -ra to a block device writes every block the file system uses, its whole inode
	// tables and its zeroed blocks too (it skips zeros only into a file): what reads as zeros in
	// the image does in the LV, and the free blocks, left as they are, are never read. A dd of the
	// whole LV took 50 s here (10 MB/s through dm-crypt under TCG); this writes about a tenth.
	if _, err := g.run(ctx, "/sbin/e2image", "-ra", "/dev/vdb1", l.RootDevice()); err != nil {
		return err
	}
	l.CopyTime = time.Since(t0)
	say("root file system copied into %s by e2image -ra (%s)", l.RootDevice(), l.CopyTime.Round(10*time.Millisecond))
	_, err := g.run(ctx, "/sbin/e2fsck", "-fn", l.RootDevice())
	return err
}

// blankSwap leaves nothing in the swap volume for hibernate setup to refuse: its first and last
// MiB zeroed, where the signatures a probe looks for are (the blank disk's zeros read through
// dm-crypt as noise). The volume must be SwapMiB, as cryptsetup status says.
func blankSwap(ctx context.Context, g *toolsGuest, l *LUKS, say func(string, ...any)) error {
	r, err := g.run(ctx, "/usr/sbin/cryptsetup", "status", l.Name)
	if err != nil {
		return err
	}
	if got := statusSectors(r.Stdout); got != int64(l.SwapMiB)<<11 {
		return g.vm.Fail("cryptsetup status %s: %d sectors, want %d MiB:\n%s", l.Name, got, l.SwapMiB, r.Stdout)
	}
	for _, seek := range []int{0, l.SwapMiB - 1} {
		if _, err := g.run(ctx, "/bin/dd", "if=/dev/zero", "of="+l.SwapDevice(), "bs=1M", "count=1", fmt.Sprintf("seek=%d", seek), "conv=fsync", "status=none"); err != nil {
			return err
		}
	}
	say("%s: %d MiB, its first and last MiB zeroed", l.SwapDevice(), l.SwapMiB)
	return nil
}

// statusSectors is the size line of a cryptsetup status ("  size:    1048576 sectors"), -1 if none.
func statusSectors(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "size:" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// checkLVs checks the LVs' sizes as lvm reports them, and that their /dev/mapper nodes are there
// (made by libdevmapper: there is no udev).
func checkLVs(ctx context.Context, g *toolsGuest, l *LUKS) error {
	r, err := g.lvm(ctx, "lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size", l.VG)
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			sizes[f[0]], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	if sizes[l.RootLV] != int64(l.RootMiB)<<20 || sizes[l.SwapLV] != int64(l.SwapMiB)<<20 || len(sizes) != 2 {
		return g.vm.Fail("lvs %s: %v, want %s %d MiB and %s %d MiB", l.VG, sizes, l.RootLV, l.RootMiB, l.SwapLV, l.SwapMiB)
	}
	// The nodes /init will name (root=, setup --device), made by libdevmapper: there is no udev.
	for _, dev := range []string{l.RootDevice(), l.SwapDevice()} {
		if _, err := g.run(ctx, "/bin/dd", "if="+dev, "of=/dev/null", "bs=4096", "count=1", "status=none"); err != nil {
			return err
		}
	}
	return nil
}

// closeLUKS deactivates the VG (if any) and closes the LUKS volume.
func closeLUKS(ctx context.Context, g *toolsGuest, l *LUKS) error {
	if l.VG != "" {
		if _, err := g.lvm(ctx, "vgchange", "-an", l.VG); err != nil {
			return err
		}
	}
	_, err := g.run(ctx, "/usr/sbin/cryptsetup", "close", l.Name)
	return err // the agent's PowerOff syncs
}

// keyslotPBKDF is the first keyslot's PBKDF line of a luksDump, with its costs:
// "argon2id, time 4, memory 32768, threads 1".
func keyslotPBKDF(dump string) string {
	var out []string
	in := false
	for _, line := range strings.Split(dump, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Keyslots:"):
			in = true
		case strings.HasPrefix(line, "Tokens:"), strings.HasPrefix(line, "Digests:"):
			in = false
		case in && (strings.HasPrefix(t, "PBKDF:") || strings.HasPrefix(t, "Time cost:") || strings.HasPrefix(t, "Memory:") || strings.HasPrefix(t, "Threads:")):
			_, v, _ := strings.Cut(t, ":")
			k, _, _ := strings.Cut(t, ":")
			if k == "PBKDF" {
				out = append(out, strings.TrimSpace(v))
			} else {
				out = append(out, strings.ToLower(k)+" "+strings.TrimSpace(v))
			}
		}
		if len(out) == 4 {
			break
		}
	}
	return strings.Join(out, ", ")
}
