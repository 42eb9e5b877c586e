package cli

import (
	"fmt"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
)

// inspectReport is `hibernate inspect --json`: the field names are a contract with scripts.
type inspectReport struct {
	Path          string         `json:"path"`
	OffsetPages   uint64         `json:"offset_pages"`
	Signature     string         `json:"signature"`
	Kind          string         `json:"kind"`
	SwapUUID      string         `json:"swap_uuid"`
	SwapLabel     string         `json:"swap_label"`
	ImagePages    *uint64        `json:"image_pages,omitempty"`
	ImageBytes    *uint64        `json:"image_bytes,omitempty"`
	SwapPages     uint64         `json:"swap_pages_used,omitempty"`
	Compressed    *bool          `json:"compressed,omitempty"`
	Compressor    string         `json:"compressor,omitempty"`
	CRC32Mode     *bool          `json:"crc32_mode,omitempty"`
	PlatformMode  *bool          `json:"platform_mode,omitempty"`
	NumPhysPages  *uint64        `json:"num_physpages,omitempty"`
	Record        *swsusp.Record `json:"record"`
	KernelRelease *string        `json:"kernel_release"`
	Valid         bool           `json:"valid"`
	Problems      []string       `json:"problems"`
}

// areaArgs is the parsed command line of inspect and discard.
type areaArgs struct {
	offset    uint64
	partition int
	asJSON    bool // inspect
	dryRun    bool // discard
}

func inspectFlags(env Env) (*flagSet, *areaArgs) {
	var a areaArgs
	fs := newFlags(env, "inspect", "DEV|FILE [--offset PAGES] [--partition N] [--json]", `
Shows what a swap device, a disk image's partition or a swap file holds: a plain swap area,
a hibernation image (the kernel's S1SUSPEND, or uswsusp, TuxOnIce and the others blkid
knows), its size, compression, and our image record (which kernel made it). Reads only.
Exit status: 0 a valid image is there; 1 no image; 2 an image that is not valid; 3 unreadable.`)
	fs.Uint64Var(&a.offset, "offset", 0, "where the swap area starts, in pages (a swap file's resume_offset)")
	fs.IntVar(&a.partition, "partition", 0, "read partition N of a GPT disk image instead of the whole file")
	fs.BoolVar(&a.asJSON, "json", false, "print the report as JSON")
	return fs, &a
}

func runInspect(env Env, args []string) error {
	fs, fl := inspectFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one device or file: %w", errUsage)
	}
	path := fs.Arg(0)
	ar, err := openArea(path, fl.partition, false)
	if err != nil {
		return &ExitError{Code: 3, Err: err}
	}
	defer ar.f.Close()
	a, err := swsusp.ReadArea(ar, ar.size, fl.offset)
	if err != nil {
		return &ExitError{Code: 3, Err: fmt.Errorf("read %s: %w", ar.where, err)}
	}
	path = ar.where
	rep := inspectReport{Path: path, OffsetPages: fl.offset, Signature: string(a.Sig), Kind: a.Kind(),
		SwapUUID: a.Swap.UUIDString(), SwapLabel: a.Swap.Label, Valid: a.Valid(), Problems: a.Problems, Record: a.Record}
	if rep.Problems == nil {
		rep.Problems = []string{}
	}
	if a.Record != nil && a.Record.KernelRelease != "" && a.HasImage() {
		rep.KernelRelease = &a.Record.KernelRelease
	}
	if h := a.Header; h != nil && a.HasImage() {
		comp, crc, plat := !h.NoCompress(), h.CRC32Mode(), h.Platform()
		rep.Compressed, rep.CRC32Mode, rep.PlatformMode, rep.Compressor = &comp, &crc, &plat, h.Compressor()
		rep.SwapPages = a.DataPages + uint64(a.MapPages)
	}
	if i := a.Info; i != nil {
		rep.ImagePages, rep.ImageBytes, rep.NumPhysPages = &i.ImagePages, &i.Size, &i.NumPhysPages
	}
	if fl.asJSON {
		if err := printJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printInspect(env, rep)
	}
	switch {
	case !a.HasImage():
		return &ExitError{Code: 1, Err: fmt.Errorf("%s: no hibernation image (%s)", path, a.Kind())}
	case !a.Valid():
		return &ExitError{Code: 2, Err: fmt.Errorf("%s: the image is not valid: %v", path, a.Problems)}
	}
	return nil
}

func printInspect(env Env, r inspectReport) {
	w := env.Stdout
	fmt.Fprintf(w, "%s (page %d): %s", r.Path, r.OffsetPages, r.Kind)
	if r.SwapUUID != "" {
		fmt.Fprintf(w, ", UUID %s", r.SwapUUID)
	}
	if r.SwapLabel != "" {
		fmt.Fprintf(w, ", label %q", r.SwapLabel)
	}
	fmt.Fprintln(w)
	if r.ImageBytes != nil {
		fmt.Fprintf(w, "  image: %d pages (%.1f MiB in memory), %d swap pages on disk (%.1f MiB), compressor %s, crc32 %v, platform mode %v\n",
			*r.ImagePages, float64(*r.ImageBytes)/(1<<20), r.SwapPages, float64(r.SwapPages*swsusp.PageSize)/(1<<20), r.Compressor, *r.CRC32Mode, *r.PlatformMode)
	}
	if r.Record != nil {
		fmt.Fprintf(w, "  record: kernel %s, boot %s, stamped %s\n", r.Record.KernelRelease, r.Record.BootID, r.Record.Stamped.Format("2006-01-02 15:04:05Z07:00"))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}
