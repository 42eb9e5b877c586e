package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// luksDiskT writes the encrypted disk of the default EncryptedLVM tree (the one
// TestEncryptedLVMRoundTrip boots: made once for both, cached) into dir.
func luksDiskT(t *testing.T, ctx context.Context, a Artifacts, dir string) *luksDisk {
	t.Helper()
	say := func(format string, args ...any) { t.Logf("luks: "+format, args...) }
	tree := filepath.Join(dir, "root")
	l, initrdErr, err := encryptedTree(ctx, a, tree, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if initrdErr != nil {
		say("the disk's /boot has no initramfs: %v", initrdErr)
	}
	d, err := luksDiskFor(ctx, a, l, tree, filepath.Join(dir, "disk.img"), say)
	if err != nil {
		t.Fatalf("the encrypted disk: %v", err)
	}
	return d
}

// TestEncryptedLVMDiskOpensInAFreshGuest: the encrypted LVM disk that the tools guest laid out
// (luksdisk.go) opens in another boot, with the passphrase, as /init will open it without
// anything of the first boot: the LUKS UUID and PBKDF recorded, the VG's two LVs at their sizes
// with the /dev/mapper names that root= and setup --device give, root's ext4 whole and holding
// this build's agent. It needs nothing of /init's LUKS support.
func TestEncryptedLVMDiskOpensInAFreshGuest(t *testing.T) {
	ctx := timeout(t, 5*time.Minute)
	a := artifacts(t)
	dir, err := freshDir(a, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	d := luksDiskT(t, ctx, a, dir)
	l := d.LUKS
	t.Logf("disk %s: LUKS UUID %s, keyslot %s; made in %s (unlock %s, copy %s), from the cache: %v",
		d.Disk, l.UUID, l.PBKDF, l.BuildTime.Round(100*time.Millisecond), l.UnlockTime.Round(10*time.Millisecond), l.CopyTime.Round(10*time.Millisecond), l.Cached)
	if !strings.HasPrefix(l.PBKDF, "argon2id, time cost 4, memory 32768") {
		t.Errorf("keyslot PBKDF %q, want argon2id at the test's costs", l.PBKDF)
	}
	say := func(format string, args ...any) { t.Logf(format, args...) }
	start := time.Now()
	g, err := bootToolsGuest(ctx, a, t.Name(), []harness.Disk{{Path: d.Disk}}, say)
	if g != nil {
		killAtEnd(t, g.vm)
	}
	if err != nil {
		t.Fatal(err)
	}
	run := func(argv ...string) harness.Result {
		t.Helper()
		r, err := g.run(ctx, argv...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if got := strings.TrimSpace(run("/usr/sbin/cryptsetup", "luksUUID", l.Partition).Stdout); got != l.UUID {
		t.Errorf("luksUUID %s, recorded %s", got, l.UUID)
	}
	if err := g.vm.WriteFile(ctx, "/run/passphrase", []byte(l.Passphrase), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	run("/usr/sbin/cryptsetup", "open", "--allow-discards", "--key-file", "/run/passphrase", l.Partition, l.Name)
	unlock := time.Since(t0)
	// As /init will: the LVs it is given, not the whole VG.
	if _, err := g.lvm(ctx, "lvchange", "-ay", l.VG+"/"+l.RootLV, l.VG+"/"+l.SwapLV); err != nil {
		t.Fatal(err)
	}
	if err := checkLVs(ctx, g, &l); err != nil {
		t.Fatal(err)
	}
	run("/sbin/e2fsck", "-fn", l.RootDevice())
	run("/sbin/debugfs", "-R", "dump -p "+GuestAgentInit+" /run/agent", l.RootDevice())
	got, _, _ := strings.Cut(run("/usr/bin/sha256sum", "/run/agent").Stdout, " ")
	want, err := sha256File(a.Agent)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%s in the root LV has sha256 %s, not this build's agent's %s", GuestAgentInit, got, want)
	}
	if err := closeLUKS(ctx, g, &l); err != nil {
		t.Fatal(err)
	}
	if err := g.powerOff(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("opened in a fresh guest: cryptsetup open %s, the whole check %s", unlock.Round(10*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

// encryptedHibernated builds an EncryptedLVM guest, boots it (the passphrase typed at /init's
// prompt), makes its swap in the swap LV, starts the job and hibernates it.
func encryptedHibernated(t *testing.T, ctx context.Context, opts ...Option) *Machine {
	t.Helper()
	m, err := New(ctx, artifacts(t), t.Name(), append([]Option{Output(testWriter{t}), EncryptedLVM()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	vm, _ := boot(t, ctx, m, "")
	do(t, ctx, vm, m.SetupSwap, m.StartJob, m.HibernateCheck, m.HibernateNow)
	return m
}

// luksHeadRange is where the LUKS2 header (16 MiB) and, behind it in the volume, the PV's label
// and LVM metadata (1 MiB) are on the guest disk: encrypted, they are the same bytes exactly
// when their plaintext is the same.
func luksHeadRange(m *Machine) (off, n int64) { return m.Guest.Layout.RootStart, 17 << 20 }

// On the Debian installer's encrypted LVM layout, the job survives hibernate and resume: /init
// asks for the passphrase, takes a wrong one and asks again, opens the LUKS volume, activates
// the root and swap LVs and resumes from the swap LV. The LUKS header and the LVM metadata are
// byte for byte what they were at power-off. Hibernated again, a boot with noresume discards
// the image and boots the encrypted root. Three wrong passphrases power the machine off, the
// disk unchanged.
func TestEncryptedLVMRoundTrip(t *testing.T) {
	ctx := timeout(t, 8*time.Minute)
	m := encryptedHibernated(t, ctx)
	atPowerOff := filepath.Join(filepath.Dir(m.Guest.Disk), "at-power-off.img")
	if err := guestdisk.CopySparse(atPowerOff, m.Guest.Disk); err != nil {
		t.Fatal(err)
	}
	m.Passphrases = []string{"not the passphrase", m.Guest.LUKS.Passphrase}
	vm := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	for _, want := range []string{fmt.Sprintf(resume.WrongPassphrase, luksName, 1, resume.Tries), resume.Unlocked + luksName,
		resume.Activated + luksVG + "/root " + luksVG + "/swap_1"} {
		if _, err := vm.WaitConsole(ctx, want); err != nil {
			t.Fatalf("no %q on the console: %v", want, err)
		}
	}
	t.Logf("hibernate %s, resume %s (a wrong passphrase, then the right one)", m.Summary.HibernateTime, m.Summary.ResumeTime)
	do(t, ctx, vm, m.HibernateNow) // the job that was resumed, hibernated again
	off, n := luksHeadRange(m)
	if err := sameRange(atPowerOff, m.Guest.Disk, off, n); err != nil {
		t.Errorf("the LUKS header or the LVM metadata changed: %v", err)
	}
	vm, info := boot(t, ctx, m, m.Setup.KernelParams+" noresume")
	wantFreshBoot(t, ctx, m, vm, info, resume.NoResume+resume.Discarding)
	if _, err := vm.WaitConsole(ctx, resume.Discarded); err != nil {
		t.Fatal(err)
	}
	mounts, err := vm.ReadFile(ctx, "/proc/mounts")
	if err != nil || !strings.Contains(string(mounts), "/dev/dm-") {
		t.Errorf("the fresh boot's root is not the root LV: /proc/mounts %q, %v", mounts, err)
	}
	powerOff(t, ctx, vm)
	wrongPassphrasesPowerOff(t, ctx, m)
}

// wrongPassphrasesPowerOff boots m and types a wrong passphrase at each of /init's tries: /init
// says it gives up, the machine powers off, and the disk holds every byte it held before.
func wrongPassphrasesPowerOff(t *testing.T, ctx context.Context, m *Machine) {
	t.Helper()
	before := filepath.Join(filepath.Dir(m.Guest.Disk), "before-wrong-passphrases.img")
	if err := guestdisk.CopySparse(before, m.Guest.Disk); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < resume.Tries; i++ {
		m.Passphrases = append(m.Passphrases, fmt.Sprintf("wrong %d", i+1))
	}
	vm, err := m.powerOn(ctx, m.Setup.KernelParams)
	killAtEnd(t, vm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitConsole(ctx, resume.NoPassphraseWorked+luksName); err != nil {
		t.Fatalf("no %q after %d wrong passphrases: %v", resume.NoPassphraseWorked, resume.Tries, err)
	}
	if _, err := vm.WaitExit(ctx); err != nil {
		t.Fatalf("the guest did not power off after %d wrong passphrases: %v", resume.Tries, err)
	}
	if err := sameBytes(before, m.Guest.Disk); err != nil {
		t.Errorf("the disk changed in a boot that opened nothing: %v\nlog: %s", err, vm.ConsoleLogPath())
	}
}

// The image was made by the amd64 kernel; the machine boots the cloud kernel, with an initramfs
// of ours for it. /init asks for the passphrase once, opens the volume, activates the LVs, reads
// the record, copies the amd64 kernel from the root LV and kexecs into it: at that moment the
// disk holds every byte it held at power-off (unlocking, activating and the read-only mount
// wrote nothing). The amd64 kernel's /init opens the volume with the key passed in memory, asks
// nothing, and resumes the job.
func TestEncryptedLVMKexecAsksOnce(t *testing.T) {
	ctx := timeout(t, 8*time.Minute)
	m := encryptedHibernated(t, ctx)
	atPowerOff := filepath.Join(filepath.Dir(m.Guest.Disk), "at-power-off.img")
	if err := guestdisk.CopySparse(atPowerOff, m.Guest.Disk); err != nil {
		t.Fatal(err)
	}
	vm := stoppedAtKexec(t, ctx, m, m.Guest.LUKS.InitramfsFlags()...)
	for _, want := range []string{resume.Unlocked + luksName, resume.Activated, resume.MountedBootReadOnly, resume.KeysPassed + "1"} {
		if _, err := vm.WaitConsole(ctx, want); err != nil {
			t.Fatalf("the kexec line came without %q before it: %v", want, err)
		}
	}
	if err := sameBytes(atPowerOff, m.Guest.Disk); err != nil {
		t.Fatalf("the disk changed before the image was resumed: %v\nlog: %s", err, vm.ConsoleLogPath())
	}
	if _, err := vm.QMP(ctx, "cont", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitConsole(ctx, resume.Unlocked+luksName+" (/dev/vda1) with the key passed by the boot before the kexec"); err != nil {
		t.Fatalf("the kernel kexec'ed into did not open the volume with the key passed: %v\nlog: %s", err, vm.ConsoleLogPath())
	}
	wctx, cancel := m.within(ctx)
	defer cancel()
	after, err := waitJobLine(wctx, vm, -1, func(demojob.Line) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	m.Summary.After = after
	if err := m.CheckJobWentOn(ctx, vm); err != nil {
		t.Fatal(err)
	}
	prompts := 0
	for _, l := range vm.ConsoleLines() {
		if strings.Contains(l, m.Guest.LUKS.Prompt()) {
			prompts++
		}
	}
	if prompts != 1 {
		t.Errorf("the passphrase was asked %d times, want once", prompts)
	}
}

// Ubuntu's way: the swap is a file on the encrypted LVM root. /init opens the volume, activates
// the LVs and resumes from the root LV at the file's resume_offset.
func TestEncryptedLVMSwapFile(t *testing.T) {
	ctx := timeout(t, 6*time.Minute)
	m := encryptedHibernated(t, ctx, SwapFile("/swapfile", "256M"))
	if !strings.Contains(m.Setup.KernelParams, "resume_offset=") {
		t.Fatalf("setup --file on the root LV gave %q, no resume_offset=", m.Setup.KernelParams)
	}
	vm := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	if _, err := vm.WaitConsole(ctx, resume.Activated); err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed from the swap file on the encrypted root in %s", m.Summary.ResumeTime)
}

// sameRange says whether n bytes at off are the same in two files.
func sameRange(a, b string, off, n int64) error {
	ba, bb := make([]byte, n), make([]byte, n)
	for _, f := range []struct {
		path string
		buf  []byte
	}{{a, ba}, {b, bb}} {
		fh, err := os.Open(f.path)
		if err != nil {
			return err
		}
		_, err = fh.ReadAt(f.buf, off)
		fh.Close()
		if err != nil {
			return fmt.Errorf("read %d bytes at %d of %s: %w", n, off, f.path, err)
		}
	}
	for i := range ba {
		if ba[i] != bb[i] {
			return fmt.Errorf("%s differs from %s at byte %d (of the %d from %d)", b, a, off+int64(i), n, off)
		}
	}
	return nil
}

// TestEncryptedLVMNames: the names the encrypted disks' boots use, without a guest.
func TestEncryptedLVMNames(t *testing.T) {
	l := newLUKS("7ea252aa-519f-5f3e-881a-6d4d3259bf31")
	m := &Machine{Guest: Guest{LUKS: l}, Config: Config{root: encryptedRoot, Cmdline: "hibernate=nocompress"}}
	for _, c := range []struct{ what, got, want string }{
		{"root", l.RootDevice(), "/dev/mapper/guest--vg-root"},
		{"swap", l.SwapDevice(), "/dev/mapper/guest--vg-swap_1"},
		{"setup --device", m.swapDevice(), "/dev/mapper/guest--vg-swap_1"},
		{"command line", m.BaseCmdline(), "root=/dev/mapper/guest--vg-root rw hibernate=nocompress"},
		{"initramfs flags", strings.Join(l.InitramfsFlags(), " "),
			"--luks vda1_crypt=UUID=7ea252aa-519f-5f3e-881a-6d4d3259bf31,discard --lvm guest-vg/root --lvm guest-vg/swap_1"},
		{"prompt", l.Prompt(), "Passphrase for vda1_crypt (UUID=7ea252aa-519f-5f3e-881a-6d4d3259bf31): "},
		{"mapper name of a dashed LV", mapperName("a-b", "c-d"), "a--b-c--d"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	// The encrypted swap disk: the volume is the swap, the root the plain partition's.
	s := newSwapLUKS()
	s.UUID, s.KeyFile = "0b8c2f6e-3d1a-5e4b-9c7d-2a1b3c4d5e6f", "/guests/T/swap_crypt.key"
	ms := &Machine{Guest: Guest{LUKS: s, Layout: guestdisk.Layout{RootPartUUID: "1f2e3d4c"}}, Config: Config{root: minimalRoot}}
	for _, c := range []struct{ what, got, want string }{
		{"swap setup --device", ms.swapDevice(), "/dev/mapper/swap_crypt"},
		{"swap root", s.RootDevice(), ""},
		{"swap command line", ms.BaseCmdline(), "root=PARTUUID=1f2e3d4c rw"},
		{"swap initramfs flags", strings.Join(s.InitramfsFlags(), " "),
			"--luks swap_crypt=UUID=0b8c2f6e-3d1a-5e4b-9c7d-2a1b3c4d5e6f,keyfile=/guests/T/swap_crypt.key"},
		{"swap recipe", s.recipe(), luksSwapRecipe},
		{"swap disk", fmt.Sprint(s.diskMiB()), "530"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	for _, m := range []*Machine{m, ms} {
		if _, err := m.SwapArea(); err == nil || !strings.Contains(err.Error(), "cannot read") {
			t.Errorf("SwapArea of an encrypted swap: %v", err)
		}
	}
	if l.recipe() != luksRecipe || l.diskMiB() != 1047 {
		t.Errorf("the encrypted LVM disk's recipe %s, %d MiB", l.recipe(), l.diskMiB())
	}
	// The Debian guest's: the larger root, its own recipe (cached apart), the installer's files.
	d := newDebianLUKS("5c1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6")
	if d.recipe() != luksDebianRecipe || d.diskMiB() != 2071 || d.RootDevice() != l.RootDevice() {
		t.Errorf("the Debian encrypted LVM disk's recipe %s, %d MiB, root %s", d.recipe(), d.diskMiB(), d.RootDevice())
	}
	files := debianLUKSFiles(d)
	if got, want := string(files[0].Data), "vda1_crypt UUID=5c1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6 none luks,discard\n"; files[0].Path != "/etc/crypttab" || got != want {
		t.Errorf("%s: %q, want %q", files[0].Path, got, want)
	}
	if fstab := string(files[1].Data); files[1].Path != "/etc/fstab" || !strings.Contains(fstab, "\n/dev/mapper/guest--vg-root / ext4 errors=remount-ro 0 1\n") ||
		!strings.Contains(fstab, "\nLABEL=boot /boot ext4 defaults 0 2\n") {
		t.Errorf("%s:\n%s", files[1].Path, fstab)
	}
	if u := luksUUIDFor("k"); u != luksUUIDFor("k") || u == luksUUIDFor("k2") || len(u) != 36 {
		t.Errorf("luksUUIDFor: %s", u)
	}
}

func TestKeyslotPBKDF(t *testing.T) {
	dump := `LUKS header information
Version:       	2
Data segments:
  0: crypt
	offset: 16777216 [bytes]
	cipher: aes-xts-plain64
	sector: 512 [bytes]

Keyslots:
  0: luks2
	Key:        512 bits
	Priority:   normal
	Cipher:     aes-xts-plain64
	Cipher key: 512 bits
	PBKDF:      argon2id
	Time cost:  4
	Memory:     32768
	Threads:    1
	Salt:       00 11
Tokens:
Digests:
  0: pbkdf2
	Hash:       sha256
`
	if got, want := keyslotPBKDF(dump), "argon2id, time cost 4, memory 32768, threads 1"; got != want {
		t.Errorf("keyslotPBKDF = %q, want %q", got, want)
	}
}

// A swap partition of its own, a LUKS2 volume opened with a key file, beside a plain root, as
// /etc/crypttab's "swap_crypt UUID=… /etc/keys/swap.key luks" has it: the initramfs built with
// --luks swap_crypt=UUID=…,keyfile=… holds the key file (0600, its folder 0700) and is written
// 0600, as build says; /init opens the volume with it at every boot and asks for no passphrase;
// setup makes the swap area in /dev/mapper/swap_crypt, check passes (resume-stack: the volume on
// the partition, which our initramfs unlocks), and the job survives hibernate and resume.
func TestEncryptedSwapKeyFile(t *testing.T) {
	ctx := timeout(t, 5*time.Minute)
	start := time.Now()
	m := newMachine(t, ctx, EncryptedSwapWithKeyFile())
	l := m.Guest.LUKS
	t.Logf("swap disk: from the cache %v, made in %s (unlock %s, keyslot %s); the guest built in %s",
		l.Cached, l.BuildTime.Round(100*time.Millisecond), l.UnlockTime.Round(10*time.Millisecond), l.PBKDF, m.Summary.BuildTime.Round(100*time.Millisecond))
	checkKeyFileInitramfs(t, m)

	unlocked := fmt.Sprintf("%s%s (/dev/vdb1) %s", resume.Unlocked, l.Name, resume.WithKeyFile)
	vm, _ := boot(t, ctx, m, "")
	if _, err := vm.WaitConsole(ctx, unlocked); err != nil {
		t.Fatalf("no %q at the first boot: %v", unlocked, err)
	}
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	r, err := run(ctx, vm, m.Command("check", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct { // hibernate.Report
		Ready  bool
		Checks []struct{ Name, Detail string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.Ready {
		t.Fatalf("hibernate check --json: ready %v (%v):\n%s", rep.Ready, err, r.Stdout)
	}
	for _, c := range rep.Checks {
		if c.Name == "resume-stack" {
			t.Logf("check's resume-stack: %s", c.Detail)
			if !strings.Contains(c.Detail, l.Name) || !strings.Contains(c.Detail, "vdb1") {
				t.Errorf("resume-stack does not name the volume on its partition: %q", c.Detail)
			}
		}
	}
	noPassphraseAsked(t, vm)
	do(t, ctx, vm, m.HibernateNow)

	vm = resumeBoot(t, ctx, m, m.Setup.KernelParams)
	if _, err := vm.WaitConsole(ctx, unlocked); err != nil {
		t.Fatalf("no %q at the resume: %v", unlocked, err)
	}
	noPassphraseAsked(t, vm)
	t.Logf("hibernate %s, resume %s (the volume opened with its key file); the whole test %s",
		m.Summary.HibernateTime.Round(100*time.Millisecond), m.Summary.ResumeTime.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

// checkKeyFileInitramfs checks what `hibernate initramfs build` made for the encrypted swap: the
// file mode 0600, said so; its config naming the volume by its LUKS UUID with the key file in
// the archive; that file the host's key, mode 0600.
func checkKeyFileInitramfs(t *testing.T, m *Machine) {
	t.Helper()
	l, g := m.Guest.LUKS, m.Guest
	st, err := os.Stat(g.BuiltInitrd)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s is mode %o, want 0600: it holds a key file", g.BuiltInitrd, st.Mode().Perm())
	}
	keyPath := "/" + initramfs.KeyFileDir + "/" + l.Name + ".key"
	if want := "it holds key files (" + keyPath + "): written mode 0600"; !strings.Contains(g.BuildSaid, want) {
		t.Errorf("initramfs build did not say %q:\n%s", want, g.BuildSaid)
	}
	img, err := os.ReadFile(g.BuiltInitrd)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := initramfs.Inspect(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := ic.Config()
	want := config.Volume{Name: l.Name, Source: "UUID=" + l.UUID, KeyFile: keyPath}
	if len(cfg.Volumes) != 1 || cfg.Volumes[0] != want {
		t.Errorf("the initramfs's volumes %+v, want %+v", cfg.Volumes, want)
	}
	key, err := os.ReadFile(l.KeyFile)
	if err != nil || len(key) != luksKeyFileBytes {
		t.Fatalf("the host's key file %s: %d bytes, %v", l.KeyFile, len(key), err)
	}
	recs := map[string]cpio.Record{}
	if err := compressedRecords(img, recs); err != nil {
		t.Fatalf("%s: %v", g.BuiltInitrd, err)
	}
	k, dir := recs[strings.TrimPrefix(keyPath, "/")], recs[initramfs.KeyFileDir]
	if k.ReaderAt == nil || k.Mode != cpio.S_IFREG|0o600 || dir.Mode != cpio.S_IFDIR|0o700 {
		t.Fatalf("in the archive: %s mode %o, its folder %o; want 0600 in 0700", keyPath, k.Mode, dir.Mode)
	}
	if got, err := io.ReadAll(io.NewSectionReader(k.ReaderAt, 0, int64(k.FileSize))); err != nil || !bytes.Equal(got, key) {
		t.Errorf("%s in the archive is not the host's key file %s (%v)", keyPath, l.KeyFile, err)
	}
}

// compressedRecords puts into recs the records of the zstd part of an initramfs hibernate built
// (after the uncompressed archive of its config, which Inspect stops at).
func compressedRecords(img []byte, recs map[string]cpio.Record) error {
	i := bytes.Index(img, []byte{0x28, 0xb5, 0x2f, 0xfd})
	if i < 0 {
		return errors.New("no zstd stream")
	}
	zr, err := zstd.NewReader(bytes.NewReader(img[i:]))
	if err != nil {
		return err
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	all, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	for _, r := range all {
		recs[r.Name] = r
	}
	return err
}

// noPassphraseAsked fails the test if the boot's console shows /init's passphrase prompt.
func noPassphraseAsked(t *testing.T, vm *harness.VM) {
	t.Helper()
	prompt, _, _ := strings.Cut(resume.PassphrasePrompt, "%")
	for _, line := range vm.ConsoleLines() {
		if strings.Contains(line, prompt) {
			t.Errorf("a passphrase was asked (%q): %s", line, vm.ConsoleLogPath())
		}
	}
}
