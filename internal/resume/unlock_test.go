package resume

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// fakeCryptsetup plays cryptsetup open and lvm lvchange on a fake tree: the right key maps the
// volume (a dm device appears), a wrong one exits 2, as cryptsetup does.
type fakeCryptsetup struct {
	t     *testing.T
	tr    *faketree.Tree
	right string
	runs  [][]string
	keys  []string
}

func (f *fakeCryptsetup) run(argv, env []string, stdin []byte) ([]byte, int, error) {
	f.runs = append(f.runs, argv)
	f.keys = append(f.keys, string(stdin))
	if !contains(env, "DM_DISABLE_UDEV=1") || !contains(env, "LD_LIBRARY_PATH=/lib/x86_64-linux-gnu") {
		f.t.Errorf("%s runs with env %q", argv[0], env)
	}
	switch argv[1] {
	case "open":
		if contains(argv, "--key-file=-") && string(stdin) != f.right {
			return []byte("No key available with this passphrase.\n"), 2, nil
		}
		f.tr.Mapper(len(f.runs), argv[len(argv)-1], "CRYPT-LUKS2-0a1b-"+argv[len(argv)-1], "vda1")
		return nil, 0, nil
	case "lvchange":
		return nil, 0, nil
	}
	return []byte("unknown command"), 1, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func luksDisk(t *testing.T) *faketree.Tree {
	t.Helper()
	hdr, err := os.ReadFile("../blockdev/testdata/luks2-header.bin")
	if err != nil {
		t.Fatal(err)
	}
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 32 << 20, Content: hdr})
	return tr
}

var luksConfig = config.Config{
	Volumes:     []config.Volume{{Name: "vda1_crypt", Source: "UUID=0a1b2c3d-1111-4222-8333-444455556666", Discard: true}},
	LVs:         []string{"guest-vg/root", "guest-vg/swap_1"},
	Tools:       map[string]string{"cryptsetup": "/usr/sbin/cryptsetup", "lvm": "/usr/sbin/lvm"},
	LibraryPath: "/lib/x86_64-linux-gnu",
}

func unlockMachine(tr *faketree.Tree, f *fakeCryptsetup, answers ...string) (*Machine, *strings.Builder, *[]string) {
	out := &strings.Builder{}
	var prompts []string
	var now time.Duration
	b := &Machine{FS: tr.FS(), Out: out, Release: "R", Now: func() time.Duration { return now }, Sleep: func(d time.Duration) { now += d },
		Run: f.run,
		Ask: func(prompt string) ([]byte, error) {
			prompts = append(prompts, prompt)
			if len(answers) == 0 {
				return nil, errors.New("no more answers")
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}}
	return b, out, &prompts
}

// A wrong passphrase, then the right one: the volume opens on the second try, the LVs are
// activated with lvm's metadata read-only, and the key is kept for a kexec.
func TestBringUpWrongThenRight(t *testing.T) {
	tr := luksDisk(t)
	f := &fakeCryptsetup{t: t, tr: tr, right: "correct horse"}
	b, out, prompts := unlockMachine(tr, f, "wrong", "correct horse")
	if err := b.BringUp(Params{}, luksConfig, nil); err != nil {
		t.Fatalf("BringUp: %v\n%s", err, out)
	}
	wantPrompt := "Passphrase for vda1_crypt (UUID=0a1b2c3d-1111-4222-8333-444455556666): "
	if len(*prompts) != 2 || (*prompts)[0] != wantPrompt {
		t.Errorf("prompts = %q, want twice %q", *prompts, wantPrompt)
	}
	wantOpen := []string{"/usr/sbin/cryptsetup", "open", "--type", "luks", "--allow-discards", "--key-file=-", "/dev/vda1", "vda1_crypt"}
	if len(f.runs) != 3 || !reflect.DeepEqual(f.runs[0], wantOpen) || !reflect.DeepEqual(f.runs[1], wantOpen) {
		t.Fatalf("runs = %q, want twice %q then lvm", f.runs, wantOpen)
	}
	lvm := f.runs[2]
	if lvm[1] != "lvchange" || !contains(lvm, "--sysinit") || !strings.Contains(strings.Join(lvm, " "), "metadata_read_only=1") ||
		!reflect.DeepEqual(lvm[len(lvm)-2:], []string{"guest-vg/root", "guest-vg/swap_1"}) {
		t.Errorf("lvm run = %q", lvm)
	}
	for _, want := range []string{"no key slot of vda1_crypt opens with that passphrase (try 1 of 3)", Unlocked + "vda1_crypt (/dev/vda1) with its passphrase",
		Activated + "guest-vg/root guest-vg/swap_1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if string(b.keys["vda1_crypt"]) != "correct horse" {
		t.Errorf("key kept = %q", b.keys["vda1_crypt"])
	}
	b.forgetKeys()
	if len(b.keys) != 0 {
		t.Errorf("keys left after forgetKeys: %v", b.keys)
	}
}

// Three wrong passphrases: ErrNoKey, nothing activated.
func TestBringUpGivesUpAfterThreeTries(t *testing.T) {
	tr := luksDisk(t)
	f := &fakeCryptsetup{t: t, tr: tr, right: "correct horse"}
	b, out, _ := unlockMachine(tr, f, "a", "b", "c", "correct horse")
	err := b.BringUp(Params{}, luksConfig, nil)
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), NoPassphraseWorked+"vda1_crypt") {
		t.Fatalf("BringUp = %v, want ErrNoKey naming the volume\n%s", err, out)
	}
	if len(f.runs) != 3 {
		t.Errorf("runs = %q, want three opens and no lvm", f.runs)
	}
}

// A key file, a volume open already, rd.luks=0 and the command line's volumes.
func TestBringUpKeyFileAndCommandLine(t *testing.T) {
	tr := luksDisk(t)
	f := &fakeCryptsetup{t: t, tr: tr}
	b, out, prompts := unlockMachine(tr, f)
	cfg := luksConfig
	cfg.Volumes = []config.Volume{{Name: "swap_crypt", Source: "/dev/vda1", KeyFile: "/etc/hibernate/keys/swap_crypt"}}
	cfg.LVs = nil
	p, _ := ParseCmdline("rd.luks.name=0a1b2c3d-1111-4222-8333-444455556666=other rd.luks.uuid=x")
	if err := b.BringUp(p, cfg, nil); err != nil {
		t.Fatalf("BringUp: %v\n%s", err, out)
	}
	if len(*prompts) != 0 || len(f.runs) != 1 || !contains(f.runs[0], tr.FS().Path("etc/hibernate/keys/swap_crypt")) {
		t.Errorf("prompts %q, runs %q: want one open with the key file", *prompts, f.runs)
	}
	if want := Unlocked + "swap_crypt (/dev/vda1) " + WithKeyFile + " in "; !strings.Contains(out.String(), want) {
		t.Errorf("console lacks %q:\n%s", want, out)
	}
	// rd.luks.name= names the same LUKS device by UUID: once only. rd.luks.uuid=x is not there.
	if !strings.Contains(out.String(), "LUKS device UUID=x of luks-x did not appear") {
		t.Errorf("console:\n%s", out)
	}
	if vols := Volumes(cfg, Params{NoLUKS: true, Volumes: p.Volumes}); vols != nil {
		t.Errorf("rd.luks=0: volumes %v", vols)
	}
	// Already open: nothing run.
	f.runs = nil
	if err := b.BringUp(Params{}, cfg, nil); err != nil || len(f.runs) != 0 || !strings.Contains(out.String(), "swap_crypt (/dev/vda1) is open already, as swap_crypt") {
		t.Errorf("BringUp again = %v, runs %q\n%s", err, f.runs, out)
	}
}

// The key passed through a kexec is tried first, then wiped and removed; no prompt.
func TestBringUpInheritedKey(t *testing.T) {
	tr := luksDisk(t)
	f := &fakeCryptsetup{t: t, tr: tr, right: "correct horse"}
	tr.Write(filepath.Join(KeyDir, "vda1_crypt"), "correct horse")
	b, out, prompts := unlockMachine(tr, f)
	cfg := luksConfig
	cfg.LVs = nil
	if err := b.BringUp(Params{}, cfg, nil); err != nil {
		t.Fatalf("BringUp: %v\n%s", err, out)
	}
	if len(*prompts) != 0 || !strings.Contains(out.String(), "with the key passed by the boot before the kexec") {
		t.Errorf("prompts %q\n%s", *prompts, out)
	}
	if _, err := os.Stat(tr.FS().Path(KeyDir, "vda1_crypt")); !os.IsNotExist(err) {
		t.Errorf("the passed key is still there: %v", err)
	}
}

// The archive appended for a kexec holds each key at KeyDir/NAME, 0400, on a 4-byte boundary
// after the initramfs; undo puts the file back as it was.
func TestAppendKeys(t *testing.T) {
	initrd := filepath.Join(t.TempDir(), "initrd")
	orig := []byte("not a multiple of four!")
	if err := os.WriteFile(initrd, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	undo, err := appendKeys(initrd, map[string][]byte{"vda1_crypt": []byte("correct horse"), "b": []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(initrd)
	start := (len(orig) + 3) / 4 * 4
	if !bytes.Equal(got[:len(orig)], orig) || !bytes.Equal(got[len(orig):start], make([]byte, start-len(orig))) {
		t.Fatalf("the initramfs's own bytes or the padding changed: %q", got[:start])
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(got[start:])))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, r := range recs {
		if r.Mode&0o777 != 0o400 && r.Name != KeyDir {
			t.Errorf("%s: mode %o", r.Name, r.Mode)
		}
		if r.FileSize > 0 {
			b := make([]byte, r.FileSize)
			r.ReadAt(b, 0)
			files[r.Name] = string(b)
		}
	}
	if files[KeyDir+"/vda1_crypt"] != "correct horse" || files[KeyDir+"/b"] != "x" {
		t.Errorf("archive holds %v", files)
	}
	undo()
	if got, _ := os.ReadFile(initrd); !bytes.Equal(got, orig) {
		t.Errorf("after undo: %q", got)
	}
}
