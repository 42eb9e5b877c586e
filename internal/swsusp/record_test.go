package swsusp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

var testRecord = Record{
	KernelRelease: "6.1.0-18-amd64",
	KernelVersion: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
	BootID:        "3f2b6a2e-5d0c-4a8e-9d7e-0c1b2a3d4e5f",
	KernelPath:    "/vmlinuz-6.1.0-18-amd64",
	InitrdPath:    "/initrd.img-6.1.0-18-amd64",
	BootFSUUID:    "9c1d7a4e-2b3f-4c5d-8e6f-7a8b9c0d1e2f",
	Cmdline:       "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=abc ro quiet resume=UUID=def",
	RAMBytes:      512 << 20,
	Stamped:       time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC),
}

func recordPage(t *testing.T, r Record) []byte {
	t.Helper()
	enc, err := EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, PageSize)
	copy(page[RecordOffset:], enc)
	return page
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []Record{testRecord, {}, {KernelRelease: "x"}, {RAMBytes: 1}, {Stamped: time.Unix(0, 0)},
		{Cmdline: strings.Repeat("c", RecordMaxSize-recordHeaderLen-3)}} {
		got, err := DecodeRecord(recordPage(t, r))
		if err != nil || got == nil {
			t.Fatalf("decode: %v %v", got, err)
		}
		want := r
		want.Version = RecordVersion
		if !want.Stamped.IsZero() {
			want.Stamped = want.Stamped.UTC()
		}
		if !got.Stamped.Equal(want.Stamped) {
			t.Errorf("stamp %v, want %v", got.Stamped, want.Stamped)
		}
		got.Stamped, want.Stamped = time.Time{}, time.Time{}
		if *got != want {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
	}
}

func TestRecordEncodeRefuses(t *testing.T) {
	for name, r := range map[string]Record{
		"too big":     {Cmdline: strings.Repeat("c", RecordMaxSize)},
		"just over":   {Cmdline: strings.Repeat("c", RecordMaxSize-recordHeaderLen-2)},
		"version 2":   {Version: 2},
		"year 3000":   {Stamped: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"huge string": {KernelPath: strings.Repeat("p", 70000)},
	} {
		if b, err := EncodeRecord(r); err == nil {
			t.Errorf("%s: encoded %d bytes", name, len(b))
		}
	}
}

func TestDecodeRecordNone(t *testing.T) {
	for name, page := range map[string][]byte{
		"zero page":   make([]byte, PageSize),
		"short page":  make([]byte, 100),
		"nil":         nil,
		"mkswap page": func() []byte { p, _ := MkswapPage(1<<20, MkswapOptions{UUID: testUUID}); return p }(),
		"other magic": func() []byte { p := make([]byte, PageSize); copy(p[RecordOffset:], "HIBREC02"); return p }(),
	} {
		if r, err := DecodeRecord(page); r != nil || err != nil {
			t.Errorf("%s: %v %v", name, r, err)
		}
	}
}

func TestDecodeRecordCorrupt(t *testing.T) {
	good := recordPage(t, testRecord)
	enc, _ := EncodeRecord(testRecord)
	// Flip every byte of the record after the magic: each must be caught.
	for i := len(recordMagic); i < len(enc); i++ {
		p := bytes.Clone(good)
		p[RecordOffset+i] ^= 0x40
		if r, err := DecodeRecord(p); err == nil || !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("byte %d flipped: %v %v", i, r, err)
		}
	}
	le := binary.LittleEndian
	reseal := func(p []byte) {
		rec := p[RecordOffset:]
		n := int(le.Uint16(rec[10:]))
		le.PutUint32(rec[12:], recordCRC(rec[:recordHeaderLen+n]))
	}
	for _, c := range []struct {
		name string
		edit func(p []byte)
		want string
	}{
		{"version 0", func(p []byte) { le.PutUint16(p[RecordOffset+8:], 0) }, "version 0"},
		{"length past region", func(p []byte) { le.PutUint16(p[RecordOffset+10:], RecordMaxSize) }, "does not fit"},
		{"field runs past", func(p []byte) { le.PutUint16(p[RecordOffset+recordHeaderLen+1:], 0xfff0) }, "runs past the end"},
		{"cut field header", func(p []byte) {
			n := le.Uint16(p[RecordOffset+10:])
			le.PutUint16(p[RecordOffset+10:], n+2)
		}, "field header cut short"},
		{"ram 4 bytes", func(p []byte) {
			copy(p[RecordOffset+recordHeaderLen:], []byte{tagRAMBytes, 4, 0, 1, 2, 3, 4})
			le.PutUint16(p[RecordOffset+10:], 7)
		}, "is 4 bytes, want 8"},
		{"tag twice", func(p []byte) {
			copy(p[RecordOffset+recordHeaderLen:], []byte{tagBootID, 1, 0, 'a', tagBootID, 1, 0, 'b'})
			le.PutUint16(p[RecordOffset+10:], 8)
		}, "field 3 twice"},
	} {
		p := bytes.Clone(good)
		c.edit(p)
		reseal(p)
		if _, err := DecodeRecord(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A later version with an unknown field still decodes.
	p := make([]byte, PageSize)
	rec := append([]byte(recordMagic), 2, 0, 0, 0, 0, 0, 0, 0)
	rec = append(rec, 200, 2, 0, 'z', 'z', tagKernelRelease, 3, 0, '6', '.', '9')
	le.PutUint16(rec[10:], uint16(len(rec)-recordHeaderLen))
	copy(p[RecordOffset:], rec)
	reseal(p)
	if r, err := DecodeRecord(p); err != nil || r.Version != 2 || r.KernelRelease != "6.9" {
		t.Errorf("later version: %+v %v", r, err)
	}
}

// nextField splits one tag, length, bytes field off a payload.
func TestNextField(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      []byte
		tag     byte
		v, rest string
		wantErr string
	}{
		{"one field", []byte{tagBootID, 2, 0, 'a', 'b'}, tagBootID, "ab", "", ""},
		{"field then more", []byte{tagCmdline, 1, 0, 'q', tagBootID, 0, 0}, tagCmdline, "q", "\x03\x00\x00", ""},
		{"empty field", []byte{200, 0, 0}, 200, "", "", ""},
		{"length little-endian", append([]byte{tagCmdline, 0, 1}, make([]byte, 256)...), tagCmdline, string(make([]byte, 256)), "", ""},
		{"no header", nil, 0, "", "", "field header cut short"},
		{"header cut", []byte{tagBootID, 2}, 0, "", "", "field header cut short"},
		{"runs past", []byte{tagBootID, 3, 0, 'a', 'b'}, 0, "", "", "field 3 of 3 bytes runs past the end"},
	} {
		tag, v, rest, err := nextField(c.in)
		if c.wantErr != "" {
			if err == nil || !errors.Is(err, ErrCorruptRecord) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || tag != c.tag || string(v) != c.v || string(rest) != c.rest {
			t.Errorf("%s: tag %d value %q rest %q err %v, want tag %d value %q rest %q", c.name, tag, v, rest, err, c.tag, c.v, c.rest)
		}
	}
}

func TestStampRecord(t *testing.T) {
	dev := &memDev{b: make([]byte, 64*PageSize)}
	if err := Mkswap(dev, int64(len(dev.b)), MkswapOptions{UUID: testUUID, Label: testLabel}); err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(dev.b)
	dev.writes = nil
	if err := StampRecord(dev, 0, testRecord); err != nil {
		t.Fatal(err)
	}
	for _, w := range dev.writes {
		if w[0] < RecordOffset || w[0]+w[1] > RecordEnd {
			t.Errorf("write [%d,%d) outside the record region", w[0], w[0]+w[1])
		}
	}
	for i := range dev.b {
		if (i < RecordOffset || i >= RecordEnd) && dev.b[i] != before[i] {
			t.Fatalf("byte %d changed", i)
		}
	}
	a, err := ReadArea(dev, int64(len(dev.b)), 0)
	if err != nil || !a.Valid() || a.Kind() != "swap" || a.Record == nil || a.Record.KernelRelease != testRecord.KernelRelease || a.RecordErr != nil ||
		a.ImageRecord() != nil {
		t.Fatalf("after stamp: %v %+v", err, a)
	}
	// Stamping again replaces the record, a shorter one leaving no tail.
	if err := StampRecord(dev, 0, Record{KernelRelease: "6.12.9-amd64"}); err != nil {
		t.Fatal(err)
	}
	enc, _ := EncodeRecord(Record{KernelRelease: "6.12.9-amd64"})
	if !allZero(dev.b[RecordOffset+len(enc) : RecordEnd]) {
		t.Error("old record's tail left behind")
	}

	// What the kernel does next: mark_swapfiles changes only its header.
	buildOver := func() {
		p0 := dev.b[:PageSize]
		copy(p0[offOrigSig:], p0[offSig:offSig+sigLen])
		copy(p0[offSig:], hibernateMagic)
		binary.LittleEndian.PutUint64(p0[offImage:], 1)
	}
	buildOver()
	a = ParsePage0(dev.b[:PageSize])
	if a.Kind() != "swsusp" || a.Record == nil || a.Record.KernelRelease != "6.12.9-amd64" || a.ImageRecord() != a.Record {
		t.Fatalf("record lost under S1SUSPEND: %+v", a)
	}
	// Stamping over an image is refused.
	if err := StampRecord(dev, 0, testRecord); err == nil || !strings.Contains(err.Error(), "holds a hibernation image") {
		t.Errorf("stamp over image: %v", err)
	}
	// Discard keeps the record.
	if _, err := Discard(dev, 0, false); err != nil {
		t.Fatal(err)
	}
	if r, err := DecodeRecord(dev.b[:PageSize]); err != nil || r == nil {
		t.Errorf("record after discard: %v %v", r, err)
	}
	// ClearRecord zeroes it, and then has nothing to do.
	if ok, err := ClearRecord(dev, 0); !ok || err != nil {
		t.Errorf("clear: %v %v", ok, err)
	}
	if !allZero(dev.b[RecordOffset:RecordEnd]) {
		t.Error("clear left bytes")
	}
	if ok, err := ClearRecord(dev, 0); ok || err != nil {
		t.Errorf("second clear: %v %v", ok, err)
	}
}

func TestStampRecordRefuses(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		edit func(p []byte)
		rec  Record
		want string
	}{
		{"zero device", func(p []byte) { clear(p) }, testRecord, "not a swap area"},
		{"129 bad pages", func(p []byte) { le.PutUint32(p[offNrBadPages:], 129) }, testRecord, "129 bad pages"},
		{"foreign bytes", func(p []byte) { p[RecordOffset+100] = 1 }, testRecord, "not an image record"},
		{"too big", nil, Record{Cmdline: strings.Repeat("x", 3000)}, "room is 2008"},
	} {
		dev := &memDev{b: make([]byte, 64*PageSize)}
		_ = Mkswap(dev, int64(len(dev.b)), MkswapOptions{UUID: testUUID})
		if c.edit != nil {
			c.edit(dev.b[:PageSize])
		}
		dev.writes = nil
		err := StampRecord(dev, 0, c.rec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if len(dev.writes) != 0 {
			t.Errorf("%s: wrote after refusing", c.name)
		}
	}
	// 128 bad pages still leave room.
	dev := &memDev{b: make([]byte, 64*PageSize)}
	_ = Mkswap(dev, int64(len(dev.b)), MkswapOptions{UUID: testUUID})
	le.PutUint32(dev.b[offNrBadPages:], 128)
	for i := 0; i < 128; i++ {
		le.PutUint32(dev.b[offBadPages+4*i:], uint32(i+5))
	}
	if err := StampRecord(dev, 0, testRecord); err != nil {
		t.Errorf("128 bad pages: %v", err)
	}
}

func TestReadAreaCorruptRecord(t *testing.T) {
	dev, _ := buildImage(t, imageSpec{dataPages: 5, flags: FlagNoCompress})
	enc, _ := EncodeRecord(testRecord)
	copy(dev.b[RecordOffset:], enc)
	dev.b[RecordOffset+40] ^= 1
	a, err := ReadArea(dev, int64(len(dev.b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Record != nil || !errors.Is(a.RecordErr, ErrCorruptRecord) {
		t.Errorf("record %v err %v", a.Record, a.RecordErr)
	}
	// The image itself is fine: the kernel never reads those bytes.
	if !a.HasImage() || !a.Valid() {
		t.Errorf("image judged by its record: %q", a.Problems)
	}
}
