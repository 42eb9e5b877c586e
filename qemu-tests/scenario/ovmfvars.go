package scenario

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"unicode/utf16"
)

// OVMF's variable store, read from the host: the pflash file a guest's firmware keeps its
// non-volatile variables in (harness.Firmware.Vars), so that a test sees what the guest's
// SetVariable calls left there once the guest is off, as a real machine's flash keeps it.
//
// The layout is EDK II's (MdeModulePkg/Include/Guid/VariableFormat.h,
// MdePkg/Include/Pi/PiFirmwareVolume.h): a firmware volume header ("_FVH" at 40, its length at
// 48), then the variable store header (a GUID, its size, format 0x5a, state 0xfe), then the
// variables one after another, each 4-byte aligned: an authenticated header (OVMF's store GUID
// is gEfiAuthenticatedVariableGuid) of StartId 0x55aa, State, Attributes, MonotonicCount,
// TimeStamp, PubKeyIndex, NameSize, DataSize, VendorGuid, then the name (UTF-16LE with its NUL)
// and the data. A variable is rewritten by adding a new copy and marking the old one deleted
// (a State bit cleared), so a store holds the dead copies too: only the live one counts.

// ovmfVariable is one live variable of the store.
type ovmfVariable struct {
	Name       string
	Vendor     [16]byte // the vendor GUID as stored (EFI_GUID: the first three fields little-endian)
	Attributes uint32
	Data       []byte
}

// The State values (VariableFormat.h): a variable is live while VAR_ADDED is set and VAR_DELETED
// is not cleared (bits are only ever cleared in flash).
const (
	varAdded   = 0x3f
	varDeleted = 0xfd
	// varInDeletedTransition marks a copy being replaced: it still counts until the new one is
	// added (the replacement clears it first, adds the new copy, then deletes it).
	varInDeletedTransition = 0xfe
	varStartID             = 0x55aa
	authVarHeaderSize      = 60
)

// authVariableGUID is gEfiAuthenticatedVariableGuid (aaf32c78-947b-439a-a180-2e144ec37792), the
// store format OVMF uses, as stored.
var authVariableGUID = [16]byte{0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43, 0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92}

// efiGUID is the stored form of a GUID written 8-4-4-4-12.
func efiGUID(s string) ([16]byte, error) {
	var g [16]byte
	var a uint32
	var b, c uint16
	var d [8]byte
	if _, err := fmt.Sscanf(s, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", &a, &b, &c,
		&d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &d[7]); err != nil {
		return g, fmt.Errorf("GUID %q: %w", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:], a)
	binary.LittleEndian.PutUint16(g[4:], b)
	binary.LittleEndian.PutUint16(g[6:], c)
	copy(g[8:], d[:])
	return g, nil
}

// readOVMFVariables reads the live variables of the store in the file at path.
func readOVMFVariables(path string) ([]ovmfVariable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars, err := parseOVMFVariables(b)
	if err != nil {
		return nil, fmt.Errorf("OVMF variable store %s: %w", path, err)
	}
	return vars, nil
}

func parseOVMFVariables(b []byte) ([]ovmfVariable, error) {
	if len(b) < 0x48 || string(b[40:44]) != "_FVH" {
		return nil, fmt.Errorf("no firmware volume header (_FVH at 40)")
	}
	hdrLen := int(binary.LittleEndian.Uint16(b[48:]))
	if hdrLen < 0x48 || hdrLen+28 > len(b) {
		return nil, fmt.Errorf("firmware volume header length %d in %d bytes", hdrLen, len(b))
	}
	store := b[hdrLen:]
	if !bytes.Equal(store[:16], authVariableGUID[:]) {
		return nil, fmt.Errorf("variable store of format %x, not the authenticated one OVMF writes", store[:16])
	}
	size := int(binary.LittleEndian.Uint32(store[16:]))
	if size < 28 || size > len(store) {
		return nil, fmt.Errorf("variable store size %d in %d bytes", size, len(store))
	}
	if store[20] != 0x5a || store[21] != 0xfe {
		return nil, fmt.Errorf("variable store format %#x, state %#x: not formatted and healthy (0x5a, 0xfe)", store[20], store[21])
	}
	store = store[:size]
	var out []ovmfVariable
	for at := 28; at+authVarHeaderSize <= len(store); {
		h := store[at:]
		if binary.LittleEndian.Uint16(h) != varStartID {
			break // the free space (0xff) after the last variable
		}
		state := h[2]
		nameSize := int(binary.LittleEndian.Uint32(h[36:]))
		dataSize := int(binary.LittleEndian.Uint32(h[40:]))
		end := authVarHeaderSize + nameSize + dataSize
		if nameSize < 2 || nameSize%2 != 0 || dataSize < 0 || end > len(h) {
			return nil, fmt.Errorf("variable at %d: name %d bytes, data %d bytes, past the store's end", hdrLen+at, nameSize, dataSize)
		}
		if live(state) {
			v := ovmfVariable{Attributes: binary.LittleEndian.Uint32(h[4:]), Data: append([]byte(nil), h[authVarHeaderSize+nameSize:end]...)}
			copy(v.Vendor[:], h[44:60])
			u := make([]uint16, nameSize/2-1) // without the NUL
			for i := range u {
				u[i] = binary.LittleEndian.Uint16(h[authVarHeaderSize+2*i:])
			}
			v.Name = string(utf16.Decode(u))
			out = append(out, v)
		}
		at += (end + 3) &^ 3
	}
	return out, nil
}

// live says whether a State is that of a variable that counts: added, and not deleted (a copy in
// deleted transition still counts; where its replacement is there too, the last one wins).
func live(state byte) bool {
	return state == varAdded || state == varAdded&varInDeletedTransition
}

// ovmfVariableFile is the variable named name of vendor guid (8-4-4-4-12) as efivarfs shows it in
// the guest: the attributes (4 bytes, little-endian), then the data; ok is false when the store
// holds no live copy. Of two live copies (a replacement cut short), the later wins.
func ovmfVariableFile(path, guid, name string) (file []byte, ok bool, err error) {
	g, err := efiGUID(guid)
	if err != nil {
		return nil, false, err
	}
	vars, err := readOVMFVariables(path)
	if err != nil {
		return nil, false, err
	}
	for _, v := range vars {
		if v.Name == name && v.Vendor == g {
			file = binary.LittleEndian.AppendUint32(nil, v.Attributes)
			file, ok = append(file, v.Data...), true
		}
	}
	return file, ok, nil
}
