package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/qemu-tests/guestdisk"
)

// diskCache keeps the disks the tools guest lays out (the encrypted LVM disk, the md RAID1
// pair) across runs: $HIBERNATE_CACHE/<name>/KEY, each entry keyed by all it is made from
// (toolsDiskKey), holding its disk images and layout.json, what the build found (written last:
// an entry without it is made again). A tree holding this build's binaries is found again only
// for the same tree (a second make test of the same commit); keep bounds the folder.
type diskCache struct {
	name string // the folder under the cache: luksdisk, mddisk
	keep int    // how many entries of a kind it keeps (the most recently used)
	// kindOf says an entry's kind from its layout.json (nil: one kind), so that the kinds of
	// one folder (the encrypted LVM disks, the swap disks) are pruned apart.
	kindOf func(meta []byte) string
}

func (c diskCache) dir() string { return filepath.Join(testutil.CacheDir(), c.name) }

const diskCacheMeta = "layout.json"

// get copies the entry key's disks to where copies says (the file in the entry → its copy,
// sparse) and reads its layout.json into meta, which valid then checks; an entry missing or
// not valid is made again by build(entry), which writes the disks into entry and fills meta.
// It says whether the entry came from the cache. One lock for the whole cache, held to the end
// of the copy: a build holds up the others, and nothing is pruned under a reader.
func (c diskCache) get(ctx context.Context, key string, meta any, valid func() bool, build func(ctx context.Context, entry string) error,
	copies map[string]string, say func(string, ...any)) (cached bool, err error) {
	dir := c.dir()
	entry := filepath.Join(dir, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	unlock, err := testutil.LockCache(ctx, filepath.Join(dir, ".lock"), "this disk")
	if err != nil {
		return false, err
	}
	defer unlock()
	metaPath := filepath.Join(entry, diskCacheMeta)
	if b, err := os.ReadFile(metaPath); err == nil && json.Unmarshal(b, meta) == nil && valid() {
		now := time.Now()
		os.Chtimes(metaPath, now, now) // most recently used: kept by the pruning
		cached = true
	} else {
		if err := buildBounded(ctx, entry, build, say); err != nil {
			os.RemoveAll(entry)
			return false, err
		}
		b, err := json.MarshalIndent(meta, "", "  ")
		if err != nil {
			return false, err
		}
		if err := os.WriteFile(metaPath, b, 0o644); err != nil {
			return false, err
		}
		c.prune(key, c.kind(b))
	}
	for name, dst := range copies {
		if err := guestdisk.CopySparse(dst, filepath.Join(entry, name)); err != nil {
			return cached, err
		}
	}
	return cached, nil
}

func (c diskCache) kind(meta []byte) string {
	if c.kindOf == nil {
		return ""
	}
	return c.kindOf(meta)
}

// prune removes all but the keep most recently used entries of kind (keep is the one just
// made), under the cache's lock.
func (c diskCache) prune(keep, kind string) {
	dir := c.dir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		used time.Time
	}
	var all []entry
	for _, e := range ents {
		if !e.IsDir() || e.Name() == keep {
			continue
		}
		meta := filepath.Join(dir, e.Name(), diskCacheMeta)
		st, err := os.Stat(meta)
		if err != nil {
			continue // being made, or broken: its maker removes it
		}
		if c.kindOf != nil {
			b, _ := os.ReadFile(meta)
			if c.kindOf(b) != kind {
				continue
			}
		}
		all = append(all, entry{e.Name(), st.ModTime()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.After(all[j].used) })
	for i := c.keep - 1; i < len(all); i++ {
		os.RemoveAll(filepath.Join(dir, all[i].name))
	}
}

// toolsBuildLimit bounds one build of a cache entry in the tools guest: the slowest, the
// Debian encrypted disk, takes about a minute here (its e2image 48 s). A tools guest stalled
// once on 2026-12-04 (dm-crypt's write thread blocked for 1000 s, the guest idle, QEMU idle):
// the build held the cache's lock to its 20-minute end, and the other group's tests waiting
// for the lock failed. A build past the limit is killed and made once more.
var toolsBuildLimit = 5 * time.Minute // a var for the test of buildBounded

// buildBounded makes entry afresh with build, within toolsBuildLimit; once more when that
// attempt ran out of its time while ctx has time left.
func buildBounded(ctx context.Context, entry string, build func(ctx context.Context, entry string) error, say func(string, ...any)) error {
	for attempt := 1; ; attempt++ {
		if err := os.RemoveAll(entry); err != nil {
			return err
		}
		if err := os.MkdirAll(entry, 0o755); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, toolsBuildLimit)
		err := build(actx, entry)
		stalled := err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		if !stalled || attempt == 2 {
			return err
		}
		say("the build of %s took over %s (%v): killed, making it once more", filepath.Base(entry), toolsBuildLimit, err)
	}
}

// toolsDiskKey is the cache key of a disk made in the tools guest: how it is made (recipe), its
// parameters, the root tree copied into it (this build's binaries among them), the tools
// guest's tools (the host's tools with their libraries, the kernel's modules: ToolsHash, not
// this build's agent, which only runs what the host asks; a change of what the host asks bumps
// the recipe) and the kernel. tree is "" for a disk that holds none.
func toolsDiskKey(a Artifacts, recipe string, params any, tree string) (string, error) {
	ti, err := buildToolsInitramfs(a)
	if err != nil {
		return "", fmt.Errorf("the tools guest's initramfs: %w", err)
	}
	th := ""
	if tree != "" {
		if th, err = treeHash(tree); err != nil {
			return "", err
		}
	}
	toolsHash := ti.ToolsHash
	p, err := json.Marshal(params)
	if err != nil {
		return "", err
	}
	return hashStrings(recipe, string(p), th, toolsHash, a.Kernel.Release, a.Kernel.Version)[:16], nil
}
