package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// History actions.
const (
	ActionCreate  = "create"
	ActionUpdate  = "update"
	ActionRename  = "rename"
	ActionDelete  = "delete"
	ActionRestore = "restore"
)

// ErrNoHistory is returned by HistoryEntry for an unknown ID.
var ErrNoHistory = errors.New("history entry not found")

// Save is one save of the rules file, as the history records it.
type Save struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// Author is who saved, when known ("admin" for the admin token).
	Author string `json:"author"`
	// Action is create, update, rename, delete or restore.
	Action string `json:"action"`
	// Rules are the names of the rules concerned (old and new name for a
	// rename).
	Rules []string `json:"rules"`
	// Summary says in a few words what changed.
	Summary string `json:"summary"`
	// Version is the hash of Content (the editing version).
	Version string `json:"version"`
	// Content is the whole rules file as saved; History leaves it out.
	Content []byte `json:"-"`
}

// RecordSave appends s to the history (its ID and, when zero, its Time
// are set here) and returns its ID.
func (s *Store) RecordSave(ctx context.Context, sv Save) (int64, error) {
	if sv.Time.IsZero() {
		sv.Time = s.now()
	}
	if sv.Rules == nil {
		sv.Rules = []string{}
	}
	names, err := json.Marshal(sv.Rules)
	if err != nil {
		return 0, fmt.Errorf("record save: %w", err)
	}
	var id int64
	err = s.w.QueryRowContext(ctx, `INSERT INTO config_history
		(created_at, author, action, rules, summary, file_hash, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		micros(sv.Time), sv.Author, sv.Action, string(names), sv.Summary, sv.Version, sv.Content).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record save: %w", err)
	}
	return id, nil
}

// History returns the latest saves, newest first, without their content.
func (s *Store) History(ctx context.Context, limit int) ([]Save, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	rows, err := s.r.QueryContext(ctx, `SELECT id, created_at, author, action, rules, summary, file_hash
		FROM config_history ORDER BY id DESC LIMIT $1`, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	defer rows.Close()
	out := []Save{}
	for rows.Next() {
		sv, err := scanSave(rows.Scan, false)
		if err != nil {
			return nil, fmt.Errorf("list history: %w", err)
		}
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	return out, nil
}

// HistoryEntry returns one save with its content, or ErrNoHistory.
func (s *Store) HistoryEntry(ctx context.Context, id int64) (Save, error) {
	row := s.r.QueryRowContext(ctx, `SELECT id, created_at, author, action, rules, summary, file_hash, content
		FROM config_history WHERE id = $1`, id)
	sv, err := scanSave(row.Scan, true)
	if errors.Is(err, sql.ErrNoRows) {
		return Save{}, ErrNoHistory
	}
	if err != nil {
		return Save{}, fmt.Errorf("read history entry: %w", err)
	}
	return sv, nil
}

func scanSave(scan func(...any) error, content bool) (Save, error) {
	var sv Save
	var at int64
	var names string
	dest := []any{&sv.ID, &at, &sv.Author, &sv.Action, &names, &sv.Summary, &sv.Version}
	if content {
		dest = append(dest, &sv.Content)
	}
	if err := scan(dest...); err != nil {
		return Save{}, err
	}
	sv.Time = fromMicros(at)
	if err := json.Unmarshal([]byte(names), &sv.Rules); err != nil {
		return Save{}, fmt.Errorf("rule names: %w", err)
	}
	return sv, nil
}
