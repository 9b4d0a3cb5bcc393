package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv, when set, makes TestAcknowledgedMessagesSurviveKill the
// child process: it enqueues into the SQLite store in that directory until
// it is killed, printing the ID of every message Enqueue acknowledged.
const crashDirEnv = "SWITCHBOARD_STORE_CRASH_DIR"

// TestAcknowledgedMessagesSurviveKill kills a process that is enqueueing
// with SIGKILL and checks that every message it had acknowledged (the
// moment ingest answers 2xx) is in the database after recovery.
func TestAcknowledgedMessagesSurviveKill(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedMessagesSurviveKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	for len(acked) < 300 && sc.Scan() {
		if line := sc.Text(); len(line) > 4 && line[:4] == "ack " {
			acked = append(acked, line[4:])
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d messages", len(acked))
	}

	s := openT(t, Options{DataDir: dir})
	for _, id := range acked {
		var n int
		if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM deliveries WHERE message_id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("acknowledged message %s has %d deliveries after the crash, want 2", id, n)
		}
	}
	t.Logf("all %d acknowledged messages survived SIGKILL (%d stored)", len(acked), countMessages(t, s))
}

func crashChild(dir string) {
	s, err := Open(context.Background(), Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m := message("lago", id("key"))
				d1, d2 := newDelivery("r", "a"), newDelivery("r", "b")
				d1.LeaseUntil = time.Now().Add(time.Minute)
				if _, err := s.Enqueue(context.Background(), m, "child", []RoutedDelivery{d1, d2}); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %s\n", m.ID)
				_ = w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
