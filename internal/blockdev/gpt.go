package blockdev

import (
	"fmt"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// gptPartGUIDs maps partition numbers of the disk at path to their unique GUIDs (PARTUUID).
func gptPartGUIDs(path string) (map[int]string, error) {
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer d.Close()
	t, err := d.GetPartitionTable()
	if err != nil {
		return nil, fmt.Errorf("read partition table of %s: %w", path, err)
	}
	g, ok := t.(*gpt.Table)
	if !ok {
		return nil, fmt.Errorf("%s: not a GPT disk", path)
	}
	out := map[int]string{}
	for i, p := range g.Partitions {
		if p == nil || p.GUID == "" || p.Start == 0 {
			continue
		}
		n := p.Index
		if n == 0 {
			n = i + 1
		}
		out[n] = strings.ToLower(p.GUID)
	}
	return out, nil
}
