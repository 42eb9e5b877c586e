package efivars

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// EncodeString is a string variable's data as systemd writes it (efi_set_variable_string):
// UTF-16LE, with a terminating NUL character (two zero bytes) that counts in its size.
// Invalid UTF-8 becomes U+FFFD: systemd would copy such bytes through as 16-bit units, which
// no reader takes for what was meant; the callers here refuse invalid UTF-8 before.
func EncodeString(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units)+2)
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// DecodeString reads a string variable's data as systemd does (efi_get_variable_string, then
// utf16_to_utf8): UTF-16LE up to the first NUL character, an odd last byte ignored, a trailing
// surrogate without its leading one skipped, a leading one without its trailing one dropped.
// The result is always valid UTF-8. Whether a NUL ended it is not said: systemd's readers
// take the text up to it as the value, whatever follows.
func DecodeString(b []byte) string {
	var sb strings.Builder
	for i := 0; i+1 < len(b); {
		w1 := binary.LittleEndian.Uint16(b[i:])
		i += 2
		switch {
		case w1 == 0:
			return sb.String()
		case !utf16.IsSurrogate(rune(w1)):
			sb.WriteRune(rune(w1))
		case w1 >= 0xdc00: // a trailing surrogate first: skipped
		case i+1 >= len(b): // a leading surrogate at the end: dropped
			return sb.String()
		default:
			w2 := binary.LittleEndian.Uint16(b[i:])
			if w2 < 0xdc00 || w2 > 0xdfff {
				continue // leading surrogate without its pair: dropped, w2 read again
			}
			i += 2
			sb.WriteRune(utf16.DecodeRune(rune(w1), rune(w2)))
		}
	}
	return sb.String()
}
