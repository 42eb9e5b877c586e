package swsusp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// MkswapOptions are the choices mkswap takes that change the bytes written.
type MkswapOptions struct {
	// UUID of the area; all zero means a random (version 4) one, as mkswap
	// does without -U.
	UUID [16]byte
	// Label, at most 15 bytes (mkswap truncates a longer one with a warning;
	// we refuse it).
	Label string
	// PageSize of the area; 0 means 4096. Only 4096 is of use on x86_64.
	PageSize int
}

// MkswapMinPages is mkswap's MIN_GOODPAGES: smaller areas are refused.
const MkswapMinPages = 10

// Mkswap writes a swap area header for an area of sizeBytes at the start of
// w, byte for byte what util-linux mkswap 2.38 writes for a file or a
// partition of that size with the same UUID and label: page 0 in full (the
// 1024 bootbits zeroed, as mkswap does when no partition table is found
// there, then the header written from a zeroed page). It writes nothing
// else: mkswap also has libblkid wipe the magic of any other filesystem or
// RAID signature it finds on the device, which this does not do; wipe a
// device that held something else first (wipefs -a).
func Mkswap(w io.WriterAt, sizeBytes int64, o MkswapOptions) error {
	page, err := MkswapPage(sizeBytes, o)
	if err != nil {
		return err
	}
	if _, err := w.WriteAt(page, 0); err != nil {
		return fmt.Errorf("mkswap: write %d-byte header at byte 0: %w", len(page), err)
	}
	if s, ok := w.(interface{ Sync() error }); ok {
		// mkswap fsyncs: swapon fails if the signature is not on disk yet.
		if err := s.Sync(); err != nil {
			return fmt.Errorf("mkswap: sync: %w", err)
		}
	}
	return nil
}

// MkswapPage returns the header page Mkswap writes.
func MkswapPage(sizeBytes int64, o MkswapOptions) ([]byte, error) {
	ps := o.PageSize
	if ps == 0 {
		ps = PageSize
	}
	if ps < PageSize || ps > 65536 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("mkswap: page size %d: want a power of two from 4096 to 65536", ps)
	}
	if sizeBytes < 0 {
		return nil, fmt.Errorf("mkswap: size %d is negative", sizeBytes)
	}
	npages := uint64(sizeBytes) / uint64(ps)
	if npages < MkswapMinPages {
		return nil, fmt.Errorf("mkswap: size %d bytes is %d pages; a swap area needs at least %d (%d KiB)",
			sizeBytes, npages, MkswapMinPages, MkswapMinPages*ps/1024)
	}
	// mkswap caps the area at UINT32_MAX pages (about 16 TiB), with a warning.
	npages = min(npages, math.MaxUint32)
	if len(o.Label) > labelLen-1 {
		return nil, fmt.Errorf("mkswap: label %q is %d bytes, at most %d fit", o.Label, len(o.Label), labelLen-1)
	}
	if strings.IndexByte(o.Label, 0) >= 0 {
		return nil, fmt.Errorf("mkswap: label %q holds a NUL byte", o.Label)
	}
	u := o.UUID
	if u == ([16]byte{}) {
		var err error
		if u, err = NewUUID(); err != nil {
			return nil, err
		}
	}
	page := make([]byte, ps)
	le := binary.LittleEndian
	le.PutUint32(page[offVersion:], 1)
	le.PutUint32(page[offLastPage:], uint32(npages-1))
	le.PutUint32(page[offNrBadPages:], 0)
	copy(page[offUUID:], u[:])
	copy(page[offLabel:], o.Label)
	copy(page[ps-sigLen:], SigSwap)
	return page, nil
}

// NewUUID returns a random version 4 UUID, as libuuid's uuid_generate does
// when it has a random source.
func NewUUID() ([16]byte, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("random UUID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u, nil
}
