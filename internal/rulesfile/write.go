package rulesfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrReadOnly is returned when the rules file cannot be replaced: a
// read-only mount, an immutable file, or a directory the process may not
// write.
var ErrReadOnly = errors.New("the rules file is read-only")

// Writable reports whether the rules file at path can be replaced: both
// the file and its directory must be writable.
func Writable(path string) bool {
	const wOK = 2 // W_OK
	if err := syscall.Access(filepath.Dir(path), wOK); err != nil {
		return false
	}
	if err := syscall.Access(path, wOK); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return true
}

// Temp is a candidate rules file written next to the real one, so that it
// can be validated and then renamed into place.
type Temp struct {
	// Path is the candidate's path.
	Path   string
	target string
	done   bool
}

// WriteTemp writes data to a hidden temp file in path's directory, with
// the mode of the file at path (0644 when it does not exist), and syncs it.
func WriteTemp(path string, data []byte) (*Temp, error) {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, readOnly(fmt.Errorf("create temp file: %w", err))
	}
	t := &Temp{Path: f.Name(), target: path}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Remove()
		return nil, readOnly(fmt.Errorf("write temp file: %w", err))
	}
	return t, nil
}

// Commit renames the candidate over the rules file and syncs the
// directory, so the change survives a crash.
func (t *Temp) Commit() error {
	if err := os.Rename(t.Path, t.target); err != nil {
		t.Remove()
		return readOnly(fmt.Errorf("replace rules file: %w", err))
	}
	t.done = true
	if d, err := os.Open(filepath.Dir(t.target)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Remove deletes the candidate unless it was committed. It is safe to
// call more than once.
func (t *Temp) Remove() {
	if !t.done {
		_ = os.Remove(t.Path)
		t.done = true
	}
}

// WriteFile replaces the file at path with data atomically.
func WriteFile(path string, data []byte) error {
	t, err := WriteTemp(path, data)
	if err != nil {
		return err
	}
	return t.Commit()
}

// readOnly marks permission and read-only filesystem errors with
// ErrReadOnly.
func readOnly(err error) error {
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	return err
}
