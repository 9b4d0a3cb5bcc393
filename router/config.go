package router

import (
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
)

// The rules file's schema lives in package config; these aliases let the
// router's callers (the admin API, the rules-file editor) name a rule's
// parts without importing both packages.
type (
	// SourceConfig is config.SourceConfig.
	SourceConfig = config.SourceConfig
	// LagoSourceConfig is config.LagoSourceConfig.
	LagoSourceConfig = config.LagoSourceConfig
	// GenericSourceConfig is config.GenericSourceConfig.
	GenericSourceConfig = config.GenericSourceConfig
	// ChannelConfig is config.ChannelConfig.
	ChannelConfig = config.ChannelConfig
	// RuleConfig is config.RuleConfig.
	RuleConfig = config.RuleConfig
	// SendConfig is config.SendConfig.
	SendConfig = config.SendConfig
	// ThrottleConfig is config.ThrottleConfig.
	ThrottleConfig = config.ThrottleConfig
	// GroupConfig is config.GroupConfig.
	GroupConfig = config.GroupConfig
	// ScheduleConfig is config.ScheduleConfig.
	ScheduleConfig = config.ScheduleConfig
	// EscalateConfig is config.EscalateConfig.
	EscalateConfig = config.EscalateConfig
	// RetentionConfig is config.RetentionConfig.
	RetentionConfig = config.RetentionConfig
	// Duration is config.Duration.
	Duration = config.Duration
	// Days is config.Days.
	Days = config.Days
	// ByteSize is config.ByteSize.
	ByteSize = config.ByteSize
)

// FormatDuration writes d without zero units: 6h, 1h30m, 90s.
func FormatDuration(d time.Duration) string { return config.FormatDuration(d) }

// ParseByteSize parses "1048576", "64KiB", "1MiB", "1MB", "1 GiB".
func ParseByteSize(s string) (int64, error) { return config.ParseByteSize(s) }

// ParseDays reads a duration that may start with a number of days: 30d,
// 1d12h, 36h, 90m.
func ParseDays(s string) (time.Duration, error) { return config.ParseDays(s) }

// NodeToValue decodes a YAML node as config.NodeToValue does.
//
// Deprecated: use config.NodeToValue.
func NodeToValue(n ast.Node, v any) error { return config.NodeToValue(n, v) }
