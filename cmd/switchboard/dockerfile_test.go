package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dockerBuildCommand returns the `go build` command of the Dockerfile's
// RUN line, so the test builds exactly what the image builds.
func dockerBuildCommand(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			return strings.TrimPrefix(line, "RUN ")
		}
	}
	t.Fatal("no RUN … go build line in the Dockerfile")
	return ""
}

// TestDockerfileBuildCommand runs the Dockerfile's build command (no
// Docker engine is needed) and the binary it makes: the command cannot rot.
func TestDockerfileBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmdline := dockerBuildCommand(t)
	if !strings.Contains(cmdline, "CGO_ENABLED=0") || !strings.Contains(cmdline, "-o /out/switchboard") {
		t.Fatalf("unexpected build command %q", cmdline)
	}
	out := filepath.Join(t.TempDir(), "switchboard")
	cmdline = strings.Replace(cmdline, "/out/switchboard", out, 1)
	build := exec.Command("sh", "-c", cmdline)
	build.Dir = "../.."
	build.Env = append(os.Environ(), "VERSION=v1.2.3-test") // as the ARG sets it
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	v, err := exec.Command(out, "--version").CombinedOutput()
	if err != nil || string(v) != "switchboard v1.2.3-test\n" {
		t.Fatalf("--version: %v %q (want the VERSION given to the build)", err, v)
	}
	// Static: no dynamic loader needed, so it runs on distroless/static.
	if b, _ := exec.Command("file", out).CombinedOutput(); len(b) > 0 && strings.Contains(string(b), "dynamically linked") {
		t.Fatalf("binary is dynamically linked: %s", b)
	}
}
