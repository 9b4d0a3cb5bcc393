// Package browser starts headless Chromium for the project's browser tests
// and writes their screenshots. It is imported by tests only, and is apart
// from testkit so that packages without browser tests do not build
// chromedp.
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// Chromium is where the tests expect the browser.
const Chromium = "/usr/bin/chromium"

// Start starts headless Chromium with a 1280×800 window and returns its
// context, which the test's cleanup cancels (closing the browser). Without
// Chromium the test is skipped, or fails under CI=true.
func Start(t testing.TB) context.Context {
	t.Helper()
	if _, err := exec.LookPath(Chromium); err != nil {
		if testkit.CI() {
			t.Fatalf("chromium is not installed at %s", Chromium)
		}
		t.Skipf("chromium is not installed at %s", Chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Save writes png as name.png into $SWITCHBOARD_SCREENSHOTS, or into a
// directory under the system temp directory, and returns its path.
// Refresh the README's screenshots with
//
//	SWITCHBOARD_SCREENSHOTS=$PWD/docs/screenshots go test ./internal/...
//
// (a plain test run leaves the work tree untouched).
func Save(t testing.TB, name string, png []byte) string {
	t.Helper()
	if len(png) < 1000 {
		t.Fatalf("screenshot %s: %d bytes", name, len(png))
	}
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "switchboard-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
