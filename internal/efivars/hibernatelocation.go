package efivars

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SystemdVendorGUID is the vendor GUID of systemd's own EFI variables (EFI_VENDOR_SYSTEMD in
// src/basic/efivars.h).
const SystemdVendorGUID = "8cf2644b-4b0b-428f-9387-6d876050dc67"

// HibernateLocationName is the efivarfs name of the variable.
const HibernateLocationName = "HibernateLocation-" + SystemdVendorGUID

// HibernateLocation is the JSON document systemd-sleep (systemd ≥ 254) stores in the EFI
// variable HibernateLocation before it hibernates, so that its initrd finds the image without
// resume= on the command line. The JSON names are systemd's; see docs/hibernatelocation.md.
type HibernateLocation struct {
	// UUID is the file system UUID (udev's ID_FS_UUID) of the block device the image is on:
	// the swap partition's own, or, for a swap file, the UUID of the file system holding it.
	// systemd's initrd waits for /dev/disk/by-uuid/UUID. Always lower case, 8-4-4-4-12.
	UUID string
	// Offset is resume_offset: in pages, from the start of that device (0 for a partition).
	Offset uint64

	// The optional fields: empty when absent. systemd-sleep writes each one only when it
	// has it: the running kernel's release (uname -r), and ID, IMAGE_ID, VERSION_ID and
	// IMAGE_VERSION from os-release.
	KernelVersion         string
	OSReleaseID           string
	OSReleaseImageID      string
	OSReleaseVersionID    string
	OSReleaseImageVersion string

	// What Parse found besides, as systemd takes it: Extensions are the names of fields it
	// does not know (skipped, as systemd's SD_JSON_ALLOW_EXTENSIONS skips them); Dropped the
	// optional fields skipped because their value was not a string (SD_JSON_PERMISSIVE).
	// Marshal writes neither.
	Extensions []string
	Dropped    []string

	// emptyID and emptyImageID say that osReleaseId / osReleaseImageId were present with an
	// empty value. systemd never writes that (an empty os-release value is no value to it),
	// and a document that has it matches no system (streq_ptr("", NULL) is false): kept so
	// that MatchSystem says so rather than treating it as absent.
	emptyID, emptyImageID bool
}

// Device is the device node systemd's initrd resumes from: the by-uuid link udev makes.
func (h HibernateLocation) Device() string {
	return "/dev/disk/by-uuid/" + h.UUID
}

// String is a one-line summary, in the order systemd's initrd logs it.
func (h HibernateLocation) String() string {
	var b strings.Builder
	b.WriteString("UUID=" + h.UUID + " offset=" + strconv.FormatUint(h.Offset, 10))
	for _, f := range []struct{ k, v string }{
		{"ID", h.OSReleaseID}, {"IMAGE_ID", h.OSReleaseImageID}, {"VERSION_ID", h.OSReleaseVersionID},
		{"IMAGE_VERSION", h.OSReleaseImageVersion}, {"kernel", h.KernelVersion},
	} {
		if f.v != "" {
			b.WriteString(" " + f.k + "=" + f.v)
		}
	}
	return b.String()
}

// Marshal is the JSON text systemd-sleep writes (write_efi_hibernate_location in
// src/sleep/sleep.c, then sd_json_variant_format with no flags): one line, no spaces, the
// fields in systemd's order, an optional field only when it is not empty, the offset as a
// JSON number. It refuses a UUID that systemd's parser would not take, and text that is not
// UTF-8.
func (h HibernateLocation) Marshal() ([]byte, error) {
	u, err := parseUUID(h.UUID)
	if err != nil {
		return nil, fmt.Errorf("HibernateLocation: uuid: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"uuid":`)
	writeJSONString(&b, u)
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.FormatUint(h.Offset, 10))
	for _, f := range []struct{ name, v string }{
		{"kernelVersion", h.KernelVersion},
		{"osReleaseId", h.OSReleaseID},
		{"osReleaseImageId", h.OSReleaseImageID},
		{"osReleaseVersionId", h.OSReleaseVersionID},
		{"osReleaseImageVersion", h.OSReleaseImageVersion},
	} {
		if f.v == "" {
			continue
		}
		if !utf8.ValidString(f.v) || strings.IndexByte(f.v, 0) >= 0 {
			return nil, fmt.Errorf("HibernateLocation: %s %q: not UTF-8 text", f.name, f.v)
		}
		b.WriteString(`,"` + f.name + `":`)
		writeJSONString(&b, f.v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSONString escapes as systemd's json_format_string does: \" \\ \b \f \n \r \t, other
// control characters as \u00xx, everything else as it is (no escaping of '/', '<', '>', '&'
// or non-ASCII, where encoding/json would differ). One exception: DEL (0x7f), which systemd
// writes raw but its own parser refuses in a string; it is escaped here, so that what we
// write systemd can read.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// ParseHibernateLocation reads the JSON text as systemd's initrd does
// (get_efi_hibernate_location in src/hibernate-resume/hibernate-resume-config.c, systemd 257):
//   - the document is one JSON object, nothing after it;
//   - "uuid" and "offset" are mandatory and strict: uuid a string holding a 128-bit id
//     (8-4-4-4-12 or 32 hex digits, either case), offset an unsigned integer (a JSON number
//     without a fraction, or, as systemd ≥ 257 also takes, a decimal string); given twice,
//     refused;
//   - the five optional fields are taken only when they are strings: another type (null
//     included) is skipped, named in Dropped, and a second one after a good one is skipped;
//   - unknown fields are skipped, named in Extensions (newer systemd may add some).
//
// Where systemd's parser and encoding/json differ on text systemd never writes, it refuses:
// DEL inside a string, a lone UTF-16 surrogate escape, invalid UTF-8, a string offset that
// is not plain decimal (systemd would read "010" as octal 8). A \u0000 inside a string ends
// it, as in systemd, whose strings are C strings.
func ParseHibernateLocation(doc []byte) (HibernateLocation, error) {
	var h HibernateLocation
	if err := checkSystemdJSON(doc); err != nil {
		return h, fmt.Errorf("HibernateLocation: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return h, fmt.Errorf("HibernateLocation: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return h, fmt.Errorf("HibernateLocation: not a JSON object")
	}
	var haveUUID, haveOffset bool
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, fmt.Errorf("HibernateLocation: %w", err)
		}
		key, _ := tok.(string) // the decoder gives only strings as keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return h, fmt.Errorf("HibernateLocation: field %q: %w", key, err)
		}
		switch key {
		case "uuid":
			if haveUUID {
				return h, fmt.Errorf("HibernateLocation: field \"uuid\" given twice")
			}
			if h.UUID, err = parseUUIDField(raw); err != nil {
				return h, fmt.Errorf("HibernateLocation: uuid: %w", err)
			}
			haveUUID = true
		case "offset":
			if haveOffset {
				return h, fmt.Errorf("HibernateLocation: field \"offset\" given twice")
			}
			if h.Offset, err = parseOffset(raw); err != nil {
				return h, fmt.Errorf("HibernateLocation: offset: %w", err)
			}
			haveOffset = true
		case "kernelVersion", "osReleaseId", "osReleaseImageId", "osReleaseVersionId", "osReleaseImageVersion":
			if seen[key] {
				continue
			}
			s, ok := jsonString(raw)
			if !ok {
				h.Dropped = append(h.Dropped, key)
				continue
			}
			seen[key] = true
			h.setOptional(key, s)
		default:
			h.Extensions = append(h.Extensions, key)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return h, fmt.Errorf("HibernateLocation: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, fmt.Errorf("HibernateLocation: data after the JSON object")
	}
	switch {
	case !haveUUID:
		return h, fmt.Errorf("HibernateLocation: no \"uuid\" field")
	case !haveOffset:
		return h, fmt.Errorf("HibernateLocation: no \"offset\" field")
	}
	return h, nil
}

func (h *HibernateLocation) setOptional(key, s string) {
	switch key {
	case "kernelVersion":
		h.KernelVersion = s
	case "osReleaseId":
		h.OSReleaseID, h.emptyID = s, s == ""
	case "osReleaseImageId":
		h.OSReleaseImageID, h.emptyImageID = s, s == ""
	case "osReleaseVersionId":
		h.OSReleaseVersionID = s
	case "osReleaseImageVersion":
		h.OSReleaseImageVersion = s
	}
}

// jsonString decodes raw when it is a JSON string, cut at a NUL as a C string is.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s, true
}

func parseUUIDField(raw json.RawMessage) (string, error) {
	s, ok := jsonString(raw)
	if !ok {
		return "", fmt.Errorf("%s is not a string", raw)
	}
	return parseUUID(s)
}

// parseUUID takes a 128-bit id as sd_id128_from_string does (32 hex digits, or the 8-4-4-4-12
// form, either case) and gives it in the form systemd formats it for the by-uuid path.
func parseUUID(s string) (string, error) {
	hex := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", fmt.Errorf("%q is not a UUID", s)
		}
		hex = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(hex) != 32 {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", fmt.Errorf("%q is not a UUID", s)
		}
	}
	l := strings.ToLower(hex)
	return l[0:8] + "-" + l[8:12] + "-" + l[12:16] + "-" + l[16:20] + "-" + l[20:], nil
}

// parseOffset takes what sd_json_dispatch_uint64 takes: an unsigned JSON integer, a real with
// no fraction (1e3; systemd's variants convert when exact), or a decimal string.
func parseOffset(raw json.RawMessage) (uint64, error) {
	if len(raw) > 0 && raw[0] == '"' {
		s, _ := jsonString(raw)
		if s == "" || s[0] < '0' || s[0] > '9' || (s[0] == '0' && len(s) > 1) {
			return 0, fmt.Errorf("string %s is not a plain decimal number", raw)
		}
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("string %s is not a plain decimal number", raw)
		}
		return u, nil
	}
	var n json.Number
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("%s is not an unsigned number", raw)
	}
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" { // systemd: a signed zero, which is >= 0
			return 0, nil
		}
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not an unsigned 64-bit number", s)
		}
		return u, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f >= 1<<64 {
		return 0, fmt.Errorf("%s is not an unsigned 64-bit integer", s)
	}
	return uint64(f), nil
}

// checkSystemdJSON refuses what systemd's JSON parser refuses and encoding/json takes: text
// that is not UTF-8, DEL inside a string, a UTF-16 surrogate escape without its pair.
func checkSystemdJSON(doc []byte) error {
	if !utf8.Valid(doc) {
		return errors.New("not UTF-8 text")
	}
	inString := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == 0x7f:
			return fmt.Errorf("DEL (0x7f) inside a string at byte %d", i)
		case c == '\\' && i+1 < len(doc):
			i++
			if doc[i] != 'u' {
				continue
			}
			u, ok := hex4(doc, i+1)
			if !ok {
				continue // encoding/json refuses it
			}
			i += 4
			switch {
			case u >= 0xdc00 && u <= 0xdfff:
				return fmt.Errorf("lone trailing surrogate \\u%04x at byte %d", u, i-5)
			case u >= 0xd800 && u <= 0xdbff:
				if i+2 >= len(doc) || doc[i+1] != '\\' || doc[i+2] != 'u' {
					return fmt.Errorf("surrogate \\u%04x without its pair at byte %d", u, i-5)
				}
				v, ok := hex4(doc, i+3)
				if !ok || v < 0xdc00 || v > 0xdfff {
					return fmt.Errorf("surrogate \\u%04x without its pair at byte %d", u, i-5)
				}
				i += 6
			}
		}
	}
	return nil
}

func hex4(b []byte, at int) (uint16, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	return uint16(v), err == nil
}

// EncodeHibernateLocation is the efivarfs file systemd writes: the attributes
// (DefaultAttributes, 4 bytes little-endian), then Marshal's text as UTF-16LE with a NUL
// character at the end (efi_set_variable_string).
func EncodeHibernateLocation(h HibernateLocation) ([]byte, error) {
	doc, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	data := EncodeString(string(doc))
	b := make([]byte, 4+len(data))
	binary.LittleEndian.PutUint32(b, DefaultAttributes)
	copy(b[4:], data)
	return b, nil
}

// DecodeHibernateLocation reads an efivarfs file of the variable: the attributes (returned,
// not checked: systemd's reader does not look at them), then the UTF-16 text up to its NUL.
func DecodeHibernateLocation(file []byte) (HibernateLocation, uint32, error) {
	v, err := decodeVariable(HibernateLocationName, file)
	if err != nil {
		return HibernateLocation{}, 0, err
	}
	h, err := ParseHibernateLocation([]byte(DecodeString(v.Data)))
	return h, v.Attributes, err
}

// ReadHibernateLocation reads and parses the variable below root. When there is none,
// errors.Is(err, fs.ErrNotExist) holds.
func ReadHibernateLocation(root string) (HibernateLocation, error) {
	v, err := ReadVariable(root, HibernateLocationName)
	if err != nil {
		return HibernateLocation{}, err
	}
	h, err := ParseHibernateLocation([]byte(DecodeString(v.Data)))
	if err != nil {
		return h, fmt.Errorf("%s: %w", Path(root, HibernateLocationName), err)
	}
	return h, nil
}

// WriteHibernateLocation stores h below root as systemd-sleep does, with its attributes.
func WriteHibernateLocation(root string, h HibernateLocation) error {
	doc, err := h.Marshal()
	if err != nil {
		return err
	}
	return WriteVariable(root, HibernateLocationName, DefaultAttributes, EncodeString(string(doc)))
}

// ClearHibernateLocation deletes the variable below root and says whether one was there (it
// has looked: see DeleteVariable).
//
// systemd clears it at two points only: its initrd, once it has taken a HibernateLocation
// that matches the system and is about to resume from it; and systemd-hibernate-clear.service
// (systemd ≥ 256), early in the booted system, only when the variable parses and matches
// this system, so that a live image booted on the machine does not erase another OS's
// hibernation. Check MatchSystem first to do the same.
func ClearHibernateLocation(root string) (cleared bool, err error) {
	return DeleteVariable(root, HibernateLocationName)
}
