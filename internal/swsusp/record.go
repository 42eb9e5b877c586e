package swsusp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Where the Record lives in page 0, and why there.
//
// The kernel's swsusp_header takes the last 40 bytes of the page:
// reserved[PAGE_SIZE - 20 - sizeof(sector_t) - sizeof(int) - sizeof(u32) -
// sizeof(u32)] = 4096 - 20 - 8 - 4 - 4 - 4 = 4056 bytes, so hw_sig starts at
// 4056. mark_swapfiles and swsusp_check read the whole page, change only
// those 40 bytes and write it back; swapon only reads it.
//
// Before it: the bad-pages list at 1536, nr_badpages entries of 4 bytes. Its
// maximum, MAX_SWAP_BADPAGES = (4086 - 1536) / 4 = 637 (util-linux:
// (4096 - 1024 - 128·4 - 10) / 4 = 637), would end at 1536 + 637·4 = 4084,
// over the swsusp_header itself: no byte of 1536..4056 is free for every
// nr_badpages. The kernel reads only nr_badpages entries, and mkswap without
// -c writes 0. So the record starts at 2048, which leaves room for 128 bad
// pages (1536 + 128·4 = 2048), and ends at 4056: RecordMaxSize = 2008 bytes.
// StampRecord refuses an area with more than RecordMaxBadPages bad pages.
// mkswap rewrites 1024..4096 from a zeroed buffer, so a new mkswap clears
// the record, as it should. Offset 2048 was checked in QEMU (6.1, 6.12) to
// be accepted by swapon, kept by mark_swapfiles and by the reset at resume.
const (
	RecordOffset      = 2048
	RecordEnd         = offHWSig // 4056
	RecordMaxSize     = RecordEnd - RecordOffset
	RecordMaxBadPages = (RecordOffset - offBadPages) / 4 // 128
	RecordVersion     = 1
	recordMagic       = "HIBREC01"
	recordHeaderLen   = 8 + 2 + 2 + 4 // magic, version, payload length, crc32
)

// Record is what we note about an image at hibernate time, so that the
// initramfs can tell which kernel made it.
type Record struct {
	Version       int    // format version; 0 in EncodeRecord means RecordVersion
	KernelRelease string // uname -r of the kernel that hibernated
	KernelVersion string // uname -v (build string)
	BootID        string // /proc/sys/kernel/random/boot_id of that boot
	KernelPath    string // kernel image on the boot partition, for kexec
	InitrdPath    string
	BootFSUUID    string // filesystem UUID of the partition holding KernelPath
	Cmdline       string // /proc/cmdline of that boot
	RAMBytes      uint64
	Stamped       time.Time
}

// Encoding: magic "HIBREC01", version u16, payload length u16, crc32 (IEEE)
// of version+length+payload, then the payload: fields as tag u8, length u16,
// bytes. Unknown tags are skipped, so later versions may add fields; empty
// fields are left out. All numbers little-endian.
const (
	tagKernelRelease = 1 + iota
	tagKernelVersion
	tagBootID
	tagKernelPath
	tagInitrdPath
	tagBootFSUUID
	tagCmdline
	tagRAMBytes
	tagStamped // unix nanoseconds, int64
)

// EncodeRecord returns the bytes of r as kept at RecordOffset; at most
// RecordMaxSize.
func EncodeRecord(r Record) ([]byte, error) {
	if r.Version != 0 && r.Version != RecordVersion {
		return nil, fmt.Errorf("record version %d: this code writes version %d", r.Version, RecordVersion)
	}
	p := make([]byte, recordHeaderLen, 256)
	str := func(tag byte, s string) {
		if s == "" {
			return
		}
		p = append(p, tag)
		p = binary.LittleEndian.AppendUint16(p, uint16(min(len(s), 0xffff)))
		p = append(p, s...)
	}
	str(tagKernelRelease, r.KernelRelease)
	str(tagKernelVersion, r.KernelVersion)
	str(tagBootID, r.BootID)
	str(tagKernelPath, r.KernelPath)
	str(tagInitrdPath, r.InitrdPath)
	str(tagBootFSUUID, r.BootFSUUID)
	str(tagCmdline, r.Cmdline)
	if r.RAMBytes != 0 {
		p = append(p, tagRAMBytes, 8, 0)
		p = binary.LittleEndian.AppendUint64(p, r.RAMBytes)
	}
	if !r.Stamped.IsZero() {
		ns := r.Stamped.UnixNano()
		if r.Stamped.Year() < 1678 || r.Stamped.Year() > 2261 {
			return nil, fmt.Errorf("record stamp %v is outside the years 1678..2261 that fit in nanoseconds", r.Stamped)
		}
		p = append(p, tagStamped, 8, 0)
		p = binary.LittleEndian.AppendUint64(p, uint64(ns))
	}
	if len(p) > RecordMaxSize {
		return nil, fmt.Errorf("record is %d bytes, room is %d (at %d..%d of the header page); shorten the command line or paths",
			len(p), RecordMaxSize, RecordOffset, RecordEnd)
	}
	copy(p, recordMagic)
	binary.LittleEndian.PutUint16(p[8:], RecordVersion)
	binary.LittleEndian.PutUint16(p[10:], uint16(len(p)-recordHeaderLen))
	binary.LittleEndian.PutUint32(p[12:], recordCRC(p))
	return p, nil
}

func recordCRC(rec []byte) uint32 {
	c := crc32.ChecksumIEEE(rec[8:12])
	return crc32.Update(c, crc32.IEEETable, rec[recordHeaderLen:])
}

// ErrCorruptRecord is wrapped by DecodeRecord's errors.
var ErrCorruptRecord = errors.New("corrupt image record")

// DecodeRecord reads the record in a header page (the whole page, or at
// least its first RecordEnd bytes). A page with no record gives (nil, nil);
// a record that does not check out gives an error wrapping ErrCorruptRecord.
func DecodeRecord(page []byte) (*Record, error) {
	region := recordRegion(page)
	if region == nil {
		return nil, nil
	}
	version, payload, err := recordPayload(region)
	if err != nil {
		return nil, err
	}
	r := &Record{Version: version}
	if err := r.decodeFields(payload); err != nil {
		return nil, err
	}
	return r, nil
}

// recordRegion returns the record region of page (RecordOffset up to
// RecordEnd, or the page's end) when it starts with the record magic, else nil.
func recordRegion(page []byte) []byte {
	if len(page) < RecordOffset+len(recordMagic) {
		return nil
	}
	region := page[RecordOffset:min(len(page), RecordEnd)]
	if !bytes.HasPrefix(region, []byte(recordMagic)) {
		return nil
	}
	return region
}

// corruptRecord is the error for a record that does not check out: it wraps
// ErrCorruptRecord and says where the record is.
func corruptRecord(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrCorruptRecord, RecordOffset, fmt.Sprintf(format, args...))
}

// recordPayload checks the header of the record that starts region (a
// version, a payload length that fits, the crc32) and returns the version
// and the payload.
func recordPayload(region []byte) (version int, payload []byte, err error) {
	if len(region) < recordHeaderLen {
		return 0, nil, corruptRecord("header cut short (%d bytes)", len(region))
	}
	le := binary.LittleEndian
	version = int(le.Uint16(region[8:]))
	n := int(le.Uint16(region[10:]))
	if version == 0 {
		return 0, nil, corruptRecord("version 0")
	}
	if recordHeaderLen+n > len(region) {
		return 0, nil, corruptRecord("payload of %d bytes does not fit in %d", n, len(region)-recordHeaderLen)
	}
	rec := region[:recordHeaderLen+n]
	if got, want := recordCRC(rec), le.Uint32(region[12:]); got != want {
		return 0, nil, corruptRecord("crc32 is %08x, stored %08x", got, want)
	}
	return version, rec[recordHeaderLen:], nil
}

// decodeFields sets r's fields from a record's payload, in which each tag
// comes at most once.
func (r *Record) decodeFields(payload []byte) error {
	var seen [256]bool
	for p := payload; len(p) > 0; {
		tag, v, rest, err := nextField(p)
		if err != nil {
			return err
		}
		p = rest
		if seen[tag] {
			return corruptRecord("field %d twice", tag)
		}
		seen[tag] = true
		if err := r.setField(tag, v); err != nil {
			return err
		}
	}
	return nil
}

// nextField splits the field at the start of p (tag u8, length u16, bytes)
// from the fields after it.
func nextField(p []byte) (tag byte, v, rest []byte, err error) {
	if len(p) < 3 {
		return 0, nil, nil, corruptRecord("field header cut short")
	}
	tag, l := p[0], int(binary.LittleEndian.Uint16(p[1:]))
	p = p[3:]
	if l > len(p) {
		return 0, nil, nil, corruptRecord("field %d of %d bytes runs past the end", tag, l)
	}
	return tag, p[:l], p[l:], nil
}

// setField sets the field of r that tag names to v. A tag this version does
// not know is a field of a later version: it is skipped.
func (r *Record) setField(tag byte, v []byte) error {
	switch tag {
	case tagKernelRelease:
		r.KernelRelease = string(v)
	case tagKernelVersion:
		r.KernelVersion = string(v)
	case tagBootID:
		r.BootID = string(v)
	case tagKernelPath:
		r.KernelPath = string(v)
	case tagInitrdPath:
		r.InitrdPath = string(v)
	case tagBootFSUUID:
		r.BootFSUUID = string(v)
	case tagCmdline:
		r.Cmdline = string(v)
	case tagRAMBytes, tagStamped:
		if len(v) != 8 {
			return corruptRecord("field %d is %d bytes, want 8", tag, len(v))
		}
		n := binary.LittleEndian.Uint64(v)
		if tag == tagRAMBytes {
			r.RAMBytes = n
		} else {
			r.Stamped = time.Unix(0, int64(n)).UTC()
		}
	}
	return nil
}

// ReadWriterAt is a device or file to change in place.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// StampRecord writes r into the header page of the swap area at page
// offsetPages of rw. It writes only the record region (RecordOffset to
// RecordEnd; the record, then zeros) and changes no other byte. It refuses
// an area that is not a plain version 1 swap area (an image already there
// would be misattributed), one with more bad pages than the region leaves
// room for, and one whose region holds bytes that are not ours.
func StampRecord(rw ReadWriterAt, offsetPages uint64, r Record) error {
	enc, err := EncodeRecord(r)
	if err != nil {
		return err
	}
	page, err := regionCheck(rw, offsetPages)
	if err != nil {
		return err
	}
	if a := ParsePage0(page); a.Sig != SigSwap {
		if a.Sig == SigSwsusp {
			return fmt.Errorf("stamp record at page %d: the area holds a hibernation image already; discard it first", offsetPages)
		}
		return fmt.Errorf("stamp record at page %d: not a swap area (signature %q); run mkswap first", offsetPages, a.Sig)
	}
	region := make([]byte, RecordMaxSize)
	copy(region, enc)
	off := int64(offsetPages*PageSize) + RecordOffset
	if _, err := rw.WriteAt(region, off); err != nil {
		return fmt.Errorf("stamp record: write %d bytes at byte %d: %w", len(region), off, err)
	}
	if err := readPage(rw, offsetPages, page); err != nil {
		return fmt.Errorf("stamp record: read back: %w", err)
	}
	if got, err := DecodeRecord(page); err != nil || got == nil {
		return fmt.Errorf("stamp record: read back at byte %d does not decode (%v); the device did not keep the write", off, err)
	}
	return nil
}

// ClearRecord zeroes the record region of the area at page offsetPages if
// it holds a record (valid or corrupt), and does nothing otherwise. It
// reports whether it wrote.
func ClearRecord(rw ReadWriterAt, offsetPages uint64) (bool, error) {
	page := make([]byte, PageSize)
	if err := readPage(rw, offsetPages, page); err != nil {
		return false, fmt.Errorf("clear record: %w", err)
	}
	if !bytes.HasPrefix(page[RecordOffset:], []byte(recordMagic)) {
		return false, nil
	}
	off := int64(offsetPages*PageSize) + RecordOffset
	if _, err := rw.WriteAt(make([]byte, RecordMaxSize), off); err != nil {
		return false, fmt.Errorf("clear record: write %d bytes at byte %d: %w", RecordMaxSize, off, err)
	}
	return true, nil
}

// regionCheck reads the header page and checks that the record region may
// be written: few enough bad pages, and nothing but zeros or our record.
func regionCheck(r io.ReaderAt, offsetPages uint64) ([]byte, error) {
	page := make([]byte, PageSize)
	if err := readPage(r, offsetPages, page); err != nil {
		return nil, fmt.Errorf("stamp record: %w", err)
	}
	sh, _ := ParseSwapHeader(page)
	if sh.NrBadPages > RecordMaxBadPages {
		return nil, fmt.Errorf("stamp record at page %d: the area lists %d bad pages, their list reaches byte %d, past %d where the record goes",
			offsetPages, sh.NrBadPages, offBadPages+4*uint64(sh.NrBadPages), RecordOffset)
	}
	region := page[RecordOffset:RecordEnd]
	if !bytes.HasPrefix(region, []byte(recordMagic)) && !allZero(region) {
		return nil, fmt.Errorf("stamp record at page %d: bytes %d..%d hold data that is not an image record; not overwriting them",
			offsetPages, RecordOffset, RecordEnd)
	}
	return page, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
