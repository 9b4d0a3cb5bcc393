package testpg

import (
	"os"
	"syscall"
)

// procAttr runs a command as cred (nil: as the current user) and kills it
// if the test binary dies first, so no server outlives its tests.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}

// exited reports, without blocking, whether p has exited, and reaps it if
// so. It never starts a goroutine (os.Process.Wait would have to), which
// keeps leak checks in TestMain clean.
func exited(p *os.Process) bool {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(p.Pid, &ws, syscall.WNOHANG, nil)
	if err != nil {
		// ECHILD: already reaped.
		return true
	}
	return pid == p.Pid
}
