package swsusp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Flags of swsusp_header.flags (kernel/power/power.h).
const (
	FlagPlatform   = 1  // SF_PLATFORM_MODE: hibernated through ACPI S4
	FlagNoCompress = 2  // SF_NOCOMPRESS_MODE
	FlagCRC32      = 4  // SF_CRC32_MODE: crc32 holds crc32_le of the data
	FlagHWSig      = 8  // SF_HW_SIG: hw_sig holds the ACPI FACS signature
	FlagLZ4        = 16 // SF_COMPRESSION_ALG_LZ4 (6.9+); LZO when clear
	knownFlags     = FlagPlatform | FlagNoCompress | FlagCRC32 | FlagHWSig | FlagLZ4
)

// Header is the kernel's swsusp_header (kernel/power/swap.c), in the last
// 40 bytes of the area's page 0. It means something when Sig is S1SUSPEND.
type Header struct {
	Sig        Signature
	OrigSig    Signature // the swap magic the kernel replaced; "" if not a known one
	OrigSigRaw [10]byte  // orig_sig as stored
	Image      uint64    // page index of the first swap_map_page
	Flags      uint32
	CRC32      uint32
	HWSig      uint32
}

// Platform reports SF_PLATFORM_MODE.
func (h Header) Platform() bool { return h.Flags&FlagPlatform != 0 }

// NoCompress reports SF_NOCOMPRESS_MODE.
func (h Header) NoCompress() bool { return h.Flags&FlagNoCompress != 0 }

// CRC32Mode reports SF_CRC32_MODE.
func (h Header) CRC32Mode() bool { return h.Flags&FlagCRC32 != 0 }

// HWSigMode reports SF_HW_SIG.
func (h Header) HWSigMode() bool { return h.Flags&FlagHWSig != 0 }

// LZ4 reports SF_COMPRESSION_ALG_LZ4.
func (h Header) LZ4() bool { return h.Flags&FlagLZ4 != 0 }

// Compressor returns "none", "lz4" or "lzo": how the data pages are stored.
func (h Header) Compressor() string {
	switch {
	case h.NoCompress():
		return "none"
	case h.LZ4():
		return "lz4"
	}
	return "lzo"
}

// ParseHeader reads swsusp_header from page 0. The error names each field
// the kernel would not accept; the header is returned anyway.
func ParseHeader(page []byte) (Header, error) {
	var h Header
	if len(page) < PageSize {
		return h, fmt.Errorf("swsusp_header: page is %d bytes, want %d", len(page), PageSize)
	}
	le := binary.LittleEndian
	h.Sig = sigAt(page[offSig : offSig+sigLen])
	copy(h.OrigSigRaw[:], page[offOrigSig:offOrigSig+sigLen])
	h.OrigSig = sigAt(h.OrigSigRaw[:])
	h.Image = le.Uint64(page[offImage:])
	h.Flags = le.Uint32(page[offFlags:])
	h.CRC32 = le.Uint32(page[offCRC32:])
	h.HWSig = le.Uint32(page[offHWSig:])
	var errs []error
	if h.Sig != SigSwsusp {
		errs = append(errs, fmt.Errorf("swsusp_header: signature %q is not %q", page[offSig:offSig+sigLen], hibernateMagic))
	}
	if h.Sig == SigSwsusp && page[offSig+9] != 0 {
		// libblkid matches 9 bytes; swsusp_check memcmp()s all 10.
		errs = append(errs, fmt.Errorf("swsusp_header: signature %q does not end in NUL: the kernel does not take it for an image", page[offSig:offSig+sigLen]))
	}
	if h.OrigSig != SigSwap && h.OrigSig != SigSwapV0 {
		errs = append(errs, fmt.Errorf("swsusp_header: orig_sig %q is not a swap signature; restoring it would not give a swap area", h.OrigSigRaw[:]))
	}
	if h.Flags&^knownFlags != 0 {
		errs = append(errs, fmt.Errorf("swsusp_header: unknown flags %#x", h.Flags&^knownFlags))
	}
	if h.NoCompress() && h.LZ4() {
		errs = append(errs, errors.New("swsusp_header: flags say both uncompressed and LZ4"))
	}
	return h, errors.Join(errs...)
}

// Map pages (struct swap_map_page): 511 page indexes, then next_swap.
const (
	MapEntries   = PageSize/8 - 1 // MAP_PAGE_ENTRIES
	offNextSwap  = MapEntries * 8 // 4088
	x86RestoreV2 = 0x23456789ABCDEF02
	x86RestoreV1 = 0x23456789ABCDEF01 // 4.x kernels, MD5 e820 digest
)

// ParseMapPage returns the entries of a swap_map_page and its next_swap.
// An entry of 0 ends the listed pages.
func ParseMapPage(page []byte) (entries []uint64, next uint64, err error) {
	if len(page) < PageSize {
		return nil, 0, fmt.Errorf("map page is %d bytes, want %d", len(page), PageSize)
	}
	entries = make([]uint64, MapEntries)
	for i := range entries {
		entries[i] = binary.LittleEndian.Uint64(page[i*8:])
	}
	return entries, binary.LittleEndian.Uint64(page[offNextSwap:]), nil
}
