//go:build !linux

package testpg

import (
	"os"
	"syscall"
)

// procAttr runs a command as cred (nil: as the current user).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	if cred == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: cred}
}

// exited reports, without blocking, whether p has exited, and reaps it if
// so.
func exited(p *os.Process) bool {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(p.Pid, &ws, syscall.WNOHANG, nil)
	if err != nil {
		return true
	}
	return pid == p.Pid
}
