package swsusp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// PageSize is the page size of the formats handled here (x86_64).
const PageSize = 4096

// Byte offsets in page 0 of a swap area. See the package comment.
const (
	bootbitsSize   = 1024
	offVersion     = 1024
	offLastPage    = 1028
	offNrBadPages  = 1032
	offUUID        = 1036
	offLabel       = 1052
	offPadding     = 1068
	offBlkidCheck  = offPadding + 32*4 // padding[32] and padding[33]
	offBadPages    = 1536
	offMagic       = PageSize - 10 // 4086
	offHWSig       = 4056          // PAGE_SIZE - 20 - sizeof(sector_t) - sizeof(int) - 2*sizeof(u32)
	offCRC32       = 4060
	offImage       = 4064
	offFlags       = 4072
	offOrigSig     = 4076
	offSig         = offMagic
	offUswsuspImg  = 4068 // uswsusp: loff_t image just before orig_sig
	toiMagicOffset = 0
	sigLen         = 10
	labelLen       = 16

	// MaxBadPages is the kernel's MAX_SWAP_BADPAGES for 4096-byte pages:
	// (offsetof(magic) - offsetof(badpages)) / 4 = (4086 - 1536) / 4.
	MaxBadPages = (offMagic - offBadPages) / 4
)

// Signature names what the last bytes of page 0 (or, for TuxOnIce, the
// first) say the area holds.
type Signature string

// Known signatures.
const (
	SigNone       Signature = ""
	SigSwap       Signature = "SWAPSPACE2" // swap area, version 1 header
	SigSwapV0     Signature = "SWAP-SPACE" // old v0 swap area (no UUID, no label)
	SigSwsusp     Signature = "S1SUSPEND"  // kernel hibernation image
	SigSuspend2   Signature = "S2SUSPEND"  // suspend2 (TuxOnIce's predecessor)
	SigUswsusp    Signature = "ULSUSPEND"  // uswsusp (s2disk) image
	SigLinHib     Signature = "LINHIB0001" // blkid knows it; same place
	SigTuxOnIce   Signature = "TuxOnIce"   // magic ed c3 02 e9 98 56 e5 0c at offset 0
	tuxOnIceMagic           = "\xed\xc3\x02\xe9\x98\x56\xe5\x0c"
)

// hibernateMagic is what the kernel writes at 4086: "S1SUSPEND" and a NUL.
var hibernateMagic = []byte("S1SUSPEND\x00")

// sigAt names the 10-byte magic b (as found at 4086 or in orig_sig). Like
// libblkid, the *SUSPEND magics compare 9 bytes.
func sigAt(b []byte) Signature {
	if len(b) < sigLen {
		return SigNone
	}
	b = b[:sigLen]
	switch {
	case string(b) == string(SigSwap):
		return SigSwap
	case string(b) == string(SigSwapV0):
		return SigSwapV0
	case string(b) == string(SigLinHib):
		return SigLinHib
	case string(b[:9]) == string(SigSwsusp):
		return SigSwsusp
	case string(b[:9]) == string(SigSuspend2):
		return SigSuspend2
	case string(b[:9]) == string(SigUswsusp):
		return SigUswsusp
	}
	return SigNone
}

// DetectSignature returns the signature of a header page. TuxOnIce is
// checked first, as libblkid does: it keeps a valid swap signature at the
// end of the page.
func DetectSignature(page []byte) Signature {
	if len(page) >= len(tuxOnIceMagic) && string(page[:len(tuxOnIceMagic)]) == tuxOnIceMagic {
		return SigTuxOnIce
	}
	if len(page) < PageSize {
		return SigNone
	}
	return sigAt(page[offSig : offSig+sigLen])
}

// Area is what one swap area (the page at some page offset of a device)
// holds.
type Area struct {
	Sig Signature
	// Swap is the swap header; present for SWAPSPACE2 and for the hibernation
	// signatures, which keep mkswap's UUID and label.
	Swap SwapHeader
	// Header is the swsusp_header; set for S1SUSPEND, and for ULSUSPEND
	// (only Sig, OrigSig and Image, uswsusp's layout).
	Header *Header
	// Info is the swsusp_info page, the first page listed in the map chain.
	Info *Info
	// HeaderPage is the header page as it was read (PageSize bytes; nil from ParsePage0): what
	// /init puts back when the kernel refused the image and another kernel is to resume it.
	HeaderPage []byte
	// MapPages is how many swap_map_pages the chain walk read.
	MapPages int
	// Partial says the walk stopped after the first map page on purpose (ReadAreaHead): the
	// rest of the chain was not read, and DataPages counts the first page's entries only.
	Partial bool
	// DataPages counts the pages the map chain lists, the info page included.
	DataPages uint64
	// Problems names each thing wrong with the area's format, one line each.
	Problems []string
	// Record is our image record, when page 0 holds one (see StampRecord).
	// It tells something only alongside an S1SUSPEND image; a record next to
	// SWAPSPACE2 is left from an image that was resumed or discarded.
	Record *Record
	// RecordErr is set when page 0 holds a record that does not decode. It is
	// kept out of Problems: the kernel never reads those bytes, so a bad
	// record does not make the image unresumable; the caller decides.
	RecordErr error
}

func (a *Area) addf(format string, args ...any) {
	a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
}

// Kind names what the area is: "swap", "swap-v0", "swsusp" (a kernel
// hibernation image), "uswsusp", "suspend2", "linhib", "tuxonice", or
// "none".
func (a *Area) Kind() string {
	if a == nil {
		return "none"
	}
	switch a.Sig {
	case SigSwap:
		return "swap"
	case SigSwapV0:
		return "swap-v0"
	case SigSwsusp:
		return "swsusp"
	case SigUswsusp:
		return "uswsusp"
	case SigSuspend2:
		return "suspend2"
	case SigLinHib:
		return "linhib"
	case SigTuxOnIce:
		return "tuxonice"
	}
	return "none"
}

// HasImage reports whether the area carries the kernel's hibernation
// signature, S1SUSPEND (compared on 9 bytes, as libblkid does; the kernel
// also wants the NUL after it, which Valid checks): the kernel would try to
// resume it, and would reset the signature first. Check Valid for whether
// the image looks whole.
func (a *Area) HasImage() bool {
	return a != nil && a.Sig == SigSwsusp && a.Header != nil
}

// ImageRecord returns the Record when it describes an image: when the
// area holds one (HasImage). A record beside a plain swap signature is left
// from an image that is gone, and says nothing.
func (a *Area) ImageRecord() *Record {
	if !a.HasImage() {
		return nil
	}
	return a.Record
}

// Valid reports whether the area is what its signature says with no format
// problem found: for a swap area a usable version 1 header, for an image a
// header, an unbroken map chain inside the device and a sane info page.
func (a *Area) Valid() bool {
	return a != nil && a.Sig != SigNone && len(a.Problems) == 0
}

// ParsePage0 parses the header page of a swap area (PageSize bytes): the
// signature, the swap header, the swsusp_header and our record. It never
// does I/O and never panics; what is wrong goes to Area.Problems.
func ParsePage0(page []byte) *Area {
	a := &Area{}
	if len(page) < PageSize {
		a.Sig = DetectSignature(page)
		a.addf("header page is %d bytes, want %d", len(page), PageSize)
		return a
	}
	page = page[:PageSize]
	a.Sig = DetectSignature(page)
	switch a.Sig {
	case SigNone:
		return a
	case SigSwapV0:
		a.addf("old v0 swap area (SWAP-SPACE): the kernel no longer supports it; run mkswap")
		return a
	}
	sh, err := ParseSwapHeader(page)
	a.Swap = sh
	if err != nil {
		a.addf("%v", err)
	}
	switch a.Sig {
	case SigSwsusp:
		h, err := ParseHeader(page)
		a.Header = &h
		if err != nil {
			a.addf("%v", err)
		}
	case SigUswsusp:
		h := Header{
			Sig:   a.Sig,
			Image: binary.LittleEndian.Uint64(page[offUswsuspImg:]),
		}
		copy(h.OrigSigRaw[:], page[offOrigSig:offOrigSig+sigLen])
		h.OrigSig = sigAt(h.OrigSigRaw[:])
		a.Header = &h
	}
	a.Record, a.RecordErr = DecodeRecord(page)
	return a
}

// ReadArea reads the swap area whose header page is at page offsetPages of
// r (a device of size bytes, or an image of one): page 0, and for an
// S1SUSPEND image the map chain and the info page. It returns an error only
// when a read fails; format problems go to Area.Problems. It never reads
// outside [0, size).
func ReadArea(r io.ReaderAt, size int64, offsetPages uint64) (*Area, error) {
	return readArea(r, size, offsetPages, maxMapPages)
}

// ReadAreaHead is ReadArea that reads of an image only the header, the first map page and the
// info page: what deciding to resume needs, in three reads where the whole chain takes one a
// map page (every 511 pages of image, scattered over the area: about 90 reads for a 170 MiB
// image). The kernel reads the chain itself when it loads the image and fails the load of a
// broken one; it has put the swap signature back by then, so the boot goes on fresh.
func ReadAreaHead(r io.ReaderAt, size int64, offsetPages uint64) (*Area, error) {
	return readArea(r, size, offsetPages, 1)
}

func readArea(r io.ReaderAt, size int64, offsetPages uint64, mapLimit int) (*Area, error) {
	if size < 0 {
		size = 0
	}
	devPages := uint64(size) / PageSize
	if offsetPages >= devPages {
		a := &Area{}
		a.addf("offset %d pages is past the end of the device (%d pages)", offsetPages, devPages)
		return a, nil
	}
	page := make([]byte, PageSize)
	if err := readPage(r, offsetPages, page); err != nil {
		return nil, err
	}
	a := ParsePage0(page)
	a.HeaderPage = append([]byte(nil), page...) // page is the walk's buffer from here on
	if a.Sig == SigSwap || a.Sig == SigSwsusp {
		// A partition's area starts at page 0 and must fit the device; a swap
		// file's pages are elsewhere on it, so its size cannot be checked here.
		if offsetPages == 0 && a.Swap.Version == 1 && uint64(a.Swap.LastPage) >= devPages {
			a.addf("swap header says last page %d, but the device has %d pages", a.Swap.LastPage, devPages)
		}
	}
	if a.HasImage() {
		if err := walkImage(r, devPages, offsetPages, a, page, mapLimit); err != nil {
			return a, err
		}
	}
	return a, nil
}

// readPage reads page n of r into buf (PageSize bytes); the caller has
// checked n against the device size.
func readPage(r io.ReaderAt, n uint64, buf []byte) error {
	off := int64(n * PageSize)
	got, err := r.ReadAt(buf, off)
	if got == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read page %d (byte %d): %w", n, off, err)
}

// maxMapPages caps the chain walk: 2^20 map pages list 511·2^20 pages,
// about 2 TiB of image, more than any machine this runs on writes.
const maxMapPages = 1 << 20

// walkImage follows the map chain of the image whose header is in a, then
// reads the info page the chain names and checks the chain's length against it.
func walkImage(r io.ReaderAt, devPages, headerPage uint64, a *Area, buf []byte, mapLimit int) error {
	if a.Header.Image == 0 {
		a.addf("swsusp_header.image is 0: no map page (the kernel refuses it with EINVAL)")
		return nil
	}
	w := &imageWalk{r: r, a: a, buf: buf, devPages: devPages, headerPage: headerPage, mapLimit: mapLimit,
		seen: map[uint64]bool{}}
	if err := w.walkChain(); err != nil {
		return err
	}
	if w.badCount > 0 {
		a.addf("%d image pages lie outside the device or swap area (first: %s)", w.badCount, w.firstBad)
	}
	return w.readInfo()
}

// imageWalk is one walk of an image's map chain: where it may read, and
// what it found so far besides what goes into a.
type imageWalk struct {
	r          io.ReaderAt
	a          *Area
	buf        []byte // one page, reused for every read
	devPages   uint64
	headerPage uint64
	mapLimit   int

	seen      map[uint64]bool // map pages read
	infoPage  uint64          // entries[0] of the first map page
	badCount  uint64          // entries outside the area
	firstBad  string          // the first of them, named
	truncated bool            // the walk stopped on a problem before the chain's end
}

// inArea reports why page p cannot hold image data, or "".
func (w *imageWalk) inArea(p uint64) string {
	switch {
	case p >= w.devPages:
		return fmt.Sprintf("past the end of the device (%d pages)", w.devPages)
	case p == w.headerPage:
		return "the header page"
	case w.headerPage == 0 && w.a.Swap.Version == 1 && p > uint64(w.a.Swap.LastPage):
		return fmt.Sprintf("past the swap area's last page %d", w.a.Swap.LastPage)
	}
	return ""
}

// stop records a problem that ends the walk early; it returns false, for
// "do not go on".
func (w *imageWalk) stop(format string, args ...any) bool {
	w.a.addf(format, args...)
	w.truncated = true
	return false
}

// walkChain reads the map pages from the header's image page to the one
// whose next_swap is 0, or until a problem or the map page limit stops it.
func (w *imageWalk) walkChain() error {
	var prev uint64
	for cur := w.a.Header.Image; cur != 0; {
		if !w.mayRead(cur, prev) {
			return nil
		}
		w.seen[cur] = true
		if err := readPage(w.r, cur, w.buf); err != nil {
			return fmt.Errorf("image map page at page %d: %w", cur, err)
		}
		w.a.MapPages++
		next, ok := w.takeMapPage(cur)
		if !ok {
			return nil
		}
		prev, cur = cur, next
	}
	return nil
}

// mapPageName names the map page the walk is about to read, reached from
// page prev.
func (w *imageWalk) mapPageName(prev uint64) string {
	if w.a.MapPages == 0 {
		return "first map page"
	}
	return fmt.Sprintf("map page %d (linked from page %d)", w.a.MapPages+1, prev)
}

// mayRead reports whether the walk goes on to read the map page at page cur:
// not when it lies outside the area, was read already, or is past the limit.
func (w *imageWalk) mayRead(cur, prev uint64) bool {
	if why := w.inArea(cur); why != "" {
		return w.stop("image truncated: %s at page %d is %s", w.mapPageName(prev), cur, why)
	}
	if w.seen[cur] {
		return w.stop("map chain loops: %s is page %d, already read", w.mapPageName(prev), cur)
	}
	if w.a.MapPages < w.mapLimit {
		return true
	}
	if w.mapLimit < maxMapPages {
		w.a.Partial = true
		return false
	}
	return w.stop("map chain longer than %d pages; stopped reading", maxMapPages)
}

// takeMapPage counts the entries of the map page in w.buf (read from page
// cur) and returns the page it links to; ok is false when the walk stops here.
func (w *imageWalk) takeMapPage(cur uint64) (next uint64, ok bool) {
	entries, next, _ := ParseMapPage(w.buf)
	n := w.countEntries(entries)
	if w.a.MapPages == 1 {
		if n == 0 {
			return 0, w.stop("first map page (page %d) lists no pages: no info page", cur)
		}
		w.infoPage = entries[0]
	}
	w.a.DataPages += uint64(n)
	if n < len(entries) && next != 0 {
		return 0, w.stop("map page %d (page %d) ends after %d entries but links to page %d; the kernel stops reading there",
			w.a.MapPages, cur, n, next)
	}
	return next, true
}

// countEntries returns how many entries come before the first 0 (where the
// kernel stops reading a map page), and counts those outside the area.
func (w *imageWalk) countEntries(entries []uint64) int {
	n := 0
	for n < len(entries) && entries[n] != 0 {
		if why := w.inArea(entries[n]); why != "" {
			if w.badCount == 0 {
				w.firstBad = fmt.Sprintf("map page %d entry %d: page %d is %s", w.a.MapPages, n, entries[n], why)
			}
			w.badCount++
		}
		n++
	}
	return n
}

// readInfo reads the info page the first map page names, and when the whole
// chain was read and found sound, checks its length against the info page.
func (w *imageWalk) readInfo() error {
	if w.infoPage == 0 || w.inArea(w.infoPage) != "" {
		return nil
	}
	if err := readPage(w.r, w.infoPage, w.buf); err != nil {
		return fmt.Errorf("image info page at page %d: %w", w.infoPage, err)
	}
	info, err := ParseInfo(w.buf)
	w.a.Info = &info
	if err != nil {
		w.a.addf("%v", err)
		return nil
	}
	if w.truncated || w.badCount > 0 || w.a.Partial {
		return nil
	}
	checkPageCount(w.a, info)
	return nil
}

// checkPageCount cross-checks the count of stored pages (a.DataPages)
// against the info page's count of pages.
func checkPageCount(a *Area, info Info) {
	h := a.Header
	if h.NoCompress() {
		if a.DataPages != info.Pages {
			a.addf("image truncated: map chain lists %d pages, info page says %d", a.DataPages, info.Pages)
		}
		return
	}
	if info.Pages <= 1 {
		return
	}
	if maxPages := maxCompressedPages(info.Pages); a.DataPages > maxPages {
		a.addf("map chain lists %d pages, more than %d pages of %s data can take (%d)",
			a.DataPages, info.Pages, h.Compressor(), maxPages)
	}
	if a.DataPages < 2 {
		a.addf("image truncated: map chain lists only the info page, info page says %d pages", info.Pages)
	}
}

// maxCompressedPages is the most swap pages a compressed image of pages
// pages (the info page included) takes: the info page, then chunks of up to
// 32 pages, each at most 35 pages on disk
// (DIV_ROUND_UP(lzo1x_worst_compress(32·4096)+8, 4096)).
func maxCompressedPages(pages uint64) uint64 {
	chunks := (pages - 1 + cmpUncPages - 1) / cmpUncPages
	return 1 + chunks*cmpMaxPages
}

const (
	cmpUncPages = 32
	cmpMaxPages = 35
)

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
