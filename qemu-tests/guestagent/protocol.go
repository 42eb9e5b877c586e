// Package guestagent is the agent that runs inside a QEMU test guest and lets the host harness
// run commands and move files over a serial line (the guest's /dev/ttyS1).
//
// The protocol is newline-delimited JSON, one Request per line from the host, one Response per
// line back, matched by ID. It is built for a line that can lose bytes: the guest may be frozen by
// hibernation and thawed inside a new QEMU process, and bytes sent before the guest opened its tty
// are dropped. So both sides skip anything before the first '{' of a line and ignore lines that do
// not decode, and the host ignores replies whose ID it is not waiting for.
package guestagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Operations a Request can ask for.
const (
	OpPing     = "ping"     // answer with boot_id, uptime and pid
	OpExec     = "exec"     // run argv, wait, return exit code and output
	OpSpawn    = "spawn"    // start argv detached (own session), output appended to Out
	OpRead     = "read"     // return the contents of Path
	OpWrite    = "write"    // write Data to Path with Mode
	OpPowerOff = "poweroff" // answer, sync, then power the machine off
	OpReboot   = "reboot"   // answer, sync, then reboot the machine
)

// Request is one line from the host.
type Request struct {
	ID        int64    `json:"id"`
	Op        string   `json:"op"`
	Argv      []string `json:"argv,omitempty"`
	Env       []string `json:"env,omitempty"` // KEY=VALUE, added to (and overriding) the agent's environment
	Dir       string   `json:"dir,omitempty"` // working directory for exec and spawn
	Path      string   `json:"path,omitempty"`
	Data      []byte   `json:"data,omitempty"` // base64 in JSON
	Mode      uint32   `json:"mode,omitempty"` // permission bits for write; 0 means 0644
	Out       string   `json:"out,omitempty"`  // spawn: file that stdout and stderr are appended to
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
}

// Response is one line from the guest. Stdout and Stderr are JSON strings, so output that is not
// UTF-8 comes back with U+FFFD in place of the bad bytes; use OpRead for binary data.
type Response struct {
	ID     int64   `json:"id"`
	Exit   int     `json:"exit"`
	Stdout string  `json:"stdout,omitempty"`
	Stderr string  `json:"stderr,omitempty"`
	PID    int     `json:"pid,omitempty"`
	Data   []byte  `json:"data,omitempty"`
	Error  string  `json:"error,omitempty"`
	BootID string  `json:"boot_id,omitempty"`
	Uptime float64 `json:"uptime,omitempty"`
}

// errNoJSON is returned for a line that holds no '{' at all (noise, echo, a lost fragment).
var errNoJSON = errors.New("no JSON object in line")

// jsonPart returns the line from its first '{' on, without the line end.
func jsonPart(line []byte) ([]byte, error) {
	i := bytes.IndexByte(line, '{')
	if i < 0 {
		return nil, errNoJSON
	}
	return bytes.TrimRight(line[i:], "\r\n \t"), nil
}

// DecodeRequest parses one request line. Bytes before the first '{' are skipped (a fragment of
// a request lost before the tty was opened, or the echo of one).
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	js, err := jsonPart(line)
	if err != nil {
		return req, err
	}
	if err := json.Unmarshal(js, &req); err != nil {
		return req, fmt.Errorf("decode request %.80q: %w", js, err)
	}
	if req.ID == 0 || req.Op == "" {
		return req, fmt.Errorf("decode request %.80q: id and op are required", js)
	}
	return req, nil
}

// DecodeResponse parses one response line, skipping bytes before the first '{'.
func DecodeResponse(line []byte) (Response, error) {
	var resp Response
	js, err := jsonPart(line)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(js, &resp); err != nil {
		return resp, fmt.Errorf("decode response %.80q: %w", js, err)
	}
	if resp.ID == 0 {
		return resp, fmt.Errorf("decode response %.80q: no id", js)
	}
	// Until the agent has put its tty in raw mode, the guest's line discipline echoes what the
	// host sent: a request read back must not pass for the answer to itself (seen here: an
	// echoed ping taken for the reply, with no boot_id).
	var echo struct {
		Op *string `json:"op"`
	}
	if json.Unmarshal(js, &echo) == nil && echo.Op != nil {
		return resp, fmt.Errorf("decode response %.80q: an echoed request, not a response", js)
	}
	return resp, nil
}

// EncodeLine marshals v as one line ending in '\n'. A leading '\n' is added too, so a fragment
// left on the line by an earlier, interrupted write ends before this message starts.
func EncodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+2)
	out = append(out, '\n')
	out = append(out, b...)
	return append(out, '\n'), nil
}
