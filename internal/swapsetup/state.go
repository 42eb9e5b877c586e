package swapsetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// StateName is where setup records what it added, for --undo (below the root).
const StateName = "var/lib/hibernate/setup.json"

// State is what setup added to the machine. A second setup of the same swap keeps the first
// one's record (what it made, what was there before) and adds to it.
type State struct {
	Format     int        `json:"format"`
	File       string     `json:"file,omitempty"`   // the swap file, as on the machine
	Device     string     `json:"device,omitempty"` // the swap partition (or the file's file system device)
	DevT       string     `json:"devt"`
	SwapUUID   string     `json:"swap_uuid"`
	MadeFile   bool       `json:"made_file,omitempty"`   // setup created File
	MadeArea   bool       `json:"made_area,omitempty"`   // setup ran mkswap on Device
	OldPage0   []byte     `json:"old_page0,omitempty"`   // Device's first page before mkswap
	Activated  bool       `json:"activated,omitempty"`   // setup ran swapon
	FstabLine  string     `json:"fstab_line,omitempty"`  // the line setup added to /etc/fstab
	PrevResume string     `json:"prev_resume,omitempty"` // /sys/power/resume and resume_offset before setup
	PrevOffset string     `json:"prev_offset,omitempty"`
	Runtime    bool       `json:"runtime,omitempty"` // setup wrote /sys/power/resume
	Boot       []BootEdit `json:"boot,omitempty"`
	// NewPartition: the disk and the partition number setup made there
	Disk      string `json:"disk,omitempty"`
	Partition int    `json:"partition,omitempty"`
	// HibernateOnly: File is a hibernation file, never daily swap (setup --hibernate-only);
	// hibernate now activates it for the image and deactivates it after.
	HibernateOnly bool `json:"hibernate_only,omitempty"`
}

func (s *State) target() string {
	if s.File != "" {
		return s.File
	}
	if s.Disk != "" && s.Device == "" {
		return s.Disk
	}
	return s.Device
}

// LoadState reads the record of an earlier setup; nil when there is none.
func LoadState(fs sysfs.FS) (*State, error) {
	b, err := readState(fs)
	if b == nil || err != nil {
		return nil, err
	}
	return parseState(fs, b)
}

// readState is the record's bytes; nil when there is none.
func readState(fs sysfs.FS) ([]byte, error) {
	b, err := fs.ReadFile(StateName)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fs.Path(StateName), err)
	}
	return b, nil
}

func parseState(fs sysfs.FS, b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", fs.Path(StateName), err)
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("%s: format %d, this hibernate reads format 1", fs.Path(StateName), s.Format)
	}
	return &s, nil
}

func saveState(fs sysfs.FS, s *State) error {
	s.Format = 1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return WriteConfig(fs, StateName, string(b)+"\n")
}

// HibernationFile is the hibernation file an earlier `setup --hibernate-only` made or kept below
// fs, "" when setup recorded none (or a swap for daily use).
func HibernationFile(fs sysfs.FS) (string, error) {
	b, err := readState(fs)
	// Only a setup --hibernate-only writes the key (omitempty): without it there is no
	// hibernation file, and the record, with the 4 KiB page it keeps for --undo, is not
	// parsed. hibernate now's swap check asks this first thing, and that parse was most of it.
	if b == nil || err != nil || !bytes.Contains(b, []byte(`"hibernate_only"`)) {
		return "", err
	}
	st, err := parseState(fs, b)
	if err != nil || !st.HibernateOnly {
		return "", err
	}
	return st.File, nil
}

// changed says whether a run of setup changed anything on the machine.
func (s *State) changed() bool {
	return s.MadeFile || s.MadeArea || s.Disk != "" || s.Activated || s.Runtime || s.FstabLine != "" || len(s.Boot) > 0
}

// mergeState keeps what the first setup made and what was there before it.
func mergeState(old, neu *State) *State {
	m := *old
	m.MadeFile = old.MadeFile || neu.MadeFile
	if !old.MadeArea && neu.MadeArea {
		m.MadeArea, m.OldPage0 = true, neu.OldPage0
	}
	m.Activated = old.Activated || neu.Activated
	m.Runtime = old.Runtime || neu.Runtime
	m.HibernateOnly = neu.HibernateOnly // the last setup says what the file is for
	if neu.SwapUUID != "" {
		m.SwapUUID = neu.SwapUUID
	}
	if neu.DevT != "" {
		m.DevT = neu.DevT
	}
	if m.FstabLine == "" {
		m.FstabLine = neu.FstabLine
	}
	for _, e := range neu.Boot {
		found := false
		for i := range m.Boot {
			if m.Boot[i].File == e.File {
				// the first run's Prev is what the machine had; this run's Set is what is there now
				m.Boot[i].Set = e.Set
				found = true
			}
		}
		if !found {
			m.Boot = append(m.Boot, e)
		}
	}
	return &m
}
