//go:build !linux

package main

import (
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return nil }

func memory(pid int) (rss, peak int64, err error) { return 0, 0, errNoProc }

func cpuTime(pid int) (time.Duration, error) { return 0, errNoProc }
