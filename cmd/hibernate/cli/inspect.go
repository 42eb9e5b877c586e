package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
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

// area is a swap area's device: a whole file or device, or one partition of a disk image.
type area struct {
	f     *os.File
	base  int64 // byte offset of the partition in f (0 for a whole device)
	size  int64
	where string
}

func (a *area) ReadAt(p []byte, off int64) (int, error) {
	if off >= a.size {
		return 0, io.EOF
	}
	if max := a.size - off; int64(len(p)) > max {
		n, err := a.f.ReadAt(p[:max], a.base+off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return a.f.ReadAt(p, a.base+off)
}

func (a *area) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > a.size {
		return 0, fmt.Errorf("write at %d past the end of %s", off, a.where)
	}
	return a.f.WriteAt(p, a.base+off)
}

// openArea opens path, or its GPT partition number part (part > 0), for reading or writing.
func openArea(path string, part int, write bool) (*area, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := blockdev.Size(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	a := &area{f: f, size: size, where: path}
	if part > 0 {
		start, psize, err := partitionExtent(path, part)
		if err != nil {
			f.Close()
			return nil, err
		}
		a.base, a.size, a.where = start, psize, fmt.Sprintf("%s partition %d", path, part)
	}
	return a, nil
}

// partitionExtent is where GPT partition part of the disk image at path starts, and its length.
func partitionExtent(path string, part int) (int64, int64, error) {
	parts, err := blockdev.GPTPartitions(path)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range parts {
		if p.Number == part {
			return p.Start, p.Size, nil
		}
	}
	return 0, 0, fmt.Errorf("%s has no partition %d", path, part)
}

func runInspect(env Env, args []string) error {
	fs := newFlags(env, "inspect", "DEV|FILE [--offset PAGES] [--partition N] [--json]", `
Shows what a swap device, a disk image's partition or a swap file holds: a plain swap area,
a hibernation image (the kernel's S1SUSPEND, or uswsusp, TuxOnIce and the others blkid
knows), its size, compression, and our image record (which kernel made it). Reads only.
Exit status: 0 a valid image is there; 1 no image; 2 an image that is not valid; 3 unreadable.`)
	offset := fs.Uint64("offset", 0, "where the swap area starts, in pages (a swap file's resume_offset)")
	part := fs.Int("partition", 0, "read partition N of a GPT disk image instead of the whole file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one device or file: %w", errUsage)
	}
	path := fs.Arg(0)
	ar, err := openArea(path, *part, false)
	if err != nil {
		return &ExitError{Code: 3, Err: err}
	}
	defer ar.f.Close()
	a, err := swsusp.ReadArea(ar, ar.size, *offset)
	if err != nil {
		return &ExitError{Code: 3, Err: fmt.Errorf("read %s: %w", ar.where, err)}
	}
	path = ar.where
	rep := inspectReport{Path: path, OffsetPages: *offset, Signature: string(a.Sig), Kind: a.Kind(),
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
	if *asJSON {
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

func runDiscard(env Env, args []string) error {
	fs := newFlags(env, "discard", "DEV|FILE [--offset PAGES] [--partition N] [--dry-run]", `
Invalidates the hibernation image on DEV the way the kernel does (the swap signature it
replaced is written back), so the area is a plain swap area again and the image is never
resumed. Refuses what is not an image.`)
	offset := fs.Uint64("offset", 0, "where the swap area starts, in pages")
	part := fs.Int("partition", 0, "the area is partition N of a GPT disk image")
	dry := fs.Bool("dry-run", false, "say what would be written, write nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one device or file: %w", errUsage)
	}
	path := fs.Arg(0)
	ar, err := openArea(path, *part, !*dry)
	if err != nil {
		return err
	}
	defer ar.f.Close()
	f := ar.f
	path = ar.where
	plan, err := swsusp.Discard(ar, *offset, *dry)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !*dry {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", path, err)
		}
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", path, plan)
	return nil
}
