package scenario

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// EncryptedLVM makes the guest's disk the Debian installer's encrypted LVM layout (luksdisk.go):
// root on /dev/mapper/guest--vg-root, the swap on /dev/mapper/guest--vg-swap_1, both in the LVM
// of the LUKS volume vda1_crypt. The root tree is the minimal one; its initramfs is built with
// LUKS.InitramfsFlags; every boot answers /init's passphrase prompt on the console (Boot,
// Resume). The host cannot read the encrypted swap: CheckImage does not apply.
func EncryptedLVM() Option { return func(c *Config) { c.root = encryptedRoot } }

var encryptedRoot = rootKind{name: "luks", hibernate: GuestHibernate, build: buildEncrypted}

// EncryptedSwapWithKeyFile puts the swap in a LUKS2 volume of its own, swap_crypt, opened with a
// key file, beside the minimal guest's plain root: the one partition of a second disk
// (Guest.SwapDisk, attached at every boot), laid out by the tools guest with a random key file
// and nothing in it (luksdisk.go), for `hibernate setup --device /dev/mapper/swap_crypt` to
// make the swap area. The initramfs is built with --luks swap_crypt=UUID=…,keyfile=…
// (LUKS.InitramfsFlags), which copies the key file in: /init opens the volume with it at every
// boot and asks nothing. The host cannot read the encrypted swap: CheckImage does not apply.
func EncryptedSwapWithKeyFile() Option {
	return func(c *Config) { c.Swap = Swap{PartitionMiB: -1, SecondDisk: true, KeyFileLUKS: true} }
}

// encryptedSwapDisk makes the guest's second disk the encrypted swap disk (a sparse copy in dir,
// made once for all guests: it holds nothing of the tree), and returns the initramfs flags that
// name its volume and key file.
func (m *Machine) encryptedSwapDisk(ctx context.Context, g *Guest, dir string) ([]string, error) {
	d, err := luksDiskFor(ctx, m.Artifacts, newSwapLUKS(), "", filepath.Join(dir, "swapdisk.img"), m.say)
	if err != nil {
		return nil, fmt.Errorf("the encrypted swap disk: %w", err)
	}
	g.SwapDisk, g.SwapDiskLayout, g.LUKS = d.Disk, d.Layout, &d.LUKS
	return d.LUKS.InitramfsFlags(), nil
}

// ErrNoLUKSInitramfs says that the hibernate under test cannot build an initramfs for an
// encrypted LVM machine (its initramfs build has no --luks or --lvm yet).
var ErrNoLUKSInitramfs = errors.New("hibernate initramfs build cannot make the initramfs of an encrypted LVM machine (--luks, --lvm: issue 13)")

// buildEncrypted makes an EncryptedLVM guest: the minimal tree with its initramfs (built with
// the disk's flags), and a sparse copy of the encrypted disk made from that tree (luksDiskFor:
// once for every guest of the same tree, cached).
func buildEncrypted(ctx context.Context, m *Machine) (Guest, error) {
	a := m.Artifacts
	var g Guest
	dir, err := freshDir(a, m.Config.Name)
	if err != nil {
		return g, err
	}
	l, initrdErr, err := encryptedTree(ctx, a, filepath.Join(dir, "root"), m.Config)
	if err != nil {
		return g, err
	}
	if initrdErr != nil {
		return g, initrdErr
	}
	rel := a.Kernel.Release
	g.Initrd = filepath.Join(dir, "initrd.img-"+rel)
	if err := copyFile(filepath.Join(dir, "root", "boot", "initrd.img-"+rel), g.Initrd, 0o644); err != nil {
		return g, err
	}
	if g.Kernel, err = BootableKernel(a.Kernel.Image); err != nil {
		return g, err
	}
	g.Release = rel
	d, err := luksDiskFor(ctx, a, l, filepath.Join(dir, "root"), filepath.Join(dir, "disk.img"), m.say)
	if err != nil {
		return g, err
	}
	g.Disk, g.Layout, g.LUKS = d.Disk, d.Layout, &d.LUKS
	return g, nil
}

// encryptedTree makes the root tree of an encrypted guest in tree (the minimal one, with c's
// files), fixes its LUKS UUID from it, and builds its initramfs into /boot with the disk's
// flags. When hibernate cannot build it (ErrNoLUKSInitramfs), the tree is left without one and
// initrdErr says so: the disk can still be made and checked.
func encryptedTree(ctx context.Context, a Artifacts, tree string, c Config) (l *LUKS, initrdErr, err error) {
	if err := minimalTree(a, tree); err != nil {
		return nil, nil, err
	}
	if err := writeFiles(tree, c.Files); err != nil {
		return nil, nil, err
	}
	th, err := treeHash(tree)
	if err != nil {
		return nil, nil, err
	}
	l = newLUKS(luksUUIDFor(hashStrings(luksRecipe, th, strings.Join(c.InitrdFlags, " "))))
	rel := a.Kernel.Release
	flags := append(append([]string(nil), c.InitrdFlags...), l.InitramfsFlags()...)
	said, err := buildInitramfs(ctx, a, rel, a.Kernel.ModulesDir, filepath.Join(tree, "boot", "initrd.img-"+rel), flags...)
	if err != nil {
		for _, line := range strings.Split(said, "\n") {
			if strings.Contains(line, "unknown flag") {
				return l, fmt.Errorf("%w: it says %q", ErrNoLUKSInitramfs, strings.TrimSpace(line)), nil
			}
		}
		return nil, nil, err
	}
	return l, nil, nil
}

// answerPassphrase answers /init's passphrase prompt for the guest's LUKS volume on the console
// (or Machine.PassphrasePrompt): with Machine.Passphrases, one a prompt, if set (they are for
// one boot only), else with the volume's passphrase. Summary.PassphraseAt is when the last Enter
// went.
func (m *Machine) answerPassphrase(ctx context.Context, vm *harness.VM) error {
	l := m.Guest.LUKS
	answers := m.Passphrases
	m.Passphrases = nil
	if len(answers) == 0 {
		answers = []string{l.Passphrase}
	}
	prompt := l.Prompt()
	if m.PassphrasePrompt != "" {
		prompt = m.PassphrasePrompt
	}
	mark := -1
	for i, a := range answers {
		label := "<passphrase>"
		if a != l.Passphrase {
			label = fmt.Sprintf("<wrong passphrase %d>", i+1)
		}
		line, idx, err := vm.AnswerPrompt(ctx, mark, prompt, a+"\n", label)
		if err != nil {
			return fmt.Errorf("the passphrase prompt %q: %w", prompt, err)
		}
		m.Summary.PassphraseAt = time.Since(vm.Started())
		mark = idx
		m.say("typed %s at %q, %s after power on", label, line, vmSince(vm))
	}
	return nil
}
