package api

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/router"
)

// testUnsaved tests one rule that is not saved: it is compiled alone in a
// copy of the rules file whose rules list holds only it (so the current
// sources, channels and templates apply), and the message is routed
// through that. Nothing is written next to the rules file and nothing is
// sent. An invalid rule answers 422 with the errors shape of a save;
// positions refer to that copy.
func (a *API) testUnsaved(w http.ResponseWriter, rc router.RuleConfig, source string, raw []byte, data map[string]any) {
	o := a.o.Reload.Options()
	src, err := os.ReadFile(o.RulesPath)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read rules file: "+err.Error())
		return
	}
	f, err := rulesfile.Parse(src)
	if err != nil {
		writeHTTPError(w, editFailed(err, rc.Name))
		return
	}
	cand, err := f.Only(rc)
	if err != nil {
		writeHTTPError(w, editFailed(err, rc.Name))
		return
	}
	dir, err := os.MkdirTemp("", "switchboard-test-")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "create temp directory: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	rulesPath := o.RulesPath
	o.RulesPath = filepath.Join(dir, filepath.Base(rulesPath))
	if err := os.WriteFile(o.RulesPath, cand, 0o600); err != nil {
		writeError(w, http.StatusInternalServerError, "write temp file: "+err.Error())
		return
	}
	rs, _, err := router.Load(o)
	if err != nil {
		ds := []router.Diagnostic{{Rule: rc.Name, Message: err.Error()}}
		if le, ok := err.(*router.LoadError); ok {
			ds = le.Errors()
		}
		writeHTTPError(w, invalid(ds))
		return
	}
	defer rs.Close()
	writeJSON(w, http.StatusOK, TestMessage(rs, source, raw, data))
}
