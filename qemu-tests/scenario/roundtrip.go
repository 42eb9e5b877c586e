package scenario

import (
	"context"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
)

// Summary is what the steps measured: the demo prints it.
type Summary struct {
	Kernel          string
	BuildTime       time.Duration // New: the root tree, the initramfs and the disk
	Before, After   demojob.Line
	HibernateTime   time.Duration // `hibernate now` started to QEMU gone
	ResumeTime      time.Duration // QEMU started to the job's first line after resume
	PassphraseAt    time.Duration // QEMU started to the Enter of the last passphrase typed (encrypted disks)
	ImageBytes      uint64        // the image in memory terms (swsusp_info size)
	ImageDiskBytes  uint64        // swap pages the image takes on disk
	Compressor      string
	BootIDKept      bool
	InitrdTime      time.Duration // `hibernate initramfs build` in the guest (BuildInitramfsInGuest)
	Logs            []string
	SetupResumeArgs string
}

// Hibernate is the first half of the round trip, its steps in a row: build the guest (of the
// variant opts say), boot it, make its swap with `hibernate setup`, start the job and let it
// tick, `hibernate check`, `hibernate now`, and check the image the guest left on its disk.
func Hibernate(ctx context.Context, a Artifacts, name string, opts ...Option) (*Machine, error) {
	m, err := New(ctx, a, name, opts...)
	if err != nil {
		return m, err
	}
	vm, _, err := m.Boot(ctx, "")
	if vm != nil {
		defer vm.Kill()
	}
	if err != nil {
		return m, err
	}
	return m, Do(ctx, vm, m.SetupSwap, m.StartJob, m.HibernateCheck, m.HibernateNow, m.CheckImage)
}

// RoundTrip is the demo: Hibernate, then Resume with the resume= that hibernate setup printed.
func RoundTrip(ctx context.Context, a Artifacts, name string, opts ...Option) (Summary, error) {
	m, err := Hibernate(ctx, a, name, opts...)
	if err != nil {
		return m.Summary, err
	}
	vm, err := m.Resume(ctx, m.Setup.KernelParams)
	if vm != nil {
		vm.Kill()
	}
	return m.Summary, err
}
