// A stdlib-only Go plugin for the marketplace tests: registers a visitor panel, renders, obeys shutdown.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
)

type msg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
}

func send(c net.Conn, v any) {
	data, _ := json.Marshal(v)
	head := make([]byte, 4)
	binary.BigEndian.PutUint32(head, uint32(len(data)))
	c.Write(append(head, data...))
}

func recv(c net.Conn) (*msg, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(head))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	var m msg
	err := json.Unmarshal(body, &m)
	return &m, err
}

func main() {
	c, err := net.Dial("unix", os.Getenv("TGO_SOCKET_PATH"))
	if err != nil {
		fmt.Println("cannot connect:", err)
		os.Exit(1)
	}
	fmt.Println("go plugin up")
	send(c, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "register", "params": map[string]any{
		"id": "test.market-go", "name": "market-go", "version": "1.0.0",
		"capabilities": []any{map[string]any{"type": "visitor_panel", "title": "Go", "icon": "box"}}}})
	recv(c)
	for {
		m, err := recv(c)
		if err != nil {
			return
		}
		switch {
		case m.Method == "shutdown":
			send(c, map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{"success": true}})
			return
		case m.Method == "ping":
			send(c, map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{"pong": true}})
		case len(m.Method) > 7 && m.Method[len(m.Method)-7:] == "/render":
			send(c, map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{"template": "text", "data": map[string]any{"text": "hello from go"}}})
		case m.Method != "":
			send(c, map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "Method not found"}})
		}
	}
}
