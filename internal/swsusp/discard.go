package swsusp

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNoImage is returned (wrapped) by Discard when the area holds no
// S1SUSPEND image.
var ErrNoImage = errors.New("no hibernation image (S1SUSPEND) there")

// Plan says what Discard writes, or would write on a dry run.
type Plan struct {
	Offset int64  // byte offset of the write on the device
	Old    []byte // the bytes there now (the signature)
	New    []byte // the bytes written
	DryRun bool
	Done   bool // the write was made and read back
}

// String describes the plan in one line.
func (p Plan) String() string {
	verb := "wrote"
	if !p.Done {
		verb = "would write"
	}
	return fmt.Sprintf("%s %q over %q at byte %d (%d bytes)", verb, bytes.TrimRight(p.New, "\x00"), bytes.TrimRight(p.Old, "\x00"), p.Offset, len(p.New))
}

// Discard invalidates the hibernation image in the area at page offsetPages
// of rw the way the kernel does (swsusp_check, swsusp_unmark): it copies
// orig_sig back over sig, and changes no other byte. The area becomes the
// swap area it was, with its UUID and label; the image pages stay but are
// no longer reachable. It refuses when the area holds no S1SUSPEND image or
// when orig_sig is not a swap signature. With dryRun it only reads.
func Discard(rw ReadWriterAt, offsetPages uint64, dryRun bool) (Plan, error) {
	page := make([]byte, PageSize)
	if err := readPage(rw, offsetPages, page); err != nil {
		return Plan{}, fmt.Errorf("discard image: %w", err)
	}
	base := int64(offsetPages * PageSize)
	p := Plan{
		Offset: base + offSig,
		Old:    bytes.Clone(page[offSig : offSig+sigLen]),
		New:    bytes.Clone(page[offOrigSig : offOrigSig+sigLen]),
		DryRun: dryRun,
	}
	if sig := DetectSignature(page); sig != SigSwsusp {
		return p, fmt.Errorf("discard image at page %d: signature is %q: %w", offsetPages, p.Old, ErrNoImage)
	}
	if o := sigAt(p.New); o != SigSwap && o != SigSwapV0 {
		return p, fmt.Errorf("discard image at page %d: orig_sig %q is not a swap signature; run mkswap instead", offsetPages, p.New)
	}
	if dryRun {
		return p, nil
	}
	if _, err := rw.WriteAt(p.New, p.Offset); err != nil {
		return p, fmt.Errorf("discard image: write %d bytes at byte %d: %w", len(p.New), p.Offset, err)
	}
	if err := readPage(rw, offsetPages, page); err != nil {
		return p, fmt.Errorf("discard image: read back: %w", err)
	}
	if !bytes.Equal(page[offSig:offSig+sigLen], p.New) {
		return p, fmt.Errorf("discard image: read back at byte %d gives %q, not %q", p.Offset, page[offSig:offSig+sigLen], p.New)
	}
	p.Done = true
	return p, nil
}
