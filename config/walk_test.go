package config

import (
	"reflect"
	"testing"

	"github.com/goccy/go-yaml/parser"
)

type walkInner struct {
	Token string `yaml:"token" sb:"env"`
}

type walkBlock struct {
	URL   string            `yaml:"url" sb:"env"`
	TLS   *walkInner        `yaml:"tls"`
	Auth  walkInner         `yaml:"auth"`
	Extra map[string]string `yaml:"extra"`
	skip  string
}

// TestWalk: every exported field is met once with its key path and node,
// nested blocks are descended unless the visitor declines, and a nil
// block shows its fields as zero values that cannot be set.
func TestWalk(t *testing.T) {
	f, err := parser.ParseBytes([]byte("url: a\nauth:\n  token: b\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &walkBlock{URL: "a", Auth: walkInner{Token: "b"}, skip: "x"}
	var paths []string
	settable := map[string]bool{}
	Walk(reflect.ValueOf(b), f.Docs[0].Body, "ch", func(fd Field) bool {
		paths = append(paths, fd.Path)
		settable[fd.Path] = fd.Value.CanSet()
		if fd.Path == "ch.auth.token" && (fd.Node == nil || NodePos(fd.Node) != (Pos{Line: 3, Col: 10})) {
			t.Errorf("auth.token node at %v", NodePos(fd.Node))
		}
		return fd.Path != "ch.extra"
	})
	want := []string{"ch.url", "ch.tls", "ch.tls.token", "ch.auth", "ch.auth.token", "ch.extra"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	if !settable["ch.url"] || !settable["ch.auth.token"] || settable["ch.tls.token"] {
		t.Errorf("settable %v", settable)
	}
	var n int
	Walk(reflect.ValueOf(b), nil, "", func(fd Field) bool { n++; return false })
	if n != 4 {
		t.Errorf("declining every field met %d, want the 4 top-level ones", n)
	}
}
