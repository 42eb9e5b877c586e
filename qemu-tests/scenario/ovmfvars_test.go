package scenario

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"github.com/hibernate-linux/hibernate/internal/efivars"
)

// globalVariableGUID is EFI_GLOBAL_VARIABLE (PK, KEK, SecureBoot…).
const globalVariableGUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// Debian's OVMF store with Microsoft's keys enrolled holds PK and KEK (global variables), and
// no HibernateLocation.
func TestOVMFStoreOfDebian(t *testing.T) {
	if _, err := os.Stat(ovmfSecureVars); err != nil {
		t.Skipf("%s: %v (qemu-tests/scripts/deps.sh installs ovmf)", ovmfSecureVars, err)
	}
	vars, err := readOVMFVariables(ovmfSecureVars)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := efiGUID(globalVariableGUID)
	found := map[string]bool{}
	for _, v := range vars {
		if v.Vendor == g {
			found[v.Name] = len(v.Data) > 0
		}
	}
	if !found["PK"] || !found["KEK"] {
		t.Fatalf("global variables %v, want PK and KEK with data", found)
	}
	if _, ok, err := ovmfVariableFile(ovmfSecureVars, efivars.SystemdVendorGUID, "HibernateLocation"); ok || err != nil {
		t.Fatalf("a HibernateLocation in Debian's store (%v)", err)
	}
	if _, err := readOVMFVariables(ovmfCode); err == nil {
		t.Fatal("the firmware's code read as a variable store")
	}
}

// storeVar is one variable as EDK II writes it.
func storeVar(t *testing.T, state byte, guid, name string, attrs uint32, data []byte) []byte {
	g, err := efiGUID(guid)
	if err != nil {
		t.Fatal(err)
	}
	n := utf16.Encode([]rune(name + "\x00"))
	h := make([]byte, authVarHeaderSize)
	binary.LittleEndian.PutUint16(h, varStartID)
	h[2] = state
	binary.LittleEndian.PutUint32(h[4:], attrs)
	binary.LittleEndian.PutUint32(h[36:], uint32(2*len(n)))
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	copy(h[44:], g[:])
	for _, c := range n {
		h = binary.LittleEndian.AppendUint16(h, c)
	}
	h = append(h, data...)
	for len(h)%4 != 0 {
		h = append(h, 0xff)
	}
	return h
}

// A store where HibernateLocation was written, replaced, then deleted and written again: only
// the live copy is read, as efivarfs would show it; once deleted, none.
func TestOVMFStoreLiveCopy(t *testing.T) {
	const hl = "HibernateLocation"
	store := func(vars ...[]byte) string {
		b := make([]byte, 0x48, 64<<10)
		copy(b[40:], "_FVH")
		binary.LittleEndian.PutUint16(b[48:], 0x48)
		hdr := make([]byte, 28)
		copy(hdr, authVariableGUID[:])
		binary.LittleEndian.PutUint32(hdr[16:], 32<<10)
		hdr[20], hdr[21] = 0x5a, 0xfe
		b = append(b, hdr...)
		for _, v := range vars {
			b = append(b, v...)
		}
		b = append(b, bytes.Repeat([]byte{0xff}, 0x48+(32<<10)-len(b))...)
		p := filepath.Join(t.TempDir(), "OVMF_VARS.fd")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := storeVar(t, varAdded&varDeleted&varInDeletedTransition, efivars.SystemdVendorGUID, hl, 7, []byte("old"))
	other := storeVar(t, varAdded, globalVariableGUID, hl, 7, []byte("same name, another vendor"))
	cur := storeVar(t, varAdded, efivars.SystemdVendorGUID, hl, 7, []byte("{\x00}\x00\x00\x00"))
	p := store(old, other, cur)
	file, ok, err := ovmfVariableFile(p, efivars.SystemdVendorGUID, hl)
	if err != nil || !ok || !bytes.Equal(file, []byte{7, 0, 0, 0, '{', 0, '}', 0, 0, 0}) {
		t.Fatalf("read %q (%v, %v), want the live copy", file, ok, err)
	}
	gone := storeVar(t, varAdded&varDeleted, efivars.SystemdVendorGUID, hl, 7, []byte("{\x00}\x00\x00\x00"))
	if _, ok, err := ovmfVariableFile(store(old, other, gone), efivars.SystemdVendorGUID, hl); ok || err != nil {
		t.Fatalf("a deleted variable read as there (%v)", err)
	}
	bad := store(storeVar(t, varAdded, efivars.SystemdVendorGUID, hl, 7, []byte("x")))
	b, _ := os.ReadFile(bad)
	binary.LittleEndian.PutUint32(b[0x48+28+40:], 1<<30) // a data size past the end
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ovmfVariableFile(bad, efivars.SystemdVendorGUID, hl); err == nil {
		t.Fatal("a variable past the store's end was read")
	}
}
