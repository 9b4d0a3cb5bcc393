package render

// ParseBuiltin parses the built-in template file of a channel kind (its
// descriptor's Template), named "(built-in KIND template)" in errors.
// Unlike ParseFile it takes a file that defines no block: the HTTP
// built-in forwards the original message bytes.
func ParseBuiltin(kind, src string) (*File, error) {
	return parseFile("(built-in "+kind+" template)", src)
}
