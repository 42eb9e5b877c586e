package harness

// A small QMP client of our own rather than a library (digitalocean/go-qemu, or vmtest, which has
// none): we need only the greeting, qmp_capabilities, commands matched by id, and every
// asynchronous event kept with its QEMU timestamp, including the SHUTDOWN that arrives just
// before the socket closes. That is three JSON shapes on one socket; a library would add a
// dependency tree and hide the raw events the hibernation tests assert on.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Event is one asynchronous QMP event.
type Event struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data,omitempty"`
	Time time.Time       `json:"time"` // QEMU's timestamp
}

// qmpMessage is any message QEMU sends.
type qmpMessage struct {
	QMP       json.RawMessage `json:"QMP"`
	Return    json.RawMessage `json:"return"`
	Error     *QMPError       `json:"error"`
	ID        *int64          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

// QMPError is an error QEMU returned for a command.
type QMPError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *QMPError) Error() string { return e.Class + ": " + e.Desc }

type qmpReply struct {
	ret json.RawMessage
	err error
}

// qmpClient is one QMP connection.
type qmpClient struct {
	conn    net.Conn
	onEvent func(Event)

	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan qmpReply
	done    chan struct{} // closed when the connection has ended
	err     error         // why it ended
}

// dialQMP reads the greeting on conn and enters command mode. onEvent is called, in
// order, from the reading goroutine.
func dialQMP(ctx context.Context, conn net.Conn, onEvent func(Event)) (*qmpClient, error) {
	c := &qmpClient{conn: conn, onEvent: onEvent, pending: map[int64]chan qmpReply{}, done: make(chan struct{})}
	r := bufio.NewReader(conn)
	// the greeting comes first, before anything we send is answered
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("QMP greeting: %w", err)
	}
	var greet qmpMessage
	if err := json.Unmarshal(line, &greet); err != nil || greet.QMP == nil {
		return nil, fmt.Errorf("QMP greeting %.200q: not a greeting (%v)", line, err)
	}
	conn.SetReadDeadline(time.Time{})
	go c.read(r)
	if _, err := c.execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *qmpClient) read(r *bufio.Reader) {
	var err error
	for {
		var line []byte
		line, err = r.ReadBytes('\n')
		if len(line) > 0 {
			var m qmpMessage
			if jerr := json.Unmarshal(line, &m); jerr == nil {
				c.dispatch(m)
			}
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("QMP connection closed (QEMU exited)")
	}
	c.mu.Lock()
	c.err = err
	for id, ch := range c.pending {
		ch <- qmpReply{err: err}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *qmpClient) dispatch(m qmpMessage) {
	if m.Event != "" {
		ev := Event{Name: m.Event, Data: m.Data, Time: time.Now()}
		if m.Timestamp != nil {
			ev.Time = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
		}
		if c.onEvent != nil {
			c.onEvent(ev)
		}
		return
	}
	if m.ID == nil {
		return
	}
	c.mu.Lock()
	ch, ok := c.pending[*m.ID]
	delete(c.pending, *m.ID)
	c.mu.Unlock()
	if !ok {
		return
	}
	if m.Error != nil {
		ch <- qmpReply{err: m.Error}
		return
	}
	ch <- qmpReply{ret: m.Return}
}

// execute runs one command and returns its "return" value.
func (c *qmpClient) execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("QMP %s: %w", cmd, c.err)
	}
	c.nextID++
	id := c.nextID
	ch := make(chan qmpReply, 1)
	c.pending[id] = ch
	c.mu.Unlock()

	msg := map[string]any{"execute": cmd, "id": id}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("QMP %s: %w", cmd, err)
	}
	c.wmu.Lock()
	_, err = c.conn.Write(append(b, '\n'))
	c.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("QMP %s: %w", cmd, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("QMP %s: %w", cmd, r.err)
		}
		return r.ret, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("QMP %s: %w", cmd, ctx.Err())
	}
}

func (c *qmpClient) close() { c.conn.Close() }
