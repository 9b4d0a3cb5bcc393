package web

import (
	"strings"
)

// fieldSpot returns the editor field a rule error belongs on ("name",
// "when", "send"), or "" when the form has no place for it.
func fieldSpot(field string) string {
	if strings.HasPrefix(field, "rules[") {
		if _, rest, ok := strings.Cut(field, "]."); ok {
			field = rest
		}
	}
	switch {
	case field == "name", field == "when":
		return field
	case field == "send", strings.HasPrefix(field, "send["), strings.HasPrefix(field, "send."):
		return "send"
	}
	return ""
}

// fieldLabels are the form's words for the API's field names.
var fieldLabels = map[string]string{
	"name": "Name", "when": "Condition", "send": "Send", "description": "Description",
	"rule": "Rule", "reason": "Reason", "duration": "For", "ends_at": "Ends", "starts_at": "Starts",
}

// fieldLabel names a field as the form does.
func fieldLabel(field string) string {
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	return field
}

// unprefix drops a leading "field: " from message: the page already shows
// the message on or next to that field.
func unprefix(field, message string) string {
	if field == "" {
		return message
	}
	if rest, ok := strings.CutPrefix(message, field+": "); ok {
		return rest
	}
	return message
}

// fieldErrors groups errors by the editor field they belong on.
func fieldErrors(errs []apiError) map[string][]apiError {
	out := map[string][]apiError{}
	for _, e := range errs {
		if spot := fieldSpot(e.Field); spot != "" {
			out[spot] = append(out[spot], e)
		}
	}
	return out
}
