package api

import (
	"github.com/switchboard-dev/switchboard/config"

	"net/http"
	"os"

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
	rs, herr := a.compileUnsaved(rc)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	defer rs.Close()
	writeJSON(w, http.StatusOK, TestMessage(rs, source, raw, data))
}

// compileUnsaved compiles one unsaved rule alone in a copy of the rules
// file (see testUnsaved). The caller closes the Ruleset.
func (a *API) compileUnsaved(rc router.RuleConfig) (*router.Ruleset, *httpError) {
	o := a.o.Reload.Options()
	src, err := os.ReadFile(o.RulesPath)
	if err != nil {
		return nil, &httpError{code: http.StatusInternalServerError, msg: "read rules file: " + err.Error()}
	}
	f, err := rulesfile.Parse(src)
	if err != nil {
		return nil, editFailed(err, rc.Name)
	}
	cand, err := f.Only(rc)
	if err != nil {
		return nil, editFailed(err, rc.Name)
	}
	rs, _, err := router.Compile(o.RulesPath, cand, o.TemplatesFS(), o)
	if err != nil {
		ds := []config.Diagnostic{{Rule: rc.Name, Message: err.Error()}}
		if le, ok := err.(*config.LoadError); ok {
			ds = le.Errors()
		}
		return nil, invalid(ds)
	}
	return rs, nil
}
