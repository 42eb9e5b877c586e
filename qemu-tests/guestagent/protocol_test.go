package guestagent

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Request
		wantErr string
	}{
		{name: "ping", line: `{"id":7,"op":"ping"}` + "\n", want: Request{ID: 7, Op: "ping"}},
		{name: "crlf", line: `{"id":7,"op":"ping"}` + "\r\n", want: Request{ID: 7, Op: "ping"}},
		{name: "garbage before", line: `g":"x"}{"id":8,"op":"exec","argv":["true"],"timeout_ms":5}`,
			want: Request{ID: 8, Op: "exec", Argv: []string{"true"}, TimeoutMS: 5}},
		{name: "write base64", line: `{"id":9,"op":"write","path":"/tmp/x","data":"aGk=","mode":420}`,
			want: Request{ID: 9, Op: "write", Path: "/tmp/x", Data: []byte("hi"), Mode: 0o644}},
		{name: "noise", line: "login: \n", wantErr: "no JSON object"},
		{name: "truncated", line: `{"id":9,"op":"wr`, wantErr: "decode request"},
		{name: "no id", line: `{"op":"ping"}`, wantErr: "id and op are required"},
		{name: "no op", line: `{"id":3}`, wantErr: "id and op are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRequest([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeRequest(%q) error = %v, want it to contain %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRequest(%q): %v", tt.line, err)
			}
			if got.ID != tt.want.ID || got.Op != tt.want.Op || got.Path != tt.want.Path ||
				string(got.Data) != string(tt.want.Data) || got.Mode != tt.want.Mode ||
				got.TimeoutMS != tt.want.TimeoutMS || strings.Join(got.Argv, " ") != strings.Join(tt.want.Argv, " ") {
				t.Errorf("DecodeRequest(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestNoJSONIsDistinct(t *testing.T) {
	if _, err := DecodeRequest([]byte("\x00\x00 echo\n")); !errors.Is(err, errNoJSON) {
		t.Errorf("err = %v, want errNoJSON", err)
	}
}

func TestEncodeResponse(t *testing.T) {
	tests := []struct {
		resp Response
		want string
	}{
		{Response{ID: 1}, "\n" + `{"id":1,"exit":0}` + "\n"},
		{Response{ID: 2, Exit: 3, Stdout: "a\n", Stderr: "b"}, "\n" + `{"id":2,"exit":3,"stdout":"a\n","stderr":"b"}` + "\n"},
		{Response{ID: 3, Data: []byte("hi"), PID: 42}, "\n" + `{"id":3,"exit":0,"pid":42,"data":"aGk="}` + "\n"},
		{Response{ID: 4, Exit: -1, Error: "boom"}, "\n" + `{"id":4,"exit":-1,"error":"boom"}` + "\n"},
		{Response{ID: 5, BootID: "b-1", Uptime: 1.5}, "\n" + `{"id":5,"exit":0,"boot_id":"b-1","uptime":1.5}` + "\n"},
	}
	for _, tt := range tests {
		b, err := EncodeLine(tt.resp)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("EncodeLine(%+v) = %q, want %q", tt.resp, b, tt.want)
		}
		back, err := DecodeResponse(b)
		if err != nil || back.ID != tt.resp.ID || back.Stdout != tt.resp.Stdout || string(back.Data) != string(tt.resp.Data) {
			t.Errorf("DecodeResponse(%q) = %+v, %v", b, back, err)
		}
	}
}

// The guest's tty echoes requests back until the agent makes it raw: an echo is no response.
func TestDecodeResponseRejectsEcho(t *testing.T) {
	for _, line := range []string{`{"id":7,"op":"ping"}`, `junk{"id":8,"op":"exec","argv":["true"]}`} {
		if r, err := DecodeResponse([]byte(line)); err == nil {
			t.Errorf("DecodeResponse(%q) = %+v, want an error", line, r)
		}
	}
}
