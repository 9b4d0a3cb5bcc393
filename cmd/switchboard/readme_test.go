package main

// The README's command blocks are run here, so that what it tells a new
// user to type works. The convention, also written in the README's
// "Contributing" section:
//
//   - ```sh blocks are run: the blocks of one section (## heading) in
//     order, in one bash session (set -euo pipefail), from a directory
//     holding rules.example.yaml, templates/ and internal/lago/testdata/,
//     with the switchboard binary on the PATH;
//   - they run against a real server started with the example rules under
//     --dry-run: with nothing configured for the section "The two
//     commands" (as that section says), and with LAGO_WEBHOOK_SECRET and
//     SWITCHBOARD_ADMIN_TOKEN set (in the server and in the shell) for
//     every other section; localhost:8080 is replaced by its address;
//   - a block fails the test when the shell exits non-zero or prints an
//     HTTP status of 400 or more;
//   - ```console blocks (Docker, PostgreSQL, a long-running server, a
//     placeholder to fill in) and ```text or unlabelled blocks (output)
//     are not run.

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one fenced block of the README.
type readmeBlock struct {
	section string // the ## heading it is under
	line    int    // of its opening fence
	lang    string
	code    string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeBlock
	var cur *readmeBlock
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{section: section, line: n, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unclosed block", cur.line)
	}
	return out
}

// exampleConfig is the example rules file and templates, as a test
// server runs them.
func exampleConfig(t *testing.T) config {
	t.Helper()
	rules, err := os.ReadFile("../../rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpls := map[string]string{}
	entries, err := os.ReadDir("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("../../templates", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		tmpls[e.Name()] = string(b)
	}
	return config{rules: string(rules), templates: tmpls, args: []string{"--dry-run"}}
}

var httpError = regexp.MustCompile(`(?m)^HTTP/[0-9.]+ [45][0-9][0-9]`)

func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	var sections []string
	code := map[string]string{}
	gettingStarted := ""
	for _, b := range readmeBlocks(t) {
		if b.lang == "yaml" && b.section == "Getting started with Lago and Slack" {
			gettingStarted = b.code
		}
		if b.lang != "sh" {
			continue
		}
		if _, ok := code[b.section]; !ok {
			sections = append(sections, b.section)
		}
		code[b.section] += "# README.md:" + itoaLine(b.line) + "\n" + b.code
	}
	for _, want := range []string{"The two commands", "Getting started with Lago and Slack", "Command line", "HTTP endpoints"} {
		if _, ok := code[want]; !ok {
			t.Errorf("no ```sh block left in the section %q", want)
		}
	}

	// The working directory a reader has after cloning, with what the
	// blocks read; the example rules are a copy.
	work := t.TempDir()
	for _, p := range []string{"rules.example.yaml"} {
		b, err := os.ReadFile(filepath.Join("../..", p))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(work, p), string(b))
	}
	for _, p := range []string{"templates", "internal/lago/testdata"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(mustAbs(t, filepath.Join("../..", p)), filepath.Join(work, p)); err != nil {
			t.Fatal(err)
		}
	}

	// The rules file of Getting started checks, secrets and all.
	writeFile(t, filepath.Join(work, "getting-started", "rules.yaml"), gettingStarted)
	r := cli{dir: filepath.Join(work, "getting-started"), env: []string{"LAGO_WEBHOOK_SECRET=x", "SLACK_BOT_TOKEN=xoxb-1"},
		args: []string{"check", "--require-env"}}.run(t)
	if gettingStarted == "" || r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "rules.yaml: OK — 1 rule, 1 channel, 1 source") {
		t.Errorf("the rules file of Getting started:\n%s", r)
	}

	plain := startServer(t, exampleConfig(t))
	full := exampleConfig(t)
	full.env = []string{"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SWITCHBOARD_ADMIN_TOKEN=" + adminToken}
	configured := startServer(t, full)

	for _, section := range sections {
		t.Run(section, func(t *testing.T) {
			s := configured
			if section == "The two commands" {
				s = plain
			}
			script := "set -euo pipefail\n" + strings.ReplaceAll(code[section], "localhost:8080", s.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", script)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
			if s == configured {
				cmd.Env = append(cmd.Env, "LAGO_WEBHOOK_SECRET="+lagoSecret, "SWITCHBOARD_ADMIN_TOKEN="+adminToken)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || httpError.Match(out) {
				t.Fatalf("the README's %q blocks failed (%v):\n%s\n--- script\n%s", section, err, out, script)
			}
			switch section {
			case "The two commands":
				mustContain(t, "the quick start", string(out), "HTTP/1.1 202 Accepted", `"status":"queued"`)
			case "Getting started with Lago and Slack":
				mustContain(t, "the signed curl", string(out), "HTTP/1.1 202 Accepted", `"matched":1`)
				// Accepted because the signature verified, not because
				// nothing is checked.
				st := s.do("GET", "/api/v1/status", nil, "Authorization", "Bearer "+adminToken)
				var status struct {
					Sources []struct{ Verification string } `json:"sources"`
				}
				if err := json.Unmarshal([]byte(st.body), &status); err != nil || len(status.Sources) != 1 || status.Sources[0].Verification != "hmac" {
					t.Errorf("the server does not verify the signature: %v %s", err, st.body)
				}
			case "HTTP endpoints":
				h := s.do("GET", "/api/v1/history?limit=20", nil, "Authorization", "Bearer "+adminToken)
				mustContain(t, "the history after the editing examples", h.body,
					`"action": "create"`, `"action": "update"`, `"action": "delete"`, `"action": "restore"`,
					`"action": "channel-create"`, `"action": "channel-delete"`)
			}
		})
	}
}

func itoaLine(n int) string { return strconv.Itoa(n) }

// TestREADMERulesFiles: every ```yaml block of the README that is a whole
// rules file (it has both channels: and rules:) passes `check` with the
// repository's templates — a reader copies them as they are. Unset
// variables are warnings there, and a template the example only names
// (shown beside it, not in templates/) is not counted.
func TestREADMERulesFiles(t *testing.T) {
	dir := t.TempDir()
	checked := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" || !regexp.MustCompile(`(?m)^rules:`).MatchString(b.code) || !regexp.MustCompile(`(?m)^channels:`).MatchString(b.code) {
			continue
		}
		checked++
		path := filepath.Join(dir, "README.md:"+itoaLine(b.line)+".yaml")
		if err := os.WriteFile(path, []byte(b.code), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stdout, stderr := runCLI(t, []string{"SWITCHBOARD_TEMPLATES=../../templates"}, "check", path)
		for _, line := range strings.Split(stdout+stderr, "\n") {
			if !strings.Contains(line, ".yaml:") || strings.Contains(line, "warning:") || strings.Contains(line, ": OK") || strings.HasSuffix(line, "error") ||
				strings.HasSuffix(line, "errors") || strings.Contains(line, "not found in") {
				continue
			}
			t.Errorf("the rules file at README.md:%d: %s", b.line, line)
		}
	}
	if checked < 4 {
		t.Fatalf("only %d whole rules files found in the README", checked)
	}
}
