//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// errNoProc is returned where /proc is not available.
var errNoProc = errors.New("process statistics need Linux /proc")

func childAttr() *syscall.SysProcAttr { return nil }

func memory(pid int) (rss, peak int64, err error) { return 0, 0, errNoProc }

func cpuTime(pid int) (time.Duration, error) { return 0, errNoProc }
