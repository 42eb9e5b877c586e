package swsusp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzParsePage0(f *testing.F) {
	swap, _ := MkswapPage(1<<20, MkswapOptions{UUID: testUUID, Label: testLabel})
	f.Add(swap)
	img, _ := buildImage(f, imageSpec{dataPages: 5})
	f.Add(img.b[:PageSize])
	enc, _ := EncodeRecord(testRecord)
	withRec := bytes.Clone(swap)
	copy(withRec[RecordOffset:], enc)
	f.Add(withRec)
	f.Add(make([]byte, PageSize))
	f.Add([]byte(tuxOnIceMagic))
	f.Fuzz(func(t *testing.T, page []byte) {
		a := ParsePage0(page)
		if a.Kind() == "" {
			t.Fatal("empty kind")
		}
		if a.HasImage() && a.Header == nil {
			t.Fatal("image without header")
		}
		if (a.Record != nil) && a.RecordErr != nil {
			t.Fatal("record and record error")
		}
	})
}

// FuzzReadArea treats the input as a whole device.
func FuzzReadArea(f *testing.F) {
	for _, s := range []imageSpec{
		{devPages: 12, dataPages: 5},
		{devPages: 12, dataPages: 5, flags: FlagNoCompress},
		{devPages: 16, areaPage: 3, dataPages: 6},
	} {
		d, _ := buildImage(f, s)
		f.Add(d.b, s.areaPage)
	}
	d, m := buildImage(f, imageSpec{devPages: 12, dataPages: 5})
	binary.LittleEndian.PutUint64(d.b[m[0]*PageSize+offNextSwap:], m[0])
	f.Add(d.b, uint64(0))
	f.Add(make([]byte, 2*PageSize), uint64(0))
	f.Add([]byte{}, uint64(1<<60))
	f.Fuzz(func(t *testing.T, b []byte, off uint64) {
		dev := &memDev{b: b} // fails reads outside [0, len(b))
		a, err := ReadArea(dev, int64(len(b)), off%8)
		if err != nil {
			t.Fatalf("I/O error from an in-memory device: %v", err)
		}
		if a.MapPages > len(b)/PageSize {
			t.Fatalf("read %d map pages from a %d-page device", a.MapPages, len(b)/PageSize)
		}
		if a.Valid() && a.HasImage() && a.Info == nil {
			t.Fatal("valid image without info")
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	enc, _ := EncodeRecord(testRecord)
	page := make([]byte, PageSize)
	copy(page[RecordOffset:], enc)
	f.Add(page)
	small, _ := EncodeRecord(Record{KernelRelease: "6.1"})
	p2 := make([]byte, RecordEnd)
	copy(p2[RecordOffset:], small)
	f.Add(p2)
	f.Add(page[:RecordOffset+20])
	f.Fuzz(func(t *testing.T, page []byte) {
		r, err := DecodeRecord(page)
		if err != nil {
			if r != nil {
				t.Fatal("record and error")
			}
			return
		}
		if r == nil {
			return
		}
		// What decodes re-encodes (as version 1, unknown fields dropped) and
		// decodes to the same.
		r.Version = 0
		enc, err := EncodeRecord(*r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		p := make([]byte, PageSize)
		copy(p[RecordOffset:], enc)
		r2, err := DecodeRecord(p)
		if err != nil || r2 == nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		r2.Version = 0
		if !r2.Stamped.Equal(r.Stamped) {
			t.Fatalf("stamp %v != %v", r2.Stamped, r.Stamped)
		}
		r2.Stamped = r.Stamped
		if *r2 != *r {
			t.Fatalf("round trip %+v != %+v", r2, r)
		}
	})
}
