// Package modalias compares devices' modaliases with modules' alias patterns, as kmod does.
// It has no dependencies: /init uses it at every boot.
package modalias

// Normalize normalises an alias or a device's modalias as kmod's alias_normalize does before
// comparing them: '-' becomes '_' except inside a [...] character class.
func Normalize(a string) string {
	if !containsDash(a) {
		return a
	}
	b := []byte(a)
	inClass := false
	for i, c := range b {
		switch {
		case c == '[':
			inClass = true
		case c == ']':
			inClass = false
		case c == '-' && !inClass:
			b[i] = '_'
		}
	}
	return string(b)
}

func containsDash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			return true
		}
	}
	return false
}

// Match reports whether a device's modalias matches a module's alias pattern, as kmod
// compares them: fnmatch(3) with no flags, where '*' and '?' match '/' too, '[...]' takes
// '!' or '^' for negation and ranges, and '\' quotes the next character. path.Match was
// passed over: '/' is special to it, it knows no '[!...]', and it fails a malformed pattern
// where fnmatch takes a lone '[' literally.
func Match(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0 // after the last '*': where the pattern resumes, and the text it was tried at
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starI = p+1, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, next, valid := matchClass(pattern, p, s[i]); valid {
					if ok {
						p, i = next, i+1
						continue
					}
				} else if s[i] == '[' { // a '[' that opens no class is itself
					p, i = p+1, i+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == s[i] {
					p, i = p+2, i+1
					continue
				}
				if p+1 == len(pattern) && s[i] == '\\' {
					p, i = p+1, i+1
					continue
				}
			default:
				if c == s[i] {
					p, i = p+1, i+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' take one more character and try again from there.
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the class that opens at pattern[p] ('['). It returns whether c
// is in it, the index after the class, and whether there is a class there at all (a '['
// without its ']' is none).
func matchClass(pattern string, p int, c byte) (in bool, next int, valid bool) {
	j := p + 1
	negate := false
	if j < len(pattern) && (pattern[j] == '!' || pattern[j] == '^') {
		negate = true
		j++
	}
	first := true
	for j < len(pattern) {
		lo := pattern[j]
		if lo == ']' && !first {
			return in != negate, j + 1, true
		}
		first = false
		if lo == '\\' && j+1 < len(pattern) {
			j++
			lo = pattern[j]
		}
		hi := lo
		if j+2 < len(pattern) && pattern[j+1] == '-' && pattern[j+2] != ']' {
			hi = pattern[j+2]
			if hi == '\\' && j+3 < len(pattern) {
				j++
				hi = pattern[j+2]
			}
			j += 2
		}
		if lo <= c && c <= hi {
			in = true
		}
		j++
	}
	return false, 0, false
}
