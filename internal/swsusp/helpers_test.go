package swsusp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// memDev is a device in memory that fails any access outside it, so tests
// catch reads past the size a caller was given.
type memDev struct {
	b      []byte
	writes [][2]int64 // offset, length of each write
}

func (d *memDev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(d.b)) {
		return 0, fmt.Errorf("memDev: read [%d,%d) outside [0,%d)", off, off+int64(len(p)), len(d.b))
	}
	return copy(p, d.b[off:]), nil
}

func (d *memDev) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(d.b)) {
		return 0, fmt.Errorf("memDev: write [%d,%d) outside [0,%d)", off, off+int64(len(p)), len(d.b))
	}
	d.writes = append(d.writes, [2]int64{off, int64(len(p))})
	return copy(d.b[off:], p), nil
}

var (
	testUUID  = [16]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	testLabel = "hibswap"
)

// imageSpec describes a synthetic S1SUSPEND image built by buildImage.
type imageSpec struct {
	devPages   uint64 // size of the device in pages
	areaPage   uint64 // page of the header (resume_offset)
	dataPages  int    // pages listed in the chain, the info page included
	flags      uint32
	firstMapAt uint64 // 0: right after the header page
	noArch     bool   // write a utsname instead of the x86_64 arch header
}

// buildImage makes a device holding a swap area at spec.areaPage with an
// image in it: header page, then for each run of 511 entries a map page
// followed by the pages it lists. The info page is the first listed page.
// It returns the device and the pages of the map pages.
func buildImage(t testing.TB, s imageSpec) (*memDev, []uint64) {
	t.Helper()
	if s.devPages == 0 {
		s.devPages = 64
	}
	areaPages := s.devPages - s.areaPage
	hdr, err := MkswapPage(int64(areaPages*PageSize), MkswapOptions{UUID: testUUID, Label: testLabel})
	if err != nil {
		t.Fatal(err)
	}
	dev := &memDev{b: make([]byte, s.devPages*PageSize)}
	base := s.areaPage * PageSize
	copy(dev.b[base:], hdr)
	le := binary.LittleEndian
	next := s.areaPage + 1
	if s.firstMapAt != 0 {
		next = s.firstMapAt
	}
	var maps []uint64
	var infoPage uint64
	for left := s.dataPages; left > 0; {
		mp := next
		next++
		maps = append(maps, mp)
		n := min(left, MapEntries)
		for k := 0; k < n; k++ {
			if k == 0 && infoPage == 0 {
				infoPage = next
			}
			le.PutUint64(dev.b[mp*PageSize+uint64(k)*8:], next)
			// Fill data pages so that they are not zero.
			dev.b[next*PageSize] = 0xa5
			next++
		}
		left -= n
		if left > 0 {
			le.PutUint64(dev.b[mp*PageSize+offNextSwap:], next)
		}
	}
	if next > s.devPages {
		t.Fatalf("buildImage: image needs %d pages, device has %d", next, s.devPages)
	}
	// Info page.
	ip := dev.b[infoPage*PageSize : (infoPage+1)*PageSize]
	clear(ip)
	pages := uint64(s.dataPages)
	if !s.noArch {
		le.PutUint64(ip[offArchJump:], 0xffffffff81000000)
		le.PutUint64(ip[offArchJumpPhys:], 0x1000000)
		le.PutUint64(ip[offArchCR3:], 0x2a0c000)
		le.PutUint64(ip[offArchMagic:], x86RestoreV2)
		le.PutUint64(ip[offArchE820:], 0xdeadbeef)
	} else {
		copy(ip[0:], "Linux")
		copy(ip[utsNodenameOffset:], "guest")
		copy(ip[utsReleaseOffset:], "6.1.0-18-arm64")
		copy(ip[utsVersionOffset:], "#1 SMP Debian 6.1.76-1")
		copy(ip[utsMachineOffset:], "aarch64")
		le.PutUint32(ip[offVersionCode:], 6<<16|1<<8|76)
	}
	le.PutUint64(ip[offNumPhysPages:], 131072)
	le.PutUint32(ip[offCPUs:], 2)
	le.PutUint64(ip[offImagePages:], max(pages, 2)-2)
	le.PutUint64(ip[offPages:], pages)
	le.PutUint64(ip[offSize:], pages*PageSize)
	// swsusp_header, as mark_swapfiles writes it.
	p0 := dev.b[base : base+PageSize]
	copy(p0[offOrigSig:], p0[offSig:offSig+sigLen])
	copy(p0[offSig:], hibernateMagic)
	if len(maps) > 0 {
		le.PutUint64(p0[offImage:], maps[0])
	}
	le.PutUint32(p0[offFlags:], s.flags)
	le.PutUint32(p0[offCRC32:], 0x12345678)
	return dev, maps
}

func hasProblem(a *Area, sub string) bool {
	for _, p := range a.Problems {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}
