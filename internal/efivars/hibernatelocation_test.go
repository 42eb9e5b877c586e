package efivars

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The documents of testdata/ (see its README for how they were made without this package).
var (
	debian13 = HibernateLocation{
		UUID: "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31", Offset: 0, KernelVersion: "6.12.48+deb13-amd64",
		OSReleaseID: "debian", OSReleaseVersionID: "13",
	}
	fedoraSwapfile = HibernateLocation{
		UUID: "7b1f9c2e-55d0-4a8e-9f3b-2c6d8e0a4b17", Offset: 34816, KernelVersion: "6.17.1-300.fc43.x86_64",
		OSReleaseID: "fedora", OSReleaseVersionID: "43",
	}
	imageBased = HibernateLocation{
		UUID: "c3d4e5f6-a7b8-4c9d-8e0f-112233445566", Offset: 526336, KernelVersion: "6.18.2-1-default",
		OSReleaseID: "particle", OSReleaseImageID: "particleos-desktop", OSReleaseImageVersion: "2026.1 “Café” 🚀",
	}
)

func TestMarshalAsSystemd(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    HibernateLocation
		want string
	}{
		{"partition", debian13,
			`{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31","offset":0,"kernelVersion":"6.12.48+deb13-amd64","osReleaseId":"debian","osReleaseVersionId":"13"}`},
		{"every field, in systemd's order", HibernateLocation{
			UUID: "c3d4e5f6-a7b8-4c9d-8e0f-112233445566", Offset: 1, KernelVersion: "k",
			OSReleaseID: "i", OSReleaseImageID: "ii", OSReleaseVersionID: "v", OSReleaseImageVersion: "iv",
		}, `{"uuid":"c3d4e5f6-a7b8-4c9d-8e0f-112233445566","offset":1,"kernelVersion":"k","osReleaseId":"i","osReleaseImageId":"ii","osReleaseVersionId":"v","osReleaseImageVersion":"iv"}`},
		{"only the mandatory fields", HibernateLocation{UUID: "C3D4E5F6A7B84C9D8E0F112233445566", Offset: 18446744073709551615},
			`{"uuid":"c3d4e5f6-a7b8-4c9d-8e0f-112233445566","offset":18446744073709551615}`},
		{"escaping as json_format_string", HibernateLocation{UUID: debian13.UUID, OSReleaseImageVersion: "a\"b\\c/d<e>&\t\x01\x7fé"},
			`{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31","offset":0,"osReleaseImageVersion":"a\"b\\c/d<e>&\t\u0001\u007fé"}`},
	} {
		got, err := tc.h.Marshal()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	for _, bad := range []HibernateLocation{
		{UUID: ""},
		{UUID: "not-a-uuid"},
		{UUID: debian13.UUID, OSReleaseID: "\xff"},
		{UUID: debian13.UUID, KernelVersion: "a\x00b"},
	} {
		if b, err := bad.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) = %s, want an error", bad, b)
		}
	}
}

// TestEncodeAsSystemd builds the efivarfs file byte by byte as efi_set_variable_string and
// efi_set_variable make it (systemd 257.13, src/basic/efivars.c) and holds our encoder and the
// files of testdata/ to it.
func TestEncodeAsSystemd(t *testing.T) {
	for _, tc := range []struct {
		file string
		h    HibernateLocation
	}{
		{"debian13-partition.efivar", debian13},
		{"fedora-swapfile.efivar", fedoraSwapfile},
		{"image-based.efivar", imageBased},
	} {
		doc, err := tc.h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// 4 bytes of attributes, little-endian: NON_VOLATILE|BOOTSERVICE_ACCESS|RUNTIME_ACCESS.
		want := []byte{0x07, 0x00, 0x00, 0x00}
		for _, r := range string(doc) {
			switch {
			case r < 0x10000: // one UTF-16 unit, low byte first
				want = append(want, byte(r), byte(r>>8))
			default: // a surrogate pair
				r -= 0x10000
				hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
				want = append(want, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
			}
		}
		want = append(want, 0x00, 0x00) // the NUL character, counted in the variable's size

		got, err := EncodeHibernateLocation(tc.h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: EncodeHibernateLocation =\n% x\nwant\n% x", tc.file, got, want)
		}
		golden, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(golden, want) {
			t.Errorf("%s: testdata file differs from systemd's layout", tc.file)
		}
		h, attrs, err := DecodeHibernateLocation(golden)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
		} else if attrs != DefaultAttributes || !reflect.DeepEqual(h, tc.h) {
			t.Errorf("%s: decoded %#x %+v, want %#x %+v", tc.file, attrs, h, DefaultAttributes, tc.h)
		}
	}
}

func TestParseHibernateLocation(t *testing.T) {
	const u = `"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31"`
	const uuid = "0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31"
	for _, tc := range []struct {
		name, doc string
		want      HibernateLocation
		wantErr   string
	}{
		{name: "minimal", doc: `{` + u + `,"offset":0}`, want: HibernateLocation{UUID: uuid}},
		{name: "white space and order do not matter", doc: " {\n\t\"offset\" : 8 ,\t" + u + "}\n ",
			want: HibernateLocation{UUID: uuid, Offset: 8}},
		{name: "uuid as 32 upper-case hex digits", doc: `{"uuid":"0D6AD8A53C524D9EA6B55A2F1E8F7C31","offset":0}`,
			want: HibernateLocation{UUID: uuid}},
		{name: "uuid upper case with dashes", doc: `{"uuid":"0D6AD8A5-3C52-4D9E-A6B5-5A2F1E8F7C31","offset":0}`,
			want: HibernateLocation{UUID: uuid}},
		{name: "offset as a decimal string (systemd 257)", doc: `{` + u + `,"offset":"4096"}`, want: HibernateLocation{UUID: uuid, Offset: 4096}},
		{name: "offset as an exact real", doc: `{` + u + `,"offset":1e3}`, want: HibernateLocation{UUID: uuid, Offset: 1000}},
		{name: "offset -0", doc: `{` + u + `,"offset":-0}`, want: HibernateLocation{UUID: uuid}},
		{name: "largest offset", doc: `{` + u + `,"offset":18446744073709551615}`, want: HibernateLocation{UUID: uuid, Offset: 1<<64 - 1}},
		{name: "unknown fields are extensions", doc: `{` + u + `,"offset":1,"autoSwap":true,"x":{"y":[1,null]}}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, Extensions: []string{"autoSwap", "x"}}},
		{name: "an optional field of another type is dropped", doc: `{` + u + `,"offset":1,"osReleaseId":null,"kernelVersion":6}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, Dropped: []string{"osReleaseId", "kernelVersion"}}},
		{name: "after a dropped one, a good one is taken", doc: `{` + u + `,"offset":1,"osReleaseId":1,"osReleaseId":"debian"}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, OSReleaseID: "debian", Dropped: []string{"osReleaseId"}}},
		{name: "a second optional field is skipped", doc: `{` + u + `,"offset":1,"osReleaseId":"debian","osReleaseId":"fedora"}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, OSReleaseID: "debian"}},
		{name: `\u0000 ends a string`, doc: `{` + u + `,"offset":1,"osReleaseId":"deb\u0000ian"}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, OSReleaseID: "deb"}},
		{name: "escapes", doc: `{` + u + `,"offset":1,"osReleaseImageVersion":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude80"}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, OSReleaseImageVersion: "\"\\/\b\f\n\r\té🚀"}},
		{name: "empty id", doc: `{` + u + `,"offset":1,"osReleaseId":""}`,
			want: HibernateLocation{UUID: uuid, Offset: 1, emptyID: true}},

		{name: "no uuid", doc: `{"offset":0}`, wantErr: `no "uuid"`},
		{name: "no offset", doc: `{` + u + `}`, wantErr: `no "offset"`},
		{name: "uuid twice", doc: `{` + u + `,` + u + `,"offset":0}`, wantErr: `"uuid" given twice`},
		{name: "offset twice", doc: `{` + u + `,"offset":0,"offset":0}`, wantErr: `"offset" given twice`},
		{name: "uuid null", doc: `{"uuid":null,"offset":0}`, wantErr: "uuid: null is not a string"},
		{name: "uuid number", doc: `{"uuid":5,"offset":0}`, wantErr: "uuid: 5 is not a string"},
		{name: "uuid too short", doc: `{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c3","offset":0}`, wantErr: "is not a UUID"},
		{name: "uuid dashes misplaced", doc: `{"uuid":"0d6ad8a53-c52-4d9e-a6b5-5a2f1e8f7c31","offset":0}`, wantErr: "is not a UUID"},
		{name: "uuid not hex", doc: `{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c3g","offset":0}`, wantErr: "is not a UUID"},
		{name: "offset negative", doc: `{` + u + `,"offset":-1}`, wantErr: "offset: -1 is not an unsigned"},
		{name: "offset fraction", doc: `{` + u + `,"offset":1.5}`, wantErr: "offset: 1.5 is not an unsigned"},
		{name: "offset too large", doc: `{` + u + `,"offset":18446744073709551616}`, wantErr: "not an unsigned 64-bit"},
		{name: "offset null", doc: `{` + u + `,"offset":null}`, wantErr: "offset: null is not an unsigned number"},
		{name: "offset boolean", doc: `{` + u + `,"offset":true}`, wantErr: "offset: true is not"},
		{name: "offset octal string", doc: `{` + u + `,"offset":"010"}`, wantErr: "not a plain decimal"},
		{name: "offset hex string", doc: `{` + u + `,"offset":"0x10"}`, wantErr: "not a plain decimal"},
		{name: "offset signed string", doc: `{` + u + `,"offset":"+1"}`, wantErr: "not a plain decimal"},
		{name: "an array", doc: `[1]`, wantErr: "not a JSON object"},
		{name: "empty text", doc: ``, wantErr: "HibernateLocation: EOF"},
		{name: "data after the object", doc: `{` + u + `,"offset":0}{}`, wantErr: "data after the JSON object"},
		{name: "garbage after the object", doc: `{` + u + `,"offset":0} x`, wantErr: "HibernateLocation"},
		{name: "unterminated", doc: `{` + u + `,"offset":0`, wantErr: "HibernateLocation"},
		{name: "DEL in a string", doc: `{` + u + `,"offset":0,"osReleaseId":"a` + "\x7f" + `"}`, wantErr: "DEL (0x7f) inside a string"},
		{name: "lone trailing surrogate", doc: `{` + u + `,"offset":0,"x":"\udc00"}`, wantErr: "lone trailing surrogate"},
		{name: "leading surrogate alone", doc: `{` + u + `,"offset":0,"x":"\ud83dx"}`, wantErr: "without its pair"},
		{name: "invalid UTF-8", doc: `{` + u + `,"offset":0,"x":"` + "\xc3" + `"}`, wantErr: "not UTF-8"},
		{name: "control character", doc: `{` + u + `,"offset":0,"x":"` + "\x01" + `"}`, wantErr: "HibernateLocation"},
	} {
		got, err := ParseHibernateLocation([]byte(tc.doc))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeHibernateLocation(t *testing.T) {
	file := func(data []byte) []byte {
		b := make([]byte, 4, 4+len(data))
		binary.LittleEndian.PutUint32(b, 0x6) // not systemd's attributes: read, not judged
		return append(b, data...)
	}
	doc := `{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31","offset":7}`
	// What follows the NUL is not part of the text (systemd reads a C string).
	h, attrs, err := DecodeHibernateLocation(file(append(EncodeString(doc), 'x', 0, '}', 0)))
	if err != nil || attrs != 6 || h.Offset != 7 {
		t.Errorf("decode = %+v, %#x, %v", h, attrs, err)
	}
	if _, _, err := DecodeHibernateLocation(nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty file: %v, want fs.ErrNotExist (uncommitted)", err)
	}
	if _, _, err := DecodeHibernateLocation(file(EncodeString("{"))); err == nil {
		t.Error("a broken document was taken")
	}
}

func TestReadWriteClearHibernateLocation(t *testing.T) {
	root := fakeRoot(t)
	if _, err := ReadHibernateLocation(root); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no variable: %v, want fs.ErrNotExist", err)
	}
	if err := WriteHibernateLocation(root, imageBased); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(Path(root, HibernateLocationName))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "image-based.efivar"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, golden) {
		t.Errorf("written file differs from systemd's:\n% x\nwant\n% x", raw, golden)
	}
	got, err := ReadHibernateLocation(root)
	if err != nil || !reflect.DeepEqual(got, imageBased) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	// A shorter document replaces the longer one whole.
	if err := WriteHibernateLocation(root, debian13); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadHibernateLocation(root); err != nil || !reflect.DeepEqual(got, debian13) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if cleared, err := ClearHibernateLocation(root); err != nil || !cleared {
		t.Fatalf("clear = %v, %v; want true", cleared, err)
	}
	if cleared, err := ClearHibernateLocation(root); err != nil || cleared {
		t.Fatalf("second clear = %v, %v; want false", cleared, err)
	}

	if err := os.WriteFile(Path(root, HibernateLocationName), append([]byte{7, 0, 0, 0}, EncodeString("{}")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadHibernateLocation(root); err == nil || !strings.Contains(err.Error(), Path(root, HibernateLocationName)) {
		t.Errorf("bad variable: %v, want an error naming the file", err)
	}
}

func TestDeviceAndString(t *testing.T) {
	if got, want := fedoraSwapfile.Device(), "/dev/disk/by-uuid/7b1f9c2e-55d0-4a8e-9f3b-2c6d8e0a4b17"; got != want {
		t.Errorf("Device = %s, want %s", got, want)
	}
	if got, want := fedoraSwapfile.String(), "UUID=7b1f9c2e-55d0-4a8e-9f3b-2c6d8e0a4b17 offset=34816 ID=fedora VERSION_ID=43 kernel=6.17.1-300.fc43.x86_64"; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

// FuzzParseHibernateLocation: Parse never panics, on the JSON text or on a whole efivarfs file,
// and what it takes Marshal writes back as the same fields.
func FuzzParseHibernateLocation(f *testing.F) {
	for _, name := range []string{"debian13-partition.efivar", "fedora-swapfile.efivar", "image-based.efivar"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add([]byte(DecodeString(b[4:])))
	}
	f.Add([]byte(`{"uuid":"0D6AD8A53C524D9EA6B55A2F1E8F7C31","offset":"12","x":[{"y":null}],"osReleaseId":5}`))
	f.Add([]byte(`{"uuid":"0d6ad8a5-3c52-4d9e-a6b5-5a2f1e8f7c31","offset":1e3,"kernelVersion":"\ud83d\ude80\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = DecodeHibernateLocation(b)
		h, err := ParseHibernateLocation(b)
		if err != nil {
			return
		}
		doc, err := h.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v from %q, which Marshal refuses: %v", h, b, err)
		}
		back, err := ParseHibernateLocation(doc)
		if err != nil {
			t.Fatalf("Marshal wrote %s, which Parse refuses: %v", doc, err)
		}
		h.Extensions, h.Dropped, h.emptyID, h.emptyImageID = nil, nil, false, false
		if !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b, back, h)
		}
	})
}
