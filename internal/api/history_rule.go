package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// ActionOriginal is the history action of the rules file as it was on
// disk before a save through the API changed it, recorded when the
// history does not hold that version yet (the first save, or a save after
// the file was edited by hand).
const ActionOriginal = "original"

// DiffLine is one line of a rule's difference between two versions: Op
// is " " (in both), "-" (only in the current file) or "+" (only in the
// version restored).
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// RuleRestore is GET /api/v1/history/{id}/rules/{name}: what restoring
// only that rule would change. Current or Restored is empty when the rule
// is absent from that version (restoring then adds or deletes it).
type RuleRestore struct {
	ID       int64      `json:"id"`
	Rule     string     `json:"rule"`
	Current  string     `json:"current"`
	Restored string     `json:"restored"`
	Diff     []DiffLine `json:"diff"`
}

// recordOriginal records src, the file about to be replaced by a save,
// when the latest history entry is not that version.
func (a *API) recordOriginal(ctx context.Context, src []byte) {
	if a.o.Store == nil {
		return
	}
	version := rulesfile.Hash(src)
	latest, err := a.o.Store.History(ctx, 1)
	if err != nil || len(latest) > 0 && latest[0].Version == version {
		return
	}
	summary := "the rules file as it was on disk before the editor first saved it"
	if len(latest) > 0 {
		summary = "the rules file as changed outside the editor"
	}
	if _, err := a.o.Store.RecordSave(ctx, store.Save{Author: "file", Action: ActionOriginal, Summary: summary,
		Version: version, Content: src}); err != nil {
		a.logger().Error("the rules file as it was could not be recorded in the history", "error", err)
	}
}

// historyRule reads history entry id and the rule name in it and in src.
func (a *API) historyRule(r *http.Request, src []byte) (RuleRestore, *router.RuleConfig, *httpError) {
	out := RuleRestore{Rule: r.PathValue("name")}
	if out.Rule == "" {
		out.Rule = r.URL.Query().Get("rule")
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return out, nil, &httpError{code: http.StatusBadRequest, msg: "the history id must be a positive number"}
	}
	out.ID = id
	if a.o.Store == nil {
		return out, nil, &httpError{code: http.StatusServiceUnavailable, msg: "no store: history is not kept"}
	}
	sv, err := a.o.Store.HistoryEntry(r.Context(), id)
	if errors.Is(err, store.ErrNoHistory) {
		return out, nil, &httpError{code: http.StatusNotFound, msg: "no such history entry"}
	}
	if err != nil {
		return out, nil, &httpError{code: http.StatusServiceUnavailable, msg: "store unavailable"}
	}
	then, err := rulesfile.Parse(sv.Content)
	if err != nil {
		return out, nil, &httpError{code: http.StatusUnprocessableEntity, msg: "that version cannot be read: " + err.Error()}
	}
	now, err := rulesfile.Parse(src)
	if err != nil {
		return out, nil, &httpError{code: http.StatusUnprocessableEntity, msg: "the rules file cannot be edited here: " + err.Error()}
	}
	var restored *router.RuleConfig
	if rc, ok := then.Rule(out.Rule); ok {
		restored = &rc
		b, _ := rulesfile.Marshal(rc)
		out.Restored = string(b)
	}
	if rc, ok := now.Rule(out.Rule); ok {
		b, _ := rulesfile.Marshal(rc)
		out.Current = string(b)
	}
	if restored == nil && out.Current == "" {
		return out, nil, &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no rule named %q in that version or in the rules file", out.Rule)}
	}
	out.Diff = diffLines(out.Current, out.Restored)
	return out, restored, nil
}

// historyRuleDiff is GET /api/v1/history/{id}/rules/{name}.
func (a *API) historyRuleDiff(w http.ResponseWriter, r *http.Request) {
	src, err := readRules(a.o.Reload.Options().RulesPath)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out, _, herr := a.historyRule(r, src)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// restoreRule is POST /api/v1/history/{id}/restore?rule=name: only that
// rule goes back to how that version had it (added back, or deleted if
// it did not exist then); every other part of the file stays as it is.
func (a *API) restoreRule(w http.ResponseWriter, r *http.Request) {
	var diff RuleRestore
	version, herr := a.save(r, &change{
		action: store.ActionRestore,
		apply: func(src []byte) ([]byte, *httpError) {
			d, restored, herr := a.historyRule(r, src)
			if herr != nil {
				return nil, herr
			}
			diff = d
			f, err := rulesfile.Parse(src)
			if err != nil {
				return nil, &httpError{code: http.StatusUnprocessableEntity, msg: "the rules file cannot be edited here: " + err.Error()}
			}
			var out []byte
			switch {
			case restored == nil:
				out, err = f.Delete(d.Rule)
			case f.Has(d.Rule):
				out, err = f.Replace(d.Rule, *restored)
			default:
				out, err = f.Append(*restored)
			}
			if err != nil {
				return nil, editFailed(err, d.Rule)
			}
			return out, nil
		},
		rules:   []string{r.URL.Query().Get("rule")},
		summary: fmt.Sprintf("restored rule %q as saved in #%s", r.URL.Query().Get("rule"), r.PathValue("id")),
	})
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	a.respondSaved(w, http.StatusOK, version, map[string]any{"version": version, "restored": diff.ID, "rule": diff.Rule})
}

// readRules reads the rules file.
func readRules(path string) ([]byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules file: %w", errors.Unwrap(err))
	}
	return src, nil
}

// diffLines is a line diff of a and b (longest common subsequence; rules
// are a few lines long).
func diffLines(a, b string) []DiffLine {
	x, y := splitLines(a), splitLines(b)
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := []DiffLine{}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			out = append(out, DiffLine{" ", x[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, DiffLine{"+", y[j]})
			j++
		default:
			out = append(out, DiffLine{"-", x[i]})
			i++
		}
	}
	return out
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
