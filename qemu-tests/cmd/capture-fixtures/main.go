// Command capture-fixtures makes the real-image fixtures of internal/swsusp (make fixtures): it
// hibernates QEMU guests running Debian's kernel, once with the kernel's default compression and
// once with hibernate=nocompress, and keeps of each swap partition only the pages a parser reads
// (the header page, the swap_map pages, the info page), with what the guest itself said about
// the image (its swap UUID from hibernate setup, "Need to copy N pages" from its console) as the
// expected values.
package main

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/scenario"
)

func main() {
	out := flag.String("out", "internal/swsusp/testdata", "folder for the fixtures")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "capture-fixtures: %v\n", err)
		os.Exit(1)
	}
}

// Expected is NAME.json: what the guest said, independent of our parser.
type Expected struct {
	Kernel     string `json:"kernel"`
	SizeBytes  int64  `json:"size_bytes"`
	SwapUUID   string `json:"swap_uuid"`
	ImagePages uint64 `json:"image_pages"` // the kernel's "Need to copy N pages"
	NoCompress bool   `json:"nocompress"`
	Cmdline    string `json:"cmdline"`
	Pages      []int  `json:"pages"` // the page indexes kept
}

var needToCopy = regexp.MustCompile(`Need to copy (\d+) pages`)

func run(out string) error {
	root, err := scenario.FindModuleRoot()
	if err != nil {
		return err
	}
	a, err := scenario.Discover(root, scenario.DefaultFlavour)
	if err != nil {
		return err
	}
	for _, c := range []struct{ name, cmdline string }{
		{"deb12-6.1-lzo-partition", ""},
		{"deb12-6.1-nocompress-partition", "hibernate=nocompress"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		h, err := scenario.Hibernate(ctx, a, "capture-"+c.name, scenario.Cmdline(c.cmdline), scenario.JobState(16), scenario.Output(os.Stdout))
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		exp := Expected{Kernel: a.Kernel.Release, SizeBytes: h.Guest.Layout.SwapSize, SwapUUID: h.Setup.UUID, NoCompress: c.cmdline != "", Cmdline: c.cmdline}
		log, err := os.ReadFile(h.Summary.Logs[0])
		if err != nil {
			return err
		}
		m := needToCopy.FindSubmatch(log)
		if m == nil {
			return fmt.Errorf("%s: no \"Need to copy N pages\" in %s", c.name, h.Summary.Logs[0])
		}
		exp.ImagePages, _ = strconv.ParseUint(string(m[1]), 10, 64)
		f, err := os.Open(h.Guest.Disk)
		if err != nil {
			return err
		}
		pages, err := keptPages(io.NewSectionReader(f, h.Guest.Layout.SwapStart, h.Guest.Layout.SwapSize))
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		for _, p := range pages {
			exp.Pages = append(exp.Pages, int(p.index))
		}
		if err := writeFixture(filepath.Join(out, c.name), exp, pages); err != nil {
			return err
		}
		fmt.Printf("capture-fixtures: %s: %d pages kept of a %d MiB area\n", c.name, len(pages), exp.SizeBytes>>20)
	}
	return nil
}

type page struct {
	index uint64
	data  []byte
}

// keptPages walks the image the simplest way, apart from internal/swsusp's parser: page 0, the
// chain of map pages from swsusp_header.image (next_swap at byte 4088), and the info page
// (the first map page's first entry).
func keptPages(r io.ReaderAt) ([]page, error) {
	read := func(i uint64) ([]byte, error) {
		b := make([]byte, 4096)
		if _, err := r.ReadAt(b, int64(i)*4096); err != nil {
			return nil, fmt.Errorf("read page %d: %w", i, err)
		}
		return b, nil
	}
	p0, err := read(0)
	if err != nil {
		return nil, err
	}
	if string(p0[4086:4095]) != "S1SUSPEND" {
		return nil, fmt.Errorf("no S1SUSPEND signature: %q", p0[4086:4096])
	}
	pages := []page{{0, p0}}
	next := binary.LittleEndian.Uint64(p0[4064:])
	var info uint64
	for n := 0; next != 0; n++ {
		if n > 10000 {
			return nil, fmt.Errorf("map chain longer than 10000 pages")
		}
		m, err := read(next)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page{next, m})
		if info == 0 {
			info = binary.LittleEndian.Uint64(m[0:])
		}
		next = binary.LittleEndian.Uint64(m[4088:])
	}
	ip, err := read(info)
	if err != nil {
		return nil, err
	}
	return append(pages, page{info, ip}), nil
}

// writeFixture writes NAME.pages.gz (magic "HIBPAGES", the area's size as a u64, then each kept
// page as its u64 index and its 4096 bytes, little-endian) and NAME.json.
func writeFixture(name string, exp Expected, pages []page) error {
	f, err := os.Create(name + ".pages.gz")
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	hdr := make([]byte, 16)
	copy(hdr, "HIBPAGES")
	binary.LittleEndian.PutUint64(hdr[8:], uint64(exp.SizeBytes))
	zw.Write(hdr)
	for _, p := range pages {
		var idx [8]byte
		binary.LittleEndian.PutUint64(idx[:], p.index)
		zw.Write(idx[:])
		zw.Write(p.data)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	j, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name+".json", append(j, '\n'), 0o644)
}
