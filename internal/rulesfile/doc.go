// Package rulesfile edits the rules file the way a person would: it
// replaces, adds or removes one rule's (or one channel's) lines and leaves
// every other byte — comments, blank lines, ordering, quoting — exactly as
// it was. It also
// writes the result atomically (temp file in the same directory, fsync,
// rename) and hashes file contents into the editing versions the admin API
// compares with If-Match.
//
// It does not validate what it writes: callers load the candidate file with
// router.Load before renaming it into place.
package rulesfile
