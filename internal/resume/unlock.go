package resume

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
)

// The unlock step, before the decision: open the LUKS volumes and activate the LVM logical
// volumes that the resume device and root are on, with the distribution's own cryptsetup and
// lvm, copied into the initramfs by `hibernate initramfs build`. Neither writes a byte before
// the decision: `cryptsetup open` reads the LUKS header and maps the volume, and lvm runs with
// its metadata read-only (no backup, no archive, no repair), activating only the LVs named.

// Tries is how many passphrases /init takes for a volume before it powers off.
const Tries = 3

// ErrNoKey says that no passphrase typed opened a volume.
var ErrNoKey = errors.New("it stays locked")

// KeyDir is where a kexec'ed kernel's /init finds the keys typed at the boot before it: an
// archive of its initramfs in memory that the first /init appended (keys.go).
const KeyDir = "hibernate-keys"

// lvmConfig keeps lvm from writing anything or waiting for a udev that /init does not run.
const lvmConfig = `global{metadata_read_only=1} backup{backup=0 archive=0} ` +
	`activation{udev_sync=0 udev_rules=0 monitoring=0} devices{obtain_device_list_from_udev=0 hints="none"}`

// unlockWait bounds the wait for a LUKS device, as for root.
const unlockWait = 30 * time.Second

// Volumes are what this boot unlocks: the config's, then the command line's, each LUKS device
// once; none with rd.luks=0.
func Volumes(cfg config.Config, p Params) []config.Volume {
	if p.NoLUKS {
		return nil
	}
	var out []config.Volume
	seen := map[string]bool{}
	for _, v := range append(append([]config.Volume(nil), cfg.Volumes...), p.Volumes...) {
		key := strings.ToUpper(v.Source)
		if seen[key] || seen["NAME="+v.Name] {
			continue
		}
		seen[key], seen["NAME="+v.Name] = true, true
		out = append(out, v)
	}
	return out
}

// LVs are the logical volumes this boot activates: the config's, then the command line's, once
// each; none with rd.lvm=0.
func LVs(cfg config.Config, p Params) []string {
	if p.NoLVM {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, lv := range append(append([]string(nil), cfg.LVs...), p.LVs...) {
		if !seen[lv] {
			seen[lv] = true
			out = append(out, lv)
		}
	}
	return out
}

// BringUp opens the volumes and activates the LVs. more loads modules while a device is awaited
// (as for the resume device). It returns ErrNoKey (wrapped) when a volume took Tries
// passphrases and none opened it; other failures are said on the console and the boot goes on
// (the devices behind them will not be found).
func (b *Machine) BringUp(p Params, cfg config.Config, more func() (bool, bool)) error {
	vols, lvs := Volumes(cfg, p), LVs(cfg, p)
	if len(vols) == 0 && len(lvs) == 0 {
		return nil
	}
	for _, d := range []string{"run/cryptsetup", "run/lvm", "run/lock/lvm"} {
		_ = os.MkdirAll(b.FS.Path(d), 0o700)
	}
	for _, v := range vols {
		err := b.unlock(v, cfg, more)
		if errors.Is(err, ErrNoKey) {
			return err
		}
		if err != nil {
			b.Logf("%v", err)
		}
	}
	if len(lvs) > 0 {
		if err := b.activate(lvs, cfg); err != nil {
			b.Logf("%v", err)
		}
	}
	return nil
}

// unlock opens one volume: with its key file, with the key the boot before a kexec passed, or
// with a passphrase asked on the consoles, Tries times.
func (b *Machine) unlock(v config.Volume, cfg config.Config, more func() (bool, bool)) error {
	tool := cfg.Tools["cryptsetup"]
	if tool == "" {
		return fmt.Errorf("cannot unlock %s (%s): this initramfs has no cryptsetup; rebuild it with hibernate initramfs build", v.Name, v.Source)
	}
	_, dev, err := b.FindResumeDevice(v.Source, unlockWait, more)
	if err != nil {
		return fmt.Errorf("LUKS device %s of %s: %w", v.Source, v.Name, err)
	}
	if dev == nil {
		return fmt.Errorf("LUKS device %s of %s did not appear within %s", v.Source, v.Name, unlockWait)
	}
	if by := b.openedAs(dev.Name); by != "" {
		b.Logf("%s (%s) is open already, as %s", v.Name, dev.Path, by)
		return nil
	}
	args := []string{tool, "open", "--type", "luks"}
	if v.Discard {
		args = append(args, "--allow-discards")
	}
	if v.KeyFile != "" {
		start := b.Now()
		args = append(args, "--key-file", b.FS.Path(strings.TrimPrefix(v.KeyFile, "/")), dev.Path, v.Name)
		if out, code, err := b.run(args, cfg, nil); err != nil || code != 0 {
			return fmt.Errorf("cryptsetup open %s with its key file %s: exit %d: %v %s", dev.Path, v.KeyFile, code, err, oneLine(out))
		}
		b.Logf("%s%s (%s) %s in %d ms", Unlocked, v.Name, dev.Path, WithKeyFile, (b.Now() - start).Milliseconds())
		return nil
	}
	args = append(args, "--key-file=-", dev.Path, v.Name)
	if key := b.inheritedKey(v.Name); key != nil {
		err := b.tryKey(v, dev, args, cfg, key, "the key passed by the boot before the kexec")
		if err == nil || !errors.Is(err, errWrongKey) {
			return err
		}
	}
	for try := 1; try <= Tries; try++ {
		key, err := b.ask(fmt.Sprintf(PassphrasePrompt, v.Name, v.Source))
		if err != nil {
			return fmt.Errorf("cannot ask for the passphrase of %s: %w", v.Name, err)
		}
		err = b.tryKey(v, dev, args, cfg, key, "its passphrase")
		if !errors.Is(err, errWrongKey) {
			return err
		}
		b.Logf(WrongPassphrase, v.Name, try, Tries)
	}
	return fmt.Errorf("%s%s (%s) in %d tries: %w", NoPassphraseWorked, v.Name, dev.Path, Tries, ErrNoKey)
}

var errWrongKey = errors.New("wrong key")

// cryptsetupWrongKey is cryptsetup's exit code for a key that opens no key slot.
const cryptsetupWrongKey = 2

// tryKey runs cryptsetup open with key on its standard input. A key that opens the volume is
// kept for a kexec (keep); any other is wiped.
func (b *Machine) tryKey(v config.Volume, dev *blockdev.Device, args []string, cfg config.Config, key []byte, what string) error {
	start := b.Now()
	out, code, err := b.run(args, cfg, key)
	switch {
	case err == nil && code == 0:
		b.keep(v.Name, key)
		b.Logf("%s%s (%s) with %s in %d ms", Unlocked, v.Name, dev.Path, what, (b.Now() - start).Milliseconds())
		return nil
	case err == nil && code == cryptsetupWrongKey:
		wipe(key)
		return errWrongKey
	}
	wipe(key)
	return fmt.Errorf("cryptsetup open %s as %s: exit %d: %v %s", dev.Path, v.Name, code, err, oneLine(out))
}

// activate activates the logical volumes lvs ("vg/lv") with lvm, its metadata read-only.
func (b *Machine) activate(lvs []string, cfg config.Config) error {
	tool := cfg.Tools["lvm"]
	if tool == "" {
		return fmt.Errorf("cannot activate %s: this initramfs has no lvm; rebuild it with hibernate initramfs build", strings.Join(lvs, " "))
	}
	start := b.Now()
	args := append([]string{tool, "lvchange", "--activate", "y", "--sysinit", "--config", lvmConfig}, lvs...)
	out, code, err := b.run(args, cfg, nil)
	if err != nil || code != 0 {
		return fmt.Errorf("lvm lvchange --activate y %s: exit %d: %v %s", strings.Join(lvs, " "), code, err, oneLine(out))
	}
	b.Logf("%s%s in %d ms (their metadata read only)", Activated, strings.Join(lvs, " "), (b.Now() - start).Milliseconds())
	return nil
}

// openedAs is the name of the device-mapper device made of the block device name, "" if none
// (a volume the config and the command line both name, by two specs).
func (b *Machine) openedAs(name string) string {
	devs, err := blockdev.ListSysfs(b.FS)
	if err != nil {
		return ""
	}
	for _, d := range devs {
		if d.DMName == "" {
			continue
		}
		if _, err := os.Lstat(b.FS.Path("sys/class/block", d.Name, "slaves", name)); err == nil {
			return d.DMName
		}
	}
	return ""
}

// run runs a tool of the initramfs, key (if any) on its standard input, and returns what it
// printed and its exit code. Machine.Run replaces it in tests.
func (b *Machine) run(argv []string, cfg config.Config, stdin []byte) ([]byte, int, error) {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DM_DISABLE_UDEV=1", "LVM_SUPPRESS_FD_WARNINGS=1"}
	if cfg.LibraryPath != "" {
		env = append(env, "LD_LIBRARY_PATH="+cfg.LibraryPath)
	}
	if b.Run != nil {
		return b.Run(argv, env, stdin)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, ee.ExitCode(), nil
	}
	return out, 0, err
}

// ask asks for a secret on the consoles (Machine.Ask in tests).
func (b *Machine) ask(prompt string) ([]byte, error) {
	if b.Ask != nil {
		return b.Ask(prompt)
	}
	key, on, err := askSecret(consolePaths(b.FS), prompt)
	if err == nil {
		b.Logf("passphrase typed on %s", path.Base(on))
	}
	return key, err
}

// keep holds a key that opened a volume, for a kexec into the kernel that made the image.
func (b *Machine) keep(name string, key []byte) {
	if b.keys == nil {
		b.keys = map[string][]byte{}
	}
	b.keys[name] = key
}

// forgetKeys wipes the keys kept: once root is mounted, or the kexec has its copy.
func (b *Machine) forgetKeys() {
	for n, k := range b.keys {
		wipe(k)
		delete(b.keys, n)
	}
}

// inheritedKey reads, wipes and removes the key of volume name that the boot before a kexec
// passed in this initramfs (nil if none).
func (b *Machine) inheritedKey(name string) []byte {
	if strings.ContainsAny(name, "/") {
		return nil
	}
	p := b.FS.Path(KeyDir, name)
	key, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		_, _ = f.Write(make([]byte, len(key)))
		f.Close()
	}
	_ = os.Remove(p)
	return key
}

func oneLine(out []byte) string {
	return strings.Join(strings.Fields(string(out)), " ")
}
