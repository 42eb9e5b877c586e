package modules

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// moduleSuffixes are the file names Scan takes for modules, as kmod does.
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// isModuleFile reports whether name is a kernel module file name.
func isModuleFile(name string) bool {
	for _, s := range moduleSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// compression returns "", "xz", "zst" or "gz" for a module file name.
func compression(name string) string {
	switch {
	case strings.HasSuffix(name, ".ko.xz"):
		return "xz"
	case strings.HasSuffix(name, ".ko.zst"):
		return "zst"
	case strings.HasSuffix(name, ".ko.gz"):
		return "gz"
	}
	return ""
}

// moduleBaseName is the file name without directory and module suffix,
// normalised: "kernel/crypto/crc32c-intel.ko.xz" -> "crc32c_intel".
func moduleBaseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.Index(p, ".ko"); i >= 0 {
		p = p[:i]
	}
	return Normalize(p)
}

// Decompress returns the raw ELF bytes of the module at path (for
// init_module), decompressing .ko.xz, .ko.zst and .ko.gz files.
func Decompress(path string) ([]byte, error) {
	var d decoder
	defer d.close()
	return d.decompress(path)
}

// decoder holds a zstd decoder for reuse by one goroutine.
type decoder struct {
	zstd *zstd.Decoder
}

func (d *decoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

func (d *decoder) decompress(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kind := compression(path)
	if kind == "" {
		return data, nil
	}
	if kind == "zst" {
		// Whole-buffer zstd decoding is the fast path of klauspost's decoder.
		if err := d.initZstd(); err != nil {
			return nil, err
		}
		out, err := d.zstd.DecodeAll(data, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd-decompressing %s: %w", path, err)
		}
		return out, nil
	}
	r, err := d.reader(path, data)
	if err != nil {
		return nil, err
	}
	out, err := readAllSized(r, 4*len(data))
	if err != nil {
		return nil, fmt.Errorf("%s-decompressing %s: %w", kind, path, err)
	}
	return out, nil
}

func (d *decoder) initZstd() error {
	if d.zstd != nil {
		return nil
	}
	var err error
	d.zstd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	return nil
}

// reader returns a decompressing reader over data, the bytes of the .ko.xz
// or .ko.gz file path.
func (d *decoder) reader(path string, data []byte) (io.Reader, error) {
	var (
		r   io.Reader
		err error
	)
	switch kind := compression(path); kind {
	case "xz":
		r, err = xz.NewReader(bytes.NewReader(data))
	case "gz":
		r, err = gzip.NewReader(bytes.NewReader(data))
	default:
		err = fmt.Errorf("no stream reader for %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", path, err)
	}
	return r, nil
}

func readAllSized(r io.Reader, hint int) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(hint)
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
