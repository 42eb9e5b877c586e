package swsusp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestLayoutArithmetic(t *testing.T) {
	// swsusp_header: reserved[PAGE_SIZE - 20 - sizeof(sector_t) - sizeof(int)
	// - sizeof(u32) - sizeof(u32)], then hw_sig, crc32, image, flags,
	// orig_sig[10], sig[10]; packed.
	if got := PageSize - 20 - 8 - 4 - 4 - 4; got != offHWSig {
		t.Errorf("hw_sig at %d, want %d", offHWSig, got)
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"crc32", offCRC32, offHWSig + 4},
		{"image", offImage, offCRC32 + 4},
		{"flags", offFlags, offImage + 8},
		{"orig_sig", offOrigSig, offFlags + 4},
		{"sig", offSig, offOrigSig + 10},
		{"end", offSig + 10, PageSize},
		{"MaxBadPages", MaxBadPages, 637},
		{"record end", RecordEnd, 4056},
		{"record room", RecordMaxSize, 2008},
		{"record bad pages", RecordMaxBadPages, 128},
		{"blkid check", offBlkidCheck, 1196},
		{"map entries", MapEntries, 511},
		{"next_swap", offNextSwap, 4088},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if RecordOffset < offBadPages+4*RecordMaxBadPages || RecordEnd > offHWSig || RecordOffset <= offBlkidCheck+8 {
		t.Error("record region overlaps the bad-pages list, the blkid check bytes or swsusp_header")
	}
}

func TestDetectSignature(t *testing.T) {
	for _, c := range []struct {
		magic string
		at    int
		want  Signature
		kind  string
	}{
		{"SWAPSPACE2", offSig, SigSwap, "swap"},
		{"SWAP-SPACE", offSig, SigSwapV0, "swap-v0"},
		{"S1SUSPEND\x00", offSig, SigSwsusp, "swsusp"},
		{"S1SUSPENDx", offSig, SigSwsusp, "swsusp"}, // blkid compares 9 bytes
		{"S2SUSPEND\x00", offSig, SigSuspend2, "suspend2"},
		{"ULSUSPEND\x00", offSig, SigUswsusp, "uswsusp"},
		{"LINHIB0001", offSig, SigLinHib, "linhib"},
		{"LINHIB0002", offSig, SigNone, "none"},
		{"SWAPSPACE3", offSig, SigNone, "none"},
		{tuxOnIceMagic, 0, SigTuxOnIce, "tuxonice"},
		{"", 0, SigNone, "none"},
	} {
		page := make([]byte, PageSize)
		copy(page[c.at:], c.magic)
		if c.want == SigTuxOnIce {
			copy(page[offSig:], "SWAPSPACE2") // TuxOnIce wins over it
		}
		if got := DetectSignature(page); got != c.want {
			t.Errorf("%q at %d: got %q, want %q", c.magic, c.at, got, c.want)
		}
		if got := ParsePage0(page).Kind(); got != c.kind {
			t.Errorf("%q at %d: kind %q, want %q", c.magic, c.at, got, c.kind)
		}
	}
}

func TestParseSwapHeaderFields(t *testing.T) {
	good, err := MkswapPage(1<<20, MkswapOptions{UUID: testUUID, Label: testLabel})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		name    string
		edit    func(p []byte)
		check   func(h SwapHeader) bool
		wantErr string
	}{
		{"good", nil, func(h SwapHeader) bool {
			return h.Version == 1 && h.LastPage == 255 && h.NrBadPages == 0 && h.UUID == testUUID &&
				h.Label == testLabel && h.Pages() == 256 && h.UUIDString() == "01234567-89ab-cdef-fedc-ba9876543210"
		}, ""},
		{"version 2", func(p []byte) { le.PutUint32(p[offVersion:], 2) }, func(h SwapHeader) bool { return h.Version == 2 }, "version is 2"},
		{"byte-swapped", func(p []byte) { binary.BigEndian.PutUint32(p[offVersion:], 1) }, nil, "byte-swapped"},
		{"last page 0", func(p []byte) { le.PutUint32(p[offLastPage:], 0) }, nil, "Empty swap-file"},
		{"bad pages", func(p []byte) { le.PutUint32(p[offNrBadPages:], 3) }, func(h SwapHeader) bool { return h.NrBadPages == 3 }, ""},
		{"too many bad pages", func(p []byte) { le.PutUint32(p[offNrBadPages:], 638) }, nil, "more than the kernel's 637"},
		{"label 16 bytes no NUL", func(p []byte) { copy(p[offLabel:], "0123456789abcdef") }, func(h SwapHeader) bool { return h.Label == "0123456789abcdef" }, ""},
		{"no label", func(p []byte) { clear(p[offLabel : offLabel+16]) }, func(h SwapHeader) bool { return h.Label == "" }, ""},
		{"blkid garbage", func(p []byte) { p[offBlkidCheck+5] = 1 }, nil, "libblkid will not report"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := bytes.Clone(good)
			if c.edit != nil {
				c.edit(p)
			}
			h, err := ParseSwapHeader(p)
			if c.wantErr == "" && err != nil {
				t.Errorf("error %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("error %v, want one with %q", err, c.wantErr)
			}
			if c.check != nil && !c.check(h) {
				t.Errorf("header %+v", h)
			}
		})
	}
	if _, err := ParseSwapHeader(good[:100]); err == nil {
		t.Error("short page: no error")
	}
}

func TestUUID(t *testing.T) {
	s := FormatUUID(testUUID)
	if s != "01234567-89ab-cdef-fedc-ba9876543210" {
		t.Fatal(s)
	}
	u, err := ParseUUID(strings.ToUpper(s))
	if err != nil || u != testUUID {
		t.Fatalf("ParseUUID: %v %v", u, err)
	}
	for _, bad := range []string{"", "01234567-89ab-cdef-fedc-ba98765432", "01234567x89ab-cdef-fedc-ba9876543210", "0123456g-89ab-cdef-fedc-ba9876543210"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q): no error", bad)
		}
	}
	n, err := NewUUID()
	if err != nil || n[6]>>4 != 4 || n[8]>>6 != 2 {
		t.Errorf("NewUUID %x %v", n, err)
	}
}

func TestParseHeaderFlags(t *testing.T) {
	for _, c := range []struct {
		flags                             uint32
		platform, nocomp, crc, hwsig, lz4 bool
		comp                              string
		wantErr                           string
	}{
		{0, false, false, false, false, false, "lzo", ""},
		{FlagPlatform, true, false, false, false, false, "lzo", ""},
		{FlagNoCompress, false, true, false, false, false, "none", ""},
		{FlagCRC32, false, false, true, false, false, "lzo", ""},
		{FlagHWSig, false, false, false, true, false, "lzo", ""},
		{FlagLZ4 | FlagCRC32, false, false, true, false, true, "lz4", ""},
		{FlagLZ4 | FlagNoCompress, false, true, false, false, true, "none", "both uncompressed and LZ4"},
		{0x40, false, false, false, false, false, "lzo", "unknown flags 0x40"},
	} {
		dev, _ := buildImage(t, imageSpec{dataPages: 3, flags: c.flags})
		h, err := ParseHeader(dev.b[:PageSize])
		if got := [5]bool{h.Platform(), h.NoCompress(), h.CRC32Mode(), h.HWSigMode(), h.LZ4()}; got != [5]bool{c.platform, c.nocomp, c.crc, c.hwsig, c.lz4} {
			t.Errorf("flags %#x: got %v", c.flags, got)
		}
		if h.Compressor() != c.comp {
			t.Errorf("flags %#x: compressor %q, want %q", c.flags, h.Compressor(), c.comp)
		}
		if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("flags %#x: error %v, want %q", c.flags, err, c.wantErr)
		}
		if h.Sig != SigSwsusp || h.OrigSig != SigSwap || h.Image != 1 || h.CRC32 != 0x12345678 || h.Flags != c.flags {
			t.Errorf("header %+v", h)
		}
	}
	// hw_sig, and a bad orig_sig.
	dev, _ := buildImage(t, imageSpec{dataPages: 3, flags: FlagHWSig})
	binary.LittleEndian.PutUint32(dev.b[offHWSig:], 0xcafe)
	copy(dev.b[offOrigSig:], "garbage!!!")
	h, err := ParseHeader(dev.b[:PageSize])
	if h.HWSig != 0xcafe || h.OrigSig != SigNone || string(h.OrigSigRaw[:]) != "garbage!!!" {
		t.Errorf("header %+v", h)
	}
	if err == nil || !strings.Contains(err.Error(), "orig_sig") {
		t.Errorf("error %v", err)
	}
}

func TestReadAreaZeroed(t *testing.T) {
	dev := &memDev{b: make([]byte, 64*PageSize)}
	a, err := ReadArea(dev, int64(len(dev.b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != "none" || a.HasImage() || a.Valid() || a.Record != nil || len(a.Problems) != 0 {
		t.Errorf("%+v", a)
	}
}

func TestReadAreaImage(t *testing.T) {
	for _, c := range []struct {
		name  string
		spec  imageSpec
		maps  int
		noArc bool
	}{
		{"one map page, nocompress", imageSpec{dataPages: 20, flags: FlagNoCompress}, 1, false},
		{"full map page", imageSpec{devPages: 600, dataPages: MapEntries, flags: FlagNoCompress}, 1, false},
		{"three map pages", imageSpec{devPages: 1300, dataPages: 1200, flags: FlagNoCompress | FlagPlatform}, 3, false},
		{"compressed", imageSpec{dataPages: 10, flags: FlagCRC32}, 1, false},
		{"swap file at offset", imageSpec{devPages: 200, areaPage: 100, dataPages: 30, flags: FlagNoCompress}, 1, false},
		{"map page before header", imageSpec{devPages: 200, areaPage: 100, firstMapAt: 5, dataPages: 30, flags: FlagNoCompress}, 1, false},
		{"utsname, no arch header", imageSpec{dataPages: 5, flags: FlagNoCompress, noArch: true}, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev, maps := buildImage(t, c.spec)
			a, err := ReadArea(dev, int64(len(dev.b)), c.spec.areaPage)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind() != "swsusp" || !a.HasImage() || !a.Valid() {
				t.Fatalf("kind %s has %v valid %v problems %q", a.Kind(), a.HasImage(), a.Valid(), a.Problems)
			}
			if a.Swap.UUID != testUUID || a.Swap.Label != testLabel {
				t.Errorf("UUID/label lost: %+v", a.Swap)
			}
			if a.MapPages != c.maps || len(maps) != c.maps || a.DataPages != uint64(c.spec.dataPages) {
				t.Errorf("map pages %d data pages %d", a.MapPages, a.DataPages)
			}
			if a.Header.Image != maps[0] {
				t.Errorf("image %d, want %d", a.Header.Image, maps[0])
			}
			i := a.Info
			if i == nil {
				t.Fatal("no info")
			}
			want := Info{NumPhysPages: 131072, CPUs: 2, Pages: uint64(c.spec.dataPages), ImagePages: uint64(c.spec.dataPages) - 2,
				Size: uint64(c.spec.dataPages) * PageSize}
			if i.NumPhysPages != want.NumPhysPages || i.CPUs != want.CPUs || i.Pages != want.Pages || i.ImagePages != want.ImagePages || i.Size != want.Size {
				t.Errorf("info %+v", i)
			}
			if c.noArc {
				if i.ArchHeader || i.UTS != "6.1.0-18-arm64" || i.UTSMachine != "aarch64" || i.UTSNodename != "guest" ||
					i.UTSVersion != "#1 SMP Debian 6.1.76-1" || i.KernelVersion() != "6.1.76" {
					t.Errorf("uts %+v", i)
				}
			} else if !i.ArchHeader || i.ArchMagic != 0x23456789ABCDEF02 || i.UTS != "" || i.VersionCode != 0 || i.KernelVersion() != "" ||
				i.JumpAddress != 0xffffffff81000000 || i.JumpAddressPhys != 0x1000000 || i.CR3 != 0x2a0c000 || i.E820Checksum != 0xdeadbeef {
				t.Errorf("arch header %+v", i)
			}
		})
	}
}

func TestReadAreaPlainSwapFromMkswap(t *testing.T) {
	dev := &memDev{b: make([]byte, 256*PageSize)}
	if err := Mkswap(dev, int64(len(dev.b)), MkswapOptions{UUID: testUUID, Label: testLabel}); err != nil {
		t.Fatal(err)
	}
	a, err := ReadArea(dev, int64(len(dev.b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != "swap" || a.HasImage() || !a.Valid() || a.Header != nil || a.Info != nil || a.Record != nil {
		t.Errorf("%+v", a)
	}
	if a.Swap.LastPage != 255 || a.Swap.UUIDString() != FormatUUID(testUUID) || a.Swap.Label != testLabel {
		t.Errorf("%+v", a.Swap)
	}
	// The same header on a shorter device.
	a, err = ReadArea(dev, 100*PageSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(a, "last page 255, but the device has 100 pages") {
		t.Errorf("problems %q", a.Problems)
	}
}

func TestReadAreaBroken(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		name    string
		spec    imageSpec
		edit    func(d *memDev, maps []uint64)
		size    func(d *memDev) int64
		offset  uint64
		problem string
	}{
		{name: "offset past end", spec: imageSpec{dataPages: 5}, offset: 64, problem: "offset 64 pages is past the end of the device (64 pages)"},
		{name: "device smaller than a page", spec: imageSpec{dataPages: 5}, size: func(*memDev) int64 { return 4095 }, problem: "past the end of the device (0 pages)"},
		{name: "truncated: map page past end", spec: imageSpec{devPages: 64, dataPages: 40},
			size: func(*memDev) int64 { return 1 * PageSize }, problem: "image truncated: first map page at page 1 is past the end of the device (1 pages)"},
		{name: "image sector past device", spec: imageSpec{dataPages: 5},
			edit: func(d *memDev, _ []uint64) { le.PutUint64(d.b[offImage:], 1<<40) }, problem: "first map page at page 1099511627776 is past the end"},
		{name: "image 0", spec: imageSpec{dataPages: 5},
			edit: func(d *memDev, _ []uint64) { le.PutUint64(d.b[offImage:], 0) }, problem: "image is 0"},
		{name: "image is header page", spec: imageSpec{areaPage: 10, dataPages: 5}, offset: 10,
			edit: func(d *memDev, _ []uint64) { le.PutUint64(d.b[10*PageSize+offImage:], 10) }, problem: "first map page at page 10 is the header page"},
		{name: "second map page past end", spec: imageSpec{devPages: 1300, dataPages: 1200, flags: FlagNoCompress},
			size: func(*memDev) int64 { return 500 * PageSize }, problem: "image truncated: map page 2 (linked from page 1) at page 513 is past the end of the device (500 pages)"},
		{name: "data entry past end", spec: imageSpec{devPages: 64, dataPages: 40, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) { le.PutUint64(d.b[m[0]*PageSize+8*7:], 999) }, problem: "1 image pages lie outside the device or swap area (first: map page 1 entry 7: page 999 is past the end of the device (64 pages))"},
		{name: "data entry is header page", spec: imageSpec{devPages: 64, dataPages: 40, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) {
				le.PutUint64(d.b[m[0]*PageSize+8*3:], 0)
				le.PutUint64(d.b[m[0]*PageSize+8*3:], 0)
			}, problem: "image truncated: map chain lists 3 pages, info page says 40"},
		{name: "data entry past swap area", spec: imageSpec{devPages: 64, dataPages: 40, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) { le.PutUint32(d.b[offLastPage:], 30) }, problem: "past the swap area's last page 30"},
		{name: "map chain loop to itself", spec: imageSpec{dataPages: 5},
			edit:    func(d *memDev, m []uint64) { le.PutUint64(d.b[m[0]*PageSize+offNextSwap:], m[0]) },
			problem: "map page 1 (page 1) ends after 5 entries but links to page 1"},
		{name: "map chain loop", spec: imageSpec{devPages: 1300, dataPages: 1200, flags: FlagNoCompress},
			edit:    func(d *memDev, m []uint64) { le.PutUint64(d.b[m[2]*PageSize+offNextSwap:], m[1]) },
			problem: "ends after"},
		{name: "map chain loop, full pages", spec: imageSpec{devPages: 1300, dataPages: 2 * MapEntries, flags: FlagNoCompress},
			edit:    func(d *memDev, m []uint64) { le.PutUint64(d.b[m[1]*PageSize+offNextSwap:], m[0]) },
			problem: "map chain loops: map page 3 (linked from page 513) is page 1, already read"},
		{name: "first map page empty", spec: imageSpec{dataPages: 5},
			edit: func(d *memDev, m []uint64) { clear(d.b[m[0]*PageSize : m[0]*PageSize+8]) }, problem: "lists no pages"},
		{name: "nocompress count mismatch", spec: imageSpec{dataPages: 30, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) { clear(d.b[m[0]*PageSize+8*20 : m[0]*PageSize+8*30]) }, problem: "map chain lists 20 pages, info page says 30"},
		{name: "compressed too many pages", spec: imageSpec{devPages: 200, dataPages: 100},
			edit: func(d *memDev, m []uint64) {
				le.PutUint64(d.b[2*PageSize+offPages:], 2)
				le.PutUint64(d.b[2*PageSize+offSize:], 2*PageSize)
				le.PutUint64(d.b[2*PageSize+offImagePages:], 1)
			},
			problem: "more than 2 pages of lzo data can take (36)"},
		{name: "info size wrong", spec: imageSpec{dataPages: 5, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) { le.PutUint64(d.b[2*PageSize+offSize:], 1) }, problem: "info page: size 1 is not pages 5"},
		{name: "info cpus negative", spec: imageSpec{dataPages: 5, flags: FlagNoCompress},
			edit: func(d *memDev, m []uint64) { le.PutUint32(d.b[2*PageSize+offCPUs:], 0xffffffff) }, problem: "cpus is -1"},
		{name: "S1SUSPEND without NUL", spec: imageSpec{dataPages: 5},
			edit: func(d *memDev, m []uint64) { d.b[PageSize-1] = 'x' }, problem: "does not end in NUL"},
		{name: "bad orig_sig", spec: imageSpec{dataPages: 5},
			edit: func(d *memDev, m []uint64) { copy(d.b[offOrigSig:], "XXXXXXXXXX") }, problem: "orig_sig"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev, maps := buildImage(t, c.spec)
			if c.edit != nil {
				c.edit(dev, maps)
			}
			size := int64(len(dev.b))
			if c.size != nil {
				size = c.size(dev)
			}
			a, err := ReadArea(dev, size, c.offset)
			if err != nil {
				t.Fatal(err)
			}
			if a.Valid() {
				t.Errorf("valid, want problem %q", c.problem)
			}
			if !hasProblem(a, c.problem) {
				t.Errorf("problems %q, want one with %q", a.Problems, c.problem)
			}
		})
	}
}

func TestReadAreaIOError(t *testing.T) {
	dev, _ := buildImage(t, imageSpec{dataPages: 5})
	// size larger than the device: the map page read fails, which is an I/O
	// error, not a format problem.
	_, err := ReadArea(&memDev{b: dev.b[:PageSize]}, int64(len(dev.b)), 0)
	if err == nil || !strings.Contains(err.Error(), "map page at page 1") {
		t.Errorf("error %v", err)
	}
}

func TestUswsuspHeader(t *testing.T) {
	page, _ := MkswapPage(1<<20, MkswapOptions{UUID: testUUID})
	copy(page[offOrigSig:], "SWAPSPACE2")
	copy(page[offSig:], "ULSUSPEND\x00")
	binary.LittleEndian.PutUint64(page[offUswsuspImg:], 77)
	a := ParsePage0(page)
	if a.Kind() != "uswsusp" || a.HasImage() || a.Header == nil || a.Header.Image != 77 || a.Header.OrigSig != SigSwap || a.Swap.UUID != testUUID {
		t.Errorf("%+v %+v", a, a.Header)
	}
}

func TestDiscard(t *testing.T) {
	for _, off := range []uint64{0, 10} {
		dev, _ := buildImage(t, imageSpec{devPages: 100, areaPage: off, dataPages: 5})
		before := bytes.Clone(dev.b)
		p, err := Discard(dev, off, true)
		if err != nil || p.Done || !p.DryRun || len(dev.writes) != 0 {
			t.Fatalf("dry run: %v %+v writes %v", err, p, dev.writes)
		}
		if p.Offset != int64(off*PageSize+4086) || string(p.New) != "SWAPSPACE2" || string(p.Old) != "S1SUSPEND\x00" {
			t.Errorf("plan %+v", p)
		}
		if !strings.Contains(p.String(), `would write "SWAPSPACE2" over "S1SUSPEND"`) {
			t.Errorf("plan string %q", p)
		}
		p, err = Discard(dev, off, false)
		if err != nil || !p.Done {
			t.Fatalf("%v %+v", err, p)
		}
		// Only the 10 signature bytes changed.
		for i := range dev.b {
			in := int64(i) >= p.Offset && int64(i) < p.Offset+10
			if !in && dev.b[i] != before[i] {
				t.Fatalf("byte %d changed", i)
			}
		}
		a, err := ReadArea(dev, int64(len(dev.b)), off)
		if err != nil || a.Kind() != "swap" || !a.Valid() || a.Swap.UUID != testUUID {
			t.Errorf("after discard: %v %+v", err, a)
		}
		// Now there is no image.
		if _, err := Discard(dev, off, false); !errors.Is(err, ErrNoImage) {
			t.Errorf("second discard: %v", err)
		}
	}
	dev, _ := buildImage(t, imageSpec{dataPages: 5})
	copy(dev.b[offOrigSig:], "junkjunkju")
	if _, err := Discard(dev, 0, false); err == nil || !strings.Contains(err.Error(), "not a swap signature") {
		t.Errorf("bad orig_sig: %v", err)
	}
	if len(dev.writes) != 0 {
		t.Error("wrote after refusing")
	}
	if _, err := Discard(&memDev{b: make([]byte, 100)}, 0, true); err == nil {
		t.Error("short device: no error")
	}
}

// inArea names why a page cannot hold image data: outside the device, the
// header page itself, or (for a partition's area) past the swap area.
func TestImageWalkInArea(t *testing.T) {
	for _, c := range []struct {
		headerPage, p uint64
		lastPage      uint32
		want          string
	}{
		{0, 1, 63, ""},
		{0, 63, 63, ""},
		{0, 64, 63, "past the end of the device (64 pages)"},
		{0, 1 << 40, 63, "past the end of the device (64 pages)"},
		{0, 0, 63, "the header page"},
		{10, 10, 63, "the header page"},
		{0, 31, 30, "past the swap area's last page 30"},
		{0, 30, 30, ""},
		{10, 31, 30, ""}, // a swap file's last_page counts file pages, not device pages
	} {
		w := &imageWalk{a: &Area{Swap: SwapHeader{Version: 1, LastPage: c.lastPage}}, devPages: 64, headerPage: c.headerPage}
		if got := w.inArea(c.p); got != c.want {
			t.Errorf("header %d last page %d: page %d: %q, want %q", c.headerPage, c.lastPage, c.p, got, c.want)
		}
	}
}

// A compressed image of n pages: the info page, then up to 32 pages a chunk
// in at most 35 swap pages each.
func TestMaxCompressedPages(t *testing.T) {
	for _, c := range []struct{ pages, want uint64 }{
		{2, 36},
		{33, 36},
		{34, 71},
		{65, 71},
		{66, 106},
	} {
		if got := maxCompressedPages(c.pages); got != c.want {
			t.Errorf("maxCompressedPages(%d) = %d, want %d", c.pages, got, c.want)
		}
	}
}
