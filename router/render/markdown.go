package render

import "strings"

// markdownText is a value already escaped for Markdown (the result of the
// markdown function): the Markdown output does not escape it again.
type markdownText string

// markdownSpecial are the characters Discord's and Teams' Markdown give a
// meaning to inside a line — emphasis, code, strikethrough, spoilers,
// masked links, mentions (@everyone, <@id>, <#channel>), quotes — and the
// backslash that escapes them. All are ASCII punctuation, which CommonMark
// and Discord let a backslash escape. Characters that matter only at the
// start of a line (# - + 1.) are left alone: a value rarely starts one,
// and escaping every date's "-" would clutter what people read. URLs stay
// clickable.
const markdownSpecial = "\\*_~`|<>[]@"

// escapeMarkdown puts a backslash before every character of s that
// Markdown could read as formatting, a link or a mention, so that a value
// ("@everyone", "**Acme**", "[click](https://evil)") shows as written.
func escapeMarkdown(s string) string {
	if !strings.ContainsAny(s, markdownSpecial) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if r < 128 && strings.ContainsRune(markdownSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdownJSON is the template's markdownJson: v escaped for Markdown
// (like markdown) and then for the inside of a JSON string, without the
// quotes, for Discord embeds and Teams Adaptive Cards written in a
// template:
//
//	{"type": "TextBlock", "text": "**Customer** {{ markdownJson .customer.name }}"}
func markdownJSON(v any) (string, error) {
	s, err := marshalJSON(escapeMarkdown(formatValue(v)), false, "")
	if err != nil {
		return "", err
	}
	return s[1 : len(s)-1], nil
}
