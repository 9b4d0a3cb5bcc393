package testpg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The pgx driver connects to the server to wait for it and to create
	// databases.
	_ "github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"
)

// ErrNotInstalled is returned by NewServer when no PostgreSQL server
// binaries are found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (apt-get install postgresql)")

// debianBinGlob is where Debian's postgresql packages put the server
// binaries, one directory per major version.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 60 * time.Second

// Server is one running throwaway PostgreSQL cluster.
type Server struct {
	dir  string // temporary directory: data/, the socket, postgres.log
	port int
	proc *os.Process

	mu     sync.Mutex
	nextDB int
	closed bool
}

// Start starts a server for the calling test alone and returns the DSN of a
// fresh database on it. The server is stopped and its directory removed when
// the test ends. Without PostgreSQL the test is skipped (failed when the CI
// environment variable is "true").
func Start(t testing.TB) string {
	t.Helper()
	srv, err := NewServer()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return srv.Database(t)
}

// Shared lazily starts one server on first use and hands every caller a
// fresh database on it. Its zero value is ready to use; call Close from
// TestMain once the tests have run.
type Shared struct {
	mu      sync.Mutex
	started bool
	srv     *Server
	err     error
}

// DSN returns the DSN of a new, empty database on the shared server,
// starting the server on the first call. Without PostgreSQL the test is
// skipped (failed when the CI environment variable is "true").
func (s *Shared) DSN(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	if !s.started {
		s.started = true
		s.srv, s.err = NewServer()
	}
	srv, err := s.srv, s.err
	s.mu.Unlock()
	if err != nil {
		unavailable(t, err)
	}
	return srv.Database(t)
}

// Close stops the shared server, if one was started, and removes its files.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testpg: %v; CI=true, so this is a failure, not a skip", err)
		}
		t.Skipf("testpg: %v; skipping the PostgreSQL tests", err)
	}
	t.Fatalf("testpg: start PostgreSQL: %v", err)
}

// NewServer initialises a cluster in a temporary directory and starts a
// server on 127.0.0.1 with a free port, fsync on. It returns once the server
// accepts connections. The error wraps ErrNotInstalled when no binaries are
// found.
func NewServer() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testpg-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("chown temp dir: %w", err)
		}
	}
	s := &Server{dir: dir}
	if err := s.initdb(bin, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// A free port can be taken by someone else between probing and
	// binding: try a few.
	for try := 0; ; try++ {
		err = s.start(bin, cred)
		if err == nil {
			return s, nil
		}
		if try == 2 || !strings.Contains(err.Error(), "could not bind") {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

// findBin returns the bin directory of the highest installed version, or
// the directory of postgres on PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob(debianBinGlob)
	var found []string
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
		return found[len(found)-1], nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no %s/postgres and no postgres on PATH: %w", debianBinGlob, ErrNotInstalled)
}

// version reads the major version from /usr/lib/postgresql/<version>/bin.
func version(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// credential returns the postgres user's identity when running as root:
// initdb and postgres refuse to run as root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and cannot find the postgres user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(bin, name string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = procAttr(cred)
	return cmd
}

func (s *Server) initdb(bin string, cred *syscall.Credential) error {
	// --no-sync only skips initdb's own flush of the template files; the
	// server itself runs with fsync on.
	cmd := s.command(bin, "initdb", cred, "-D", filepath.Join(s.dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) start(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close()
	cmd := s.command(bin, "postgres", cred, "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=on",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
	)
	// An *os.File (not a pipe) keeps os/exec from starting copying
	// goroutines, so a test binary's leak check stays clean.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.port, s.proc = port, cmd.Process
	if err := s.waitReady(); err != nil {
		log, _ := os.ReadFile(logPath)
		_ = s.stop()
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *Server) waitReady() error {
	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		if exited(s.proc) {
			s.proc = nil
			return errors.New("postgres exited during start")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not accepting connections after %s: %w", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Database creates a new, empty database and returns its DSN.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		t.Fatal("testpg: Database called on a closed server")
	}
	s.nextDB++
	name := fmt.Sprintf("test_%d", s.nextDB)
	s.mu.Unlock()

	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database: %v", err)
	}
	return s.dsn(name)
}

// Close stops the server (fast shutdown: connections are closed) and
// removes its directory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stop()
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// stop sends SIGINT (PostgreSQL's fast shutdown) and waits for the process,
// killing it if it has not exited within 15 s.
func (s *Server) stop() error {
	if s.proc == nil {
		return nil
	}
	p := s.proc
	s.proc = nil
	if err := p.Signal(os.Interrupt); err != nil {
		if exited(p) {
			return nil
		}
		return fmt.Errorf("signal postgres: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !exited(p) {
		if time.Now().After(deadline) {
			_ = p.Kill()
			_, err := p.Wait()
			return fmt.Errorf("postgres did not stop within 15s; killed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// VerifyTestMain is a package's TestMain for tests that use s: it runs
// the tests, checks that none leaked a goroutine (goleak), stops the
// shared server and exits.
//
// Deprecated: use testkit.Main(m, &pg), the one TestMain of every
// package; this remains for tests written before it.
func (s *Shared) VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if err := s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
		}
		os.Exit(code)
	}))
}
