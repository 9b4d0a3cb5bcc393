package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// binary is the switchboard binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "switchboard")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	// The servers are processes; what the tests run in process (HTTP
	// clients, peers, readers of their output) must not outlive them.
	testkit.MainThen(m, nil, func() { os.RemoveAll(dir) })
}

// server is a running switchboard binary.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	dir    string
	logs   *testkit.LogBuffer
	exited chan error
}

// config is what a test server runs with.
type config struct {
	rules     string
	templates map[string]string
	env       []string
	args      []string
	dir       string // reuse a data/rules directory (restarts)
	listen    string // listen on this address instead of a free port (restarts on the same port)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServer writes the rules and templates into a directory and runs
// `switchboard serve` on a free port, waiting until it answers /healthz.
func startServer(t *testing.T, c config) *server {
	t.Helper()
	dir := c.dir
	if dir == "" {
		dir = t.TempDir()
	}
	if c.rules != "" {
		writeFile(t, filepath.Join(dir, "rules.yaml"), c.rules)
	}
	for name, src := range c.templates {
		writeFile(t, filepath.Join(dir, "templates", name), src)
	}
	addr := c.listen
	if addr == "" {
		addr = freePort(t)
	}
	args := append([]string{"serve", "--rules", filepath.Join(dir, "rules.yaml"), "--templates", filepath.Join(dir, "templates"),
		"--listen", addr, "--data", filepath.Join(dir, "data")}, c.args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), c.env...)
	logs := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, url: "http://" + addr, dir: dir, logs: logs, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.exited:
			s.exited <- err // the cleanup waits for it too
			t.Fatalf("switchboard exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchboard did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(sig syscall.Signal) error {
	_ = s.cmd.Process.Signal(sig)
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatalf("switchboard did not exit after %v", sig)
		return nil
	}
}

type response struct {
	code   int
	body   string
	header http.Header
}

func (s *server) do(method, path string, body []byte, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

// lagoPost posts body to /webhooks/<source> signed the way Lago signs
// with an HMAC secret.
func (s *server) lagoPost(source, secret, uniqueKey string, body []byte) response {
	s.t.Helper()
	return s.do("POST", "/webhooks/"+source, body,
		"X-Lago-Signature", lagoSign(secret, body), "X-Lago-Signature-Algorithm", "hmac", "X-Lago-Unique-Key", uniqueKey)
}

func lagoSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// fixture reads one of the project's Lago fixtures.
func fixture(t *testing.T, webhookType string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "lago", "testdata", webhookType+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}
