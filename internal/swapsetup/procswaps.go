package swapsetup

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// ActiveSwap is one line of /proc/swaps.
type ActiveSwap struct {
	Filename string // path as the kernel prints it (spaces as \040)
	Type     string // "partition" or "file"
	Size     int64  // bytes
	Used     int64  // bytes
	Priority int
}

// Free is the swap area's unused bytes.
func (s ActiveSwap) Free() int64 { return s.Size - s.Used }

// IsZram says whether the area is a compressed RAM disk, which can never hold a hibernation image.
func (s ActiveSwap) IsZram() bool { return strings.HasPrefix(s.Filename, "/dev/zram") }

// ReadProcSwaps lists the active swap areas.
func ReadProcSwaps(fs sysfs.FS) ([]ActiveSwap, error) {
	b, err := fs.ReadFile("proc/swaps")
	if err != nil {
		return nil, fmt.Errorf("read active swap areas: %w", err)
	}
	return parseProcSwaps(b)
}

func parseProcSwaps(b []byte) ([]ActiveSwap, error) {
	var out []ActiveSwap
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			if strings.HasPrefix(sc.Text(), "Filename") {
				continue
			}
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		size, err1 := strconv.ParseInt(fields[2], 10, 64)
		used, err2 := strconv.ParseInt(fields[3], 10, 64)
		prio, err3 := strconv.Atoi(fields[4])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("/proc/swaps: bad line %q", sc.Text())
		}
		out = append(out, ActiveSwap{
			Filename: strings.ReplaceAll(fields[0], `\040`, " "),
			Type:     fields[1], Size: size << 10, Used: used << 10, Priority: prio,
		})
	}
	return out, sc.Err()
}
