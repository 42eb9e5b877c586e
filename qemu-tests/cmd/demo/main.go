// Command demo is `make demo`: a computation survives a power-off. It boots a Debian kernel in
// QEMU with our initramfs, sets up swap and hibernates the guest with hibernate, boots the same
// disk again and checks that the same job goes on with the same memory. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

func main() {
	flavour := flag.String("flavour", scenario.DefaultFlavour, "Debian kernel [SUITE-]FLAVOUR from $HIBERNATE_CACHE/kernels: bookworm-amd64, bookworm-cloud-amd64 (Debian 12), trixie-amd64 (Debian 13), which make kernels fetches; amd64 for this machine's own (fetch-kernel.sh amd64)")
	mem := flag.Int("memory", 512, "guest memory, MiB")
	state := flag.Int("state-mib", 64, "the job's state, MiB")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *flavour, *mem, *state); err != nil {
		fmt.Printf("demo: FAIL %v\n", err)
		os.Exit(1)
	}
	fmt.Println("demo: PASS")
}

func run(ctx context.Context, flavour string, mem, state int) error {
	root, err := scenario.FindModuleRoot()
	if err != nil {
		return err
	}
	a, err := scenario.Discover(root, flavour)
	if err != nil {
		return err
	}
	fmt.Printf("demo: kernel %s (Debian package %s)\n", a.Kernel.Release, a.Kernel.Version)
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	s, err := scenario.RoundTrip(ctx, a, "demo", scenario.Memory(mem), scenario.JobState(state), scenario.Output(os.Stdout))
	printSummary(s)
	return err
}

func printSummary(s scenario.Summary) {
	fmt.Println("demo: summary")
	fmt.Printf("  kernel                      %s\n", s.Kernel)
	fmt.Printf("  hibernate now to power off  %s\n", s.HibernateTime.Round(100*time.Millisecond))
	fmt.Printf("  power on to job running     %s\n", s.ResumeTime.Round(100*time.Millisecond))
	fmt.Printf("  image                       %.1f MiB of memory, %.1f MiB on disk (%s)\n", float64(s.ImageBytes)/(1<<20), float64(s.ImageDiskBytes)/(1<<20), s.Compressor)
	fmt.Printf("  boot ID kept                %v\n", s.BootIDKept)
	for _, l := range s.Logs {
		fmt.Printf("  log                         %s\n", l)
	}
}
