package scenario

import (
	"context"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
)

// Paths in the guests, each written once. The demo job's folder and log are demojob's
// (demojob.Dir, demojob.LogPath); the Debian root's programs are debroot's.
const (
	// In the minimal root (minimalRoot): the agent is PID 1, hibernate is installed as a
	// distribution would, with its initramfs base beside it.
	GuestAgentInit = "/sbin/init"
	GuestHibernate = "/usr/sbin/hibernate"
	GuestBase      = "/usr/lib/hibernate/initramfs-base.cpio"
	GuestDemoJob   = "/usr/bin/hibernate-demo-job"

	// The Debian root's hibernate, put in by `make install PREFIX=/usr/local`.
	debianPrefix     = "/usr/local"
	DebianHibernate  = debianPrefix + "/sbin/hibernate"
	PackageHibernate = "/usr/sbin/hibernate" // where the .deb installs it (FromPackage)

	JobOut   = demojob.Dir + "/job.out"           // the demo job's output, when StartJob starts it
	NowOut   = demojob.Dir + "/hibernate-now.out" // HibernateNow's output, read after the resume
	HooksLog = demojob.Dir + "/hooks.log"         // what the test hooks of TestNowHooksAroundResume write
)

// Console lines that the scenarios wait for and that are not /init's (those are constants of
// internal/resume, console.go, printed with the same constants).
const (
	// The kernel's.
	KernelImageSaved  = "PM: Image saving done"
	KernelImageLoaded = "PM: Image loading done"
	KernelSaving10    = "Image saving progress:  10%"
	KernelTestWait    = "PM: hibernation: debug: Waiting for 5 seconds." // pm_test's wait (hibernate now --test)
	KernelPanic       = "Kernel panic"
	GoPanic           = "panic:" // a Go program's (our /init's) panic

	// hibernate now's, in internal/hibernate/now.go (to /dev/kmsg) and cmd/hibernate/cli/now.go
	// (its output): outside this package's reach, written once here.
	NowResumedKmsg = "hibernate: resumed after"
	NowResumedOut  = "resumed: off for"
)

// rootKind is how a guest's root file system is made, and what it holds where.
type rootKind struct {
	name        string        // begins the progress lines
	hibernate   string        // the hibernate binary, in the guest
	jobByInit   bool          // the guest's init starts the demo job (StartJob only waits for it)
	cmdline     string        // kernel parameters its boots need
	agentWithin time.Duration // how long a boot may take for the agent to answer (0: the context's)
	build       func(ctx context.Context, m *Machine) (Guest, error)
}

// minimalRoot is the default: a root tree of our binaries only, the agent as PID 1 (guest.go).
var minimalRoot = rootKind{name: "demo", hibernate: GuestHibernate, build: buildMinimal}
