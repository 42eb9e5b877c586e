package swsusp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Offsets in the swsusp_info page (kernel/power/power.h, x86_64 layout).
const (
	utsFieldLen       = 65 // __NEW_UTS_LEN + 1
	utsLen            = 6 * utsFieldLen
	offVersionCode    = 392
	offNumPhysPages   = 400
	offCPUs           = 408
	offImagePages     = 416
	offPages          = 424
	offSize           = 432
	offArchJump       = 0
	offArchJumpPhys   = 8
	offArchCR3        = 16
	offArchMagic      = 24
	offArchE820       = 32
	utsReleaseOffset  = 2 * utsFieldLen
	utsVersionOffset  = 3 * utsFieldLen
	utsMachineOffset  = 4 * utsFieldLen
	utsNodenameOffset = 1 * utsFieldLen
)

// Info is the swsusp_info page, the first page of an image.
type Info struct {
	NumPhysPages uint64 // RAM pages of the machine that hibernated
	ImagePages   uint64 // nr_copy_pages: pages of memory saved
	Pages        uint64 // pages of the image: info + meta (PFN) pages + data
	Size         uint64 // Pages * PageSize
	CPUs         int32
	VersionCode  uint32 // LINUX_VERSION_CODE; 0 on x86_64 (arch header there)
	UTS          string // utsname release; "" on x86_64 (arch header there)
	UTSVersion   string
	UTSMachine   string
	UTSNodename  string
	// ArchMagic is the x86_64 restore header magic (0x23456789ABCDEF02), read
	// at 24; ArchHeader says it matched, and then the other Arch fields mean
	// something and UTS/VersionCode are not there.
	ArchMagic       uint64
	ArchHeader      bool
	JumpAddress     uint64
	JumpAddressPhys uint64
	CR3             uint64
	E820Checksum    uint64
}

// KernelVersion returns VersionCode as "a.b.c", or "" when it is 0.
func (i Info) KernelVersion() string {
	if i.VersionCode == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", i.VersionCode>>16, (i.VersionCode>>8)&0xff, i.VersionCode&0xff)
}

// ParseInfo reads a swsusp_info page. The error names each field that
// cannot be right; the Info is returned anyway.
func ParseInfo(page []byte) (Info, error) {
	var i Info
	if len(page) < PageSize {
		return i, fmt.Errorf("info page is %d bytes, want %d", len(page), PageSize)
	}
	le := binary.LittleEndian
	i.VersionCode = le.Uint32(page[offVersionCode:])
	i.NumPhysPages = le.Uint64(page[offNumPhysPages:])
	i.CPUs = int32(le.Uint32(page[offCPUs:]))
	i.ImagePages = le.Uint64(page[offImagePages:])
	i.Pages = le.Uint64(page[offPages:])
	i.Size = le.Uint64(page[offSize:])
	i.ArchMagic = le.Uint64(page[offArchMagic:])
	if i.ArchMagic == x86RestoreV2 || i.ArchMagic == x86RestoreV1 {
		// arch_hibernation_header_save wrote struct restore_data_record over
		// the uts and version_code (init_header_complete).
		i.ArchHeader = true
		i.JumpAddress = le.Uint64(page[offArchJump:])
		i.JumpAddressPhys = le.Uint64(page[offArchJumpPhys:])
		i.CR3 = le.Uint64(page[offArchCR3:])
		i.E820Checksum = le.Uint64(page[offArchE820:])
	} else {
		i.UTS = cstring(page[utsReleaseOffset : utsReleaseOffset+utsFieldLen])
		i.UTSVersion = cstring(page[utsVersionOffset : utsVersionOffset+utsFieldLen])
		i.UTSMachine = cstring(page[utsMachineOffset : utsMachineOffset+utsFieldLen])
		i.UTSNodename = cstring(page[utsNodenameOffset : utsNodenameOffset+utsFieldLen])
	}
	var errs []error
	if i.Pages == 0 {
		errs = append(errs, errors.New("info page: pages is 0"))
	}
	if i.Pages > 1<<40 || i.Size != i.Pages*PageSize {
		errs = append(errs, fmt.Errorf("info page: size %d is not pages %d × %d", i.Size, i.Pages, PageSize))
	}
	if i.ImagePages >= i.Pages && i.Pages != 0 {
		errs = append(errs, fmt.Errorf("info page: image_pages %d not below pages %d", i.ImagePages, i.Pages))
	}
	if i.NumPhysPages == 0 {
		errs = append(errs, errors.New("info page: num_physpages is 0"))
	}
	// cpus is not checked: the kernel's init_header zeroes the page and no longer sets it
	// (seen here: 0 in a 6.1 image made in QEMU); it was dropped from the restore checks long ago.
	if i.CPUs < 0 {
		errs = append(errs, fmt.Errorf("info page: cpus is %d", i.CPUs))
	}
	return i, errors.Join(errs...)
}
