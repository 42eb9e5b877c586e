// Command bench is `make bench`: our initramfs against initramfs-tools and dracut on the same
// kernel, disk and image, written to docs/benchmarks.md with a plot. See package bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/hibernate-linux/hibernate/qemu-tests/bench"
)

func main() {
	var o bench.Options
	flag.IntVar(&o.Pairs, "pairs", 5, "resume pairs (ours, peer) per peer")
	flag.IntVar(&o.HibernatePairs, "hibernate-pairs", 3, "rounds of hibernate now, the direct write and --image-size min")
	flag.StringVar(&o.Report, "report", "", "the Markdown report (default docs/benchmarks.md)")
	flag.StringVar(&o.Plot, "plot", "", "the PNG plot (default docs/benchmarks-resume.png)")
	flag.StringVar(&o.Only, "only", "", "run one section alone and rewrite only its part of the report: "+bench.OnlyLUKS+" (the encrypted LVM machine) or "+bench.OnlyCompressor+" (lzo against lz4, -hibernate-pairs pairs), "+bench.OnlyFloor+", "+bench.OnlyScale+", "+bench.OnlyImageSize+" (--image-size kernel, min and auto, -hibernate-pairs rounds) or "+bench.OnlyFirmware+" (power on to the job through UEFI and GRUB, ours against initramfs-tools, -pairs pairs)")
	flag.IntVar(&o.Icount, "icount", 0, "with -only floor (the resumes) or -only hibernate (hibernate now's share, two rounds of -hibernate-pairs runs): under QEMU's -icount shift=N, the guest's clock by instructions; each its own section of the report")
	flag.Parse()
	o.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := bench.Run(ctx, o); err != nil {
		fmt.Printf("bench: FAIL %v\n", err)
		os.Exit(1)
	}
}
