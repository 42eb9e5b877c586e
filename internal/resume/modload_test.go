package resume

import (
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

const (
	modRing    = "/lib/modules/R/kernel/drivers/virtio/virtio_ring.ko"
	modVirtio  = "/lib/modules/R/kernel/drivers/virtio/virtio.ko"
	modPCI     = "/lib/modules/R/kernel/drivers/virtio/virtio_pci.ko"
	modBlk     = "/lib/modules/R/kernel/drivers/block/virtio_blk.ko"
	modLibata  = "/lib/modules/R/kernel/drivers/ata/libata.ko"
	modAHCI    = "/lib/modules/R/kernel/drivers/ata/ahci.ko"
	modNVMe    = "/lib/modules/R/kernel/drivers/nvme/host/nvme.ko"
	modJBD2    = "/lib/modules/R/kernel/fs/jbd2/jbd2.ko"
	modExt4    = "/lib/modules/R/kernel/fs/ext4/ext4.ko"
	swapUUID   = "c54b0662-3bf7-46e4-ac4a-69d8cf7901f3"
	virtioPCI  = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"
	ahciPCI    = "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"
	virtioDisk = "virtio:d00000002v00001AF4"
)

// testConfig is the default set's shape, as hibernate initramfs build writes it for a kernel.
func testConfig() config.Config {
	return config.Config{
		Format:  config.Format,
		Modules: []string{modRing, modVirtio, modPCI, modBlk, modLibata, modAHCI, modNVMe, modJBD2, modExt4},
		Needs: map[string][]string{
			modVirtio: {modRing}, modPCI: {modRing, modVirtio}, modBlk: {modVirtio, modRing},
			modAHCI: {modLibata}, modExt4: {modJBD2},
		},
		Devices: map[string][]string{
			modPCI:  {"pci:v00001AF4d*sv*sd*bc*sc*i*"},
			modBlk:  {"virtio:d00000002v*"},
			modAHCI: {"pci:v*d*sv*sd*bc01sc06i01*"},
			modNVMe: {"pci:v*d*sv*sd*bc01sc08i02*"},
		},
	}
}

// fakeKernel stands for finit_module: it records the loads, checks that what a module needs is
// in before it, and makes the devices a driver brings appear in the tree.
type fakeKernel struct {
	t      *testing.T
	tr     *faketree.Tree
	needs  map[string][]string
	mu     sync.Mutex
	loaded []string
	// onLoad, by module, runs when that module is loaded.
	onLoad map[string]func()
}

func (k *fakeKernel) load(p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range k.needs[p] {
		if !slices.Contains(k.loaded, n) {
			k.t.Errorf("%s loaded before %s, which it needs", filepath.Base(p), filepath.Base(n))
		}
	}
	k.loaded = append(k.loaded, p)
	if f := k.onLoad[p]; f != nil {
		f()
	}
	return nil
}

func (k *fakeKernel) names() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return moduleNames(k.loaded)
}

func newMachine(t *testing.T) (*Machine, *faketree.Tree, *fakeKernel) {
	tr := faketree.New(t)
	tr.Write("sys/bus/pci/devices/0000:00:02.0/modalias", virtioPCI+"\n")
	tr.Write("sys/bus/pci/devices/0000:00:1f.2/modalias", ahciPCI+"\n")
	tr.Mkdir("sys/bus/virtio/devices")
	tr.Mkdir("sys/bus/platform/devices")
	k := &fakeKernel{t: t, tr: tr, needs: testConfig().Needs, onLoad: map[string]func(){}}
	// virtio_pci finds the virtio device on the PCI bus; virtio_blk finds its disk.
	k.onLoad[modPCI] = func() { tr.Write("sys/bus/virtio/devices/virtio0/modalias", virtioDisk+"\n") }
	k.onLoad[modBlk] = func() {
		page, err := swsusp.MkswapPage(32<<20, swsusp.MkswapOptions{UUID: mustUUID(t, swapUUID)})
		if err != nil {
			t.Fatal(err)
		}
		tr.Disk("vda", 254, faketree.Part{Size: 16 << 20}, faketree.Part{Size: 32 << 20, Content: page})
	}
	var clock time.Duration
	var cmu sync.Mutex
	b := &Machine{FS: tr.FS(), Out: &strings.Builder{}, Release: "R", LoadModule: k.load,
		Now:   func() time.Duration { cmu.Lock(); defer cmu.Unlock(); return clock },
		Sleep: func(d time.Duration) { cmu.Lock(); clock += d; cmu.Unlock(); time.Sleep(time.Millisecond) }}
	return b, tr, k
}

func mustUUID(t *testing.T, s string) [16]byte {
	t.Helper()
	var u [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("uuid %q: %v", s, err)
	}
	copy(u[:], b)
	return u
}

// Coldplug loads the drivers of the devices there and, once those are in, of the devices they
// brought; nothing else until LoadRest.
func TestColdplugLoadsTheDriversOfTheDevicesPresent(t *testing.T) {
	b, _, k := newMachine(t)
	l := NewLoader(b, testConfig())
	l.workers = 1 // LoadRest in the config's order: the test reads it
	if got := moduleNames(l.Coldplug()); got != "virtio_pci ahci" {
		t.Errorf("first coldplug asked for %q, want the PCI devices' drivers: virtio_pci ahci", got)
	}
	for l.LoadNext() {
	}
	if got := moduleNames(l.Coldplug()); got != "virtio_blk" {
		t.Errorf("second coldplug asked for %q, want the virtio disk's driver", got)
	}
	for l.LoadNext() {
	}
	if got := moduleNames(l.Coldplug()); got != "" {
		t.Errorf("third coldplug asked for %q, want nothing: no new device", got)
	}
	if got := k.names(); got != "virtio_ring virtio virtio_pci libata ahci virtio_blk" {
		t.Errorf("loaded %q", got)
	}
	if !l.LoadRest() {
		t.Error("LoadRest loaded nothing")
	}
	if got := k.names(); !strings.HasSuffix(got, " nvme jbd2 ext4") {
		t.Errorf("after LoadRest: %q, want nvme jbd2 ext4 last", got)
	}
	if l.LoadRest() || l.Busy() {
		t.Error("a second LoadRest loaded again, or the loader is still busy")
	}
}

// Settle finds the resume device as soon as its driver is in, without the rest of the modules.
func TestSettleNeedsOnlyTheDiskDrivers(t *testing.T) {
	b, _, k := newMachine(t)
	l := NewLoader(b, testConfig())
	l.Coldplug()
	in := b.Settle(Params{Resume: "UUID=" + swapUUID, Wait: 10 * time.Second}, config.Config{}, l)
	if in.Device != "/dev/vda2" || in.Area == nil || in.Area.Sig != swsusp.SigSwap {
		t.Fatalf("settled on %q, area %+v, err %v; want /dev/vda2 with its swap area\n%s", in.Device, in.Area, in.ReadErr, b.Out)
	}
	l.Hold()
	// One load between two looks, earliest in the order first: the disk is found before the
	// AHCI chain (queued, for the controller with no disk) is loaded at all.
	if got := k.names(); got != "virtio_ring virtio virtio_pci virtio_blk" {
		t.Errorf("loaded %q before the decision: want only the drivers of the devices there\n%s", got, b.Out)
	}
}

// With the disk behind a driver no device asks for, the rest of the modules are loaded while
// waiting, and the device is found.
func TestSettleLoadsTheRestWhenTheDeviceDoesNotCome(t *testing.T) {
	b, _, k := newMachine(t)
	// The disk comes with nvme this time, which no device's modalias names.
	k.onLoad[modNVMe], k.onLoad[modBlk] = k.onLoad[modBlk], nil
	l := NewLoader(b, testConfig())
	l.Coldplug()
	in := b.Settle(Params{Resume: "UUID=" + swapUUID, Wait: 10 * time.Second}, config.Config{}, l)
	if in.Device != "/dev/vda2" {
		t.Fatalf("settled on %q (%v)\n%s", in.Device, in.ReadErr, b.Out)
	}
	if !strings.Contains(b.Out.(*strings.Builder).String(), "loaded the rest of the modules, the resume device not being there yet") {
		t.Errorf("the log does not say the rest was loaded:\n%s", b.Out)
	}
	if !strings.Contains(k.names(), "nvme") {
		t.Errorf("loaded %q", k.names())
	}
}

// Hold drops what is queued: a module not started is loaded by LoadRest, not before.
func TestHoldDropsQueuedModules(t *testing.T) {
	b, _, k := newMachine(t)
	gate, running := make(chan struct{}), make(chan struct{})
	k.onLoad[modRing] = func() { close(running); <-gate }
	l := NewLoader(b, testConfig())
	l.workers = 1
	l.Start([]string{modExt4, modBlk})
	<-running
	go func() { time.Sleep(20 * time.Millisecond); close(gate) }()
	l.Hold()
	if got := k.names(); got != "virtio_ring" {
		t.Errorf("after Hold: %q, want only the load that was running", got)
	}
	if l.Busy() {
		t.Error("busy after Hold")
	}
	l.LoadRest()
	if got := k.names(); !strings.Contains(got, "ext4") || !strings.Contains(got, "virtio_blk") {
		t.Errorf("after LoadRest: %q", got)
	}
}

// A broken config (a need that comes later in the order, a cycle, a need of no module) does
// not hang the loader.
func TestLoaderSurvivesABrokenConfig(t *testing.T) {
	b, _, _ := newMachine(t)
	cfg := testConfig()
	cfg.Needs = map[string][]string{modRing: {modExt4}, modExt4: {modRing, "/nowhere.ko"}}
	l := NewLoader(b, cfg)
	l.workers = 1
	done := make(chan bool)
	go func() { done <- l.LoadRest() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("LoadRest hangs on a broken config")
	}
}

// An initramfs config without load tables loads its modules one after the other, in order.
func TestLoaderWithoutTables(t *testing.T) {
	b, _, k := newMachine(t)
	cfg := testConfig()
	cfg.Needs, cfg.Devices = nil, nil
	k.needs = nil
	l := NewLoader(b, cfg)
	l.workers = 4
	if len(l.Coldplug()) != 0 {
		t.Error("coldplug without device tables asked for modules")
	}
	l.LoadRest()
	if got, want := k.names(), moduleNames(cfg.Modules); got != want {
		t.Errorf("loaded %q, want the config's order %q", got, want)
	}
}

// The bounded wait (hibernate.wait=) is for the device once the modules are in: slow loads do
// not eat it, and the wait is said before it starts.
func TestWaitStartsOnceTheModulesAreIn(t *testing.T) {
	b, _, k := newMachine(t)
	slow := func() { b.Sleep(2 * time.Second) } // each load takes 2 s on the machine's clock
	for _, m := range testConfig().Modules {
		if k.onLoad[m] == nil {
			k.onLoad[m] = slow
		}
	}
	k.onLoad[modBlk] = slow // no disk at all this time
	l := NewLoader(b, testConfig())
	l.Coldplug()
	in := b.Settle(Params{Resume: "UUID=" + swapUUID, Wait: time.Second}, config.Config{}, l)
	out := b.Out.(*strings.Builder).String()
	if in.Device != "" || !strings.Contains(out, "waiting for resume device UUID="+swapUUID+", up to 1s") {
		t.Errorf("device %q; want none, after saying it waits 1s:\n%s", in.Device, out)
	}
	if !strings.Contains(k.names(), "ext4") {
		t.Errorf("the wait ended before the rest of the modules was loaded: %q", k.names())
	}
}

// An lz4 image has its decompressor loaded before the restore starts, with what it needs; an
// lzo image loads nothing; an initramfs without the module says so.
func TestLoadDecompressor(t *testing.T) {
	const modLZ4c, modLZ4 = "/lib/modules/R/kernel/lib/lz4/lz4_compress.ko", "/lib/modules/R/kernel/crypto/lz4.ko"
	for _, c := range []struct {
		comp        string
		inInitramfs bool
		loaded      string
		said        string
	}{
		{"lz4", true, "lz4_compress lz4", "the image is lz4-compressed: loaded lz4.ko"},
		{"lzo", true, "", ""},
		{"lz4", false, "", "this initramfs has no lz4 module: the kernel reads it only if lz4 is built in"},
	} {
		b, _, k := newMachine(t)
		cfg := testConfig()
		if c.inInitramfs {
			cfg.Modules = append(cfg.Modules, modLZ4c, modLZ4)
			cfg.Needs[modLZ4] = []string{modLZ4c}
			k.needs = cfg.Needs
		}
		ld := NewLoader(b, cfg)
		h := &swsusp.Header{}
		if c.comp == "lz4" {
			h.Flags = swsusp.FlagLZ4
		}
		b.loadDecompressor(Input{Area: &swsusp.Area{Header: h}}, ld)
		out := b.Out.(*strings.Builder).String()
		if got := k.names(); got != c.loaded || (c.said == "") != (out == "") || !strings.Contains(out, c.said) {
			t.Errorf("%s (in the initramfs: %v): loaded %q, said %q", c.comp, c.inInitramfs, got, out)
		}
	}
}
