// Package swsusp reads and writes the on-disk formats of the kernel's
// suspend-to-disk (swsusp) on x86_64 with 4096-byte pages: the swap area
// header that mkswap writes, the hibernation signature and swsusp_header that
// the kernel puts in the same page, the chain of swap_map_pages and the
// swsusp_info page of an image, and our own image Record kept in spare bytes
// of that page.
//
// Page 0 of a swap area (offsets in bytes; checked against
// include/linux/swap.h, kernel/power/swap.c, util-linux mkswap.c and
// libblkid/src/superblocks/swap.c):
//
//	   0..1024  bootbits: mkswap zeroes them unless a partition table is there
//	1024..1028  version (1)
//	1028..1032  last_page
//	1032..1036  nr_badpages
//	1036..1052  uuid
//	1052..1068  label (volume name, NUL-terminated, at most 15 bytes)
//	1068..1536  padding[117]; libblkid reports UUID and label only if
//	            padding[32] and padding[33] (1196..1204) are zero
//	1536..      badpages[nr_badpages], at most 637 entries (to 4084)
//	2048..4056  our Record (see RecordOffset for why there)
//	4056..4060  hw_sig     \
//	4060..4064  crc32       |
//	4064..4072  image       | swsusp_header, written by mark_swapfiles
//	4072..4076  flags       | only when an image has been saved
//	4076..4086  orig_sig    |
//	4086..4096  sig        /  "SWAPSPACE2", or "S1SUSPEND\0" over it
//
// All page numbers in an image (swsusp_header.image, map entries, next_swap)
// are absolute PAGE_SIZE-unit indexes on the block device that holds the swap
// area, also when the area is a swap file at some resume_offset. So ReadArea
// wants the device (or an image of it), not the swap file.
//
// The parsers (ParsePage0, ParseSwapHeader, ParseHeader, ParseInfo,
// ParseMapPage, DecodeRecord) work on byte slices and never do I/O, so that
// they can be fuzzed; ReadArea, Discard, StampRecord and Mkswap do the I/O.
package swsusp
