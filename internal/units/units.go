// Package units reads the sizes people type: a whole number of bytes with an optional K, M, G or
// T suffix (powers of 1024, as KiB, MiB, GiB, TiB; "KiB" and "K" alike), in any case. Anything
// else is an error (the caller names the flag and the text): "1e9", "12abc", "iB", "-5" and numbers past 2^62 are
// refused, never read as part of what they say.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBytes reads s as a size in bytes. Zero is allowed; the caller says whether it means
// anything.
func ParseBytes(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	num := strings.TrimSuffix(strings.TrimSuffix(u, "IB"), "B")
	mult := int64(1)
	if num != "" {
		if i := strings.IndexByte("KMGT", num[len(num)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			num = num[:len(num)-1]
		} else if num != strings.TrimSuffix(u, "B") {
			num = "" // "5iB": a binary suffix without its letter
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if num == "" || err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size: want a whole number of bytes, optionally with K, M, G or T (powers of 1024)")
	}
	return n * mult, nil
}
