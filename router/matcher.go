package router

import (
	"fmt"
	"strings"
	"time"
)

// Matcher is a compiled expression in the language of `when`, used outside
// the rules file (a silence's matcher). It is safe for concurrent use.
type Matcher struct {
	cond *condition
}

// ExprError is an expression that does not compile, with the position of
// the problem inside it (1-based; zero when unknown).
type ExprError struct {
	Line, Column int
	Message      string
}

func (e *ExprError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
	}
	return e.Message
}

// CompileMatcher compiles src as a `when` expression. An empty expression
// is an error. now is the clock of the time helpers (nil: time.Now).
func CompileMatcher(src string, now func() time.Time) (*Matcher, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Message: "expression is empty"}
	}
	if now == nil {
		now = time.Now
	}
	c, err := compileCondition(src, exprOptions(now))
	if err != nil {
		line, col, msg := exprErrorPos(err)
		return nil, &ExprError{Line: line, Column: col, Message: msg}
	}
	return &Matcher{cond: c}, nil
}

// Match evaluates the expression on a message's data (as Message.Data,
// with meta). An evaluation error is returned with matched false.
func (m *Matcher) Match(data map[string]any) (matched bool, err error) {
	return m.cond.eval(data)
}
