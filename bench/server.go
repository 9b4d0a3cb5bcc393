package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Bounds on a server's life cycle. They are generous: the machine may be
// small and busy.
const (
	listenTimeout = 60 * time.Second
	readyTimeout  = 30 * time.Second
	stopTimeout   = 20 * time.Second
)

// listeningRe finds the address in the start-up log line of Switchboard
// (`msg="switchboard listening" addr=127.0.0.1:1234 …`) and of the
// baselines, which log the same way.
var listeningRe = regexp.MustCompile(`listening"? .*\baddr=([0-9.:\[\]a-f]+)`)

// server is one target running as a child process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	started time.Time
	// Startup is the time from starting the process to its first 200 on
	// /readyz.
	Startup time.Duration
	logPath string
	exited  chan struct{}
	waitErr error
}

// startServer starts a server process whose stderr goes to logPath, waits
// for it to log the address it listens on and then for /readyz to answer
// 200. On error the process is stopped.
func startServer(ctx context.Context, name string, args, env []string, logPath string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.SysProcAttr = childAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	addrCh := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		// Copy the log to its file, reporting the listening address on
		// the way.
		defer close(copied)
		br := bufio.NewReader(stderr)
		for {
			line, err := br.ReadString('\n')
			_, _ = io.WriteString(logFile, line)
			if m := listeningRe.FindStringSubmatch(line); m != nil {
				addrCh <- m[1]
				break
			}
			if err != nil {
				return
			}
		}
		_, _ = io.Copy(logFile, br)
	}()
	go func() {
		<-copied
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()

	timer := time.NewTimer(listenTimeout)
	defer timer.Stop()
	select {
	case s.addr = <-addrCh:
	case <-s.exited:
		return nil, fmt.Errorf("%s exited before listening (%v); log:\n%s", name, s.waitErr, tail(logPath, 15))
	case <-timer.C:
		s.stop()
		return nil, fmt.Errorf("%s did not listen within %s; log:\n%s", name, listenTimeout, tail(logPath, 15))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w; log:\n%s", name, err, tail(logPath, 15))
	}
	s.Startup = time.Since(s.started)
	return s, nil
}

// waitReady polls /readyz until it answers 200.
func (s *server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s", readyTimeout)
		case <-s.exited:
			return fmt.Errorf("exited before ready (%v)", s.waitErr)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Pid is the server's process ID.
func (s *server) Pid() int { return s.cmd.Process.Pid }

// stop asks the server to shut down (SIGTERM) and kills it if it has not
// exited within stopTimeout. It is safe to call more than once.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
