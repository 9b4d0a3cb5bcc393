package web

import (
	"fmt"
	"regexp"
	"strings"
)

// exprWords are the expression language's errors a person meets, each
// with what it means in plain words. The first match wins.
var exprWords = []struct {
	re  *regexp.Regexp
	say func(m []string) string
}{
	{regexp.MustCompile(`unexpected token Operator\("="\)`), func([]string) string {
		return `a single "=" is not a comparison: write "==" for "is" (or pick "is" in the guided builder)`
	}},
	{regexp.MustCompile(`unexpected token Operator\(","\)`), func([]string) string {
		return `a "," is out of place: write amounts here without thousands separators, in cents (500000 for 5,000.00 EUR), or use the guided builder, which takes 5,000.00 EUR`
	}},
	{regexp.MustCompile(`unexpected token Operator\("(.+?)"\)`), func(m []string) string {
		return fmt.Sprintf("%q is out of place here: check what comes before it", m[1])
	}},
	{regexp.MustCompile(`unexpected token EOF`), func([]string) string {
		return "the condition stops too early: something is missing at its end (a value after a comparison, or a condition after && or ||)"
	}},
	{regexp.MustCompile(`unexpected token \w+\("?(.*?)"?\)`), func(m []string) string {
		return fmt.Sprintf("%q is out of place here: a condition reads field, comparison, value (invoice.currency == \"EUR\")", m[1])
	}},
	{regexp.MustCompile(`literal not terminated`), func([]string) string {
		return `a quoted value is not closed: add the closing quote (")`
	}},
	{regexp.MustCompile(`cannot fetch (\S+) from <nil>`), func(m []string) string {
		return fmt.Sprintf("there is nothing to read %q from in this message: the object that should hold it is missing or empty here (is it the right event type?)", m[1])
	}},
	{regexp.MustCompile(`cannot fetch (\S+) from (\S+)`), func(m []string) string {
		return fmt.Sprintf("%q cannot be read from %s: the path goes below a value, not an object", m[1], typeWords(m[2]))
	}},
	{regexp.MustCompile(`invalid operation: (.+?) \(mismatched types (\S+) and (\S+)\)`), func(m []string) string {
		return fmt.Sprintf("%s compares %s with %s: compare numbers with numbers (no quotes) and text with text (in quotes)", m[1], typeWords(m[2]), typeWords(m[3]))
	}},
	{regexp.MustCompile(`unknown name (\S+)`), func(m []string) string {
		return fmt.Sprintf("%s is not a field of the message: a field starts with its object, such as invoice.total_amount_cents", m[1])
	}},
	{regexp.MustCompile(`expected bool, but got (\S+)`), func(m []string) string {
		return fmt.Sprintf("the condition must say yes or no, but it gives %s: compare it with something (for example > 0 or == \"EUR\")", typeWords(m[1]))
	}},
	{regexp.MustCompile(`invalid argument for len \(type (\S+)\)`), func(m []string) string {
		return fmt.Sprintf("len() counts the items of a list or the letters of a text, not %s", typeWords(m[1]))
	}},
}

// typeWords names a Go or expr type for a person.
func typeWords(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "int", "int64", "float64", "float", "uint", "number":
		return "a number"
	case "string":
		return "text"
	case "bool":
		return "yes/no"
	case "<nil>", "nil":
		return "an empty value"
	case "map[string]interface", "map[string]interface{}", "map[string]any", "map":
		return "an object"
	case "[]interface", "[]interface{}", "[]any", "array":
		return "a list"
	}
	return "a " + t
}

// inWords says an expression error in plain words. A message it has no
// words for is returned as it is.
func inWords(msg string) string {
	for _, w := range exprWords {
		if m := w.re.FindStringSubmatch(msg); m != nil {
			return w.say(m)
		}
	}
	return msg
}
