package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// tinyELF is the smallest 64-bit little-endian ELF file debug/elf and ld.so's search read as
// a program (with a loader) or a shared library (interp ""): the program headers PT_INTERP and
// PT_DYNAMIC, and the sections .dynstr, .dynamic and .shstrtab, its dynamic section naming
// needed and runpath. Nothing in it runs: it is for the search, and a fuzz seed small enough
// to mutate quickly.
func tinyELF(machine elf.Machine, interp, runpath string, needed ...string) []byte {
	const ehdr, phdr, shdr = 64, 56, 64
	var dynstr bytes.Buffer
	dynstr.WriteByte(0)
	str := func(s string) uint64 {
		off := uint64(dynstr.Len())
		dynstr.WriteString(s + "\x00")
		return off
	}
	var dyn []uint64 // tag, value pairs
	for _, n := range needed {
		dyn = append(dyn, uint64(elf.DT_NEEDED), str(n))
	}
	if runpath != "" {
		dyn = append(dyn, uint64(elf.DT_RUNPATH), str(runpath))
	}
	dyn = append(dyn, uint64(elf.DT_STRTAB), 0, uint64(elf.DT_NULL), 0)
	shstr := "\x00.dynstr\x00.dynamic\x00.shstrtab\x00"

	nph, interpLen := 1, uint64(0)
	if interp != "" {
		nph, interpLen = 2, uint64(len(interp)+1)
	}
	interpOff := uint64(ehdr + nph*phdr)
	dynstrOff := interpOff + interpLen
	dynOff := (dynstrOff + uint64(dynstr.Len()) + 7) &^ 7
	shstrOff := dynOff + uint64(len(dyn)*8)
	shOff := (shstrOff + uint64(len(shstr)) + 7) &^ 7

	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v ...any) {
		for _, x := range v {
			binary.Write(&b, le, x)
		}
	}
	typ := elf.ET_DYN
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	b.Write(make([]byte, 9))
	w(uint16(typ), uint16(machine), uint32(elf.EV_CURRENT), uint64(0), uint64(ehdr), shOff, uint32(0),
		uint16(ehdr), uint16(phdr), uint16(nph), uint16(shdr), uint16(4), uint16(3))
	if interp != "" {
		w(uint32(elf.PT_INTERP), uint32(elf.PF_R), interpOff, interpOff, interpOff, interpLen, interpLen, uint64(1))
	}
	w(uint32(elf.PT_DYNAMIC), uint32(elf.PF_R|elf.PF_W), dynOff, dynOff, dynOff, uint64(len(dyn)*8), uint64(len(dyn)*8), uint64(8))
	if interp != "" {
		b.WriteString(interp + "\x00")
	}
	b.Write(dynstr.Bytes())
	b.Write(make([]byte, int(dynOff)-b.Len()))
	for _, v := range dyn {
		w(v)
	}
	b.WriteString(shstr)
	b.Write(make([]byte, int(shOff)-b.Len()))
	section := func(name uint32, typ elf.SectionType, off, size uint64, link uint32, entsize uint64) {
		w(name, uint32(typ), uint64(elf.SHF_ALLOC), off, off, size, link, uint32(0), uint64(1), entsize)
	}
	section(0, elf.SHT_NULL, 0, 0, 0, 0)
	section(1, elf.SHT_STRTAB, dynstrOff, uint64(dynstr.Len()), 0, 0)
	section(9, elf.SHT_DYNAMIC, dynOff, uint64(len(dyn)*8), 1, 16)
	section(18, elf.SHT_STRTAB, shstrOff, uint64(len(shstr)), 0, 0)
	return b.Bytes()
}
