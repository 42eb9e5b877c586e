package scenario

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The kernel's lines of a guest's console, as the benchmarks and the tests read them.

// ConsoleStamp is the kernel's timestamp of the first console line that holds what, with the
// line: "[    8.471079] hibernate: writing disk ..." is 8.471079 s since boot. ok is false where
// no line holds what, or the line has no timestamp.
func ConsoleStamp(lines []string, what string) (time.Duration, string, bool) {
	for _, l := range lines {
		if !strings.Contains(l, what) {
			continue
		}
		i := strings.IndexByte(l, '[')
		var secs float64
		if i < 0 {
			return 0, l, false
		}
		if _, err := fmt.Sscanf(strings.ReplaceAll(l[i+1:], " ", ""), "%f]", &secs); err != nil {
			return 0, l, false
		}
		return time.Duration(secs*1e6) * time.Microsecond, l, true
	}
	return 0, "", false
}

// KernelSpeed reads the first of the kernel's "PM: hibernation: VERB N kbytes in S seconds"
// lines (swsusp_show_speed's: Wrote, Read, Allocated) of a console: N and S, and the line.
func KernelSpeed(lines []string, verb string) (kb int64, d time.Duration, line string, err error) {
	for _, l := range lines {
		i := strings.Index(l, "PM: hibernation: "+verb+" ")
		if i < 0 {
			continue
		}
		var secs float64
		if _, err := fmt.Sscanf(l[i+len("PM: hibernation: "):], verb+" %d kbytes in %g seconds", &kb, &secs); err == nil {
			return kb, time.Duration(secs * float64(time.Second)), l, nil
		}
	}
	return 0, 0, "", errors.New("the console has no kernel line " + verb + " N kbytes in S seconds")
}

// CompressedKiB is the kernel's "Image size after compression: N kbytes" (6.9 and later) of a
// console, 0 where it has none.
func CompressedKiB(lines []string) int64 {
	var kb int64
	for _, l := range lines {
		if i := strings.Index(l, "Image size after compression: "); i >= 0 {
			fmt.Sscanf(l[i:], "Image size after compression: %d kbytes", &kb)
		}
	}
	return kb
}
