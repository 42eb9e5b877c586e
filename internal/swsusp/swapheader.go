package swsusp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SwapHeader is the version 1 swap header that mkswap writes at 1024 of
// page 0 (union swap_header.info in include/linux/swap.h).
type SwapHeader struct {
	Version    uint32
	LastPage   uint32 // index of the last usable page: pages in the area - 1
	NrBadPages uint32
	UUID       [16]byte
	Label      string // volume name, up to its NUL
}

// UUIDString returns the UUID in canonical 8-4-4-4-12 lowercase form.
func (h SwapHeader) UUIDString() string { return FormatUUID(h.UUID) }

// FormatUUID returns u in canonical 8-4-4-4-12 lowercase form.
func FormatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ParseUUID parses the canonical form (either case, no braces or prefix).
func ParseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("UUID %q: want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	h := strings.ReplaceAll(s, "-", "")
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("UUID %q: %w", s, err)
	}
	return u, nil
}

// Pages returns the number of pages the area spans, header page included.
func (h SwapHeader) Pages() uint64 { return uint64(h.LastPage) + 1 }

// ParseSwapHeader reads the swap header fields of page 0. The error names
// what the kernel or libblkid would refuse; the header is returned anyway.
func ParseSwapHeader(page []byte) (SwapHeader, error) {
	var h SwapHeader
	if len(page) < PageSize {
		return h, fmt.Errorf("swap header: page is %d bytes, want %d", len(page), PageSize)
	}
	le := binary.LittleEndian
	h.Version = le.Uint32(page[offVersion:])
	h.LastPage = le.Uint32(page[offLastPage:])
	h.NrBadPages = le.Uint32(page[offNrBadPages:])
	copy(h.UUID[:], page[offUUID:offUUID+16])
	h.Label = cstring(page[offLabel : offLabel+labelLen])
	var errs []error
	switch {
	case h.Version == 1:
	case h.Version == 0x01000000:
		errs = append(errs, errors.New("swap header is byte-swapped (made on a big-endian machine); run mkswap"))
	default:
		errs = append(errs, fmt.Errorf("swap header version is %d, want 1", h.Version))
	}
	if h.Version == 1 {
		if h.LastPage == 0 {
			errs = append(errs, errors.New("swap header last_page is 0 (the kernel says \"Empty swap-file\")"))
		}
		if h.NrBadPages > MaxBadPages {
			errs = append(errs, fmt.Errorf("swap header nr_badpages is %d, more than the kernel's %d", h.NrBadPages, MaxBadPages))
		}
		if le.Uint32(page[offBlkidCheck:]) != 0 || le.Uint32(page[offBlkidCheck+4:]) != 0 {
			errs = append(errs, fmt.Errorf("swap header bytes %d..%d are not zero: libblkid will not report its UUID and label", offBlkidCheck, offBlkidCheck+8))
		}
	}
	return h, errors.Join(errs...)
}
