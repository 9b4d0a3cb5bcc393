package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// KeepSilences is how long expired silences stay listed.
const KeepSilences = 30 * 24 * time.Hour

// Silence mutes a rule, the messages matching an expression, or both,
// from StartsAt until EndsAt.
type Silence struct {
	ID string `json:"id"`
	// Rule is the rule muted; empty: any rule.
	Rule string `json:"rule,omitempty"`
	// When is an expression in the language of `when`; empty: every
	// message (of Rule).
	When      string    `json:"when,omitempty"`
	Reason    string    `json:"reason"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
}

// Silence states.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// State is the silence's state at now.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	default:
		return SilenceExpired
	}
}

// ErrSilenceNotFound is returned for an unknown silence ID.
var ErrSilenceNotFound = errors.New("silence not found")

const silenceColumns = `id, rule, matcher, reason, author, created_at, starts_at, ends_at`

func scanSilence(sc scanner) (Silence, error) {
	var sl Silence
	var created, starts, ends int64
	if err := sc.Scan(&sl.ID, &sl.Rule, &sl.When, &sl.Reason, &sl.Author, &created, &starts, &ends); err != nil {
		return Silence{}, err
	}
	sl.CreatedAt, sl.StartsAt, sl.EndsAt = fromMicros(created), fromMicros(starts), fromMicros(ends)
	return sl, nil
}

// AddSilence stores a new silence. It assigns the ID and CreatedAt, and
// StartsAt when zero (now).
func (s *Store) AddSilence(ctx context.Context, sl Silence) (Silence, error) {
	now := s.now()
	sl.Rule, sl.When = strings.TrimSpace(sl.Rule), strings.TrimSpace(sl.When)
	sl.Reason, sl.Author = strings.TrimSpace(sl.Reason), strings.TrimSpace(sl.Author)
	switch {
	case sl.Rule == "" && sl.When == "":
		return Silence{}, errors.New("a silence needs a rule, an expression, or both")
	case sl.Reason == "":
		return Silence{}, errors.New("a silence needs a reason")
	}
	if sl.StartsAt.IsZero() {
		sl.StartsAt = now
	}
	if !sl.EndsAt.After(sl.StartsAt) {
		return Silence{}, errors.New("a silence must end after it starts")
	}
	sl.ID = "sil-" + uuid.Must(uuid.NewV7()).String()
	sl.CreatedAt = now
	// Stored at microsecond precision, and returned as stored.
	sl.CreatedAt, sl.StartsAt, sl.EndsAt = fromMicros(micros(sl.CreatedAt)), fromMicros(micros(sl.StartsAt)), fromMicros(micros(sl.EndsAt))
	if _, err := s.w.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		sl.ID, clean(sl.Rule), clean(sl.When), clean(sl.Reason), clean(sl.Author),
		micros(sl.CreatedAt), micros(sl.StartsAt), micros(sl.EndsAt)); err != nil {
		return Silence{}, fmt.Errorf("add silence: %w", err)
	}
	return sl, nil
}

// Silences lists silences, newest first: those not yet expired, and with
// includeExpired also those that ended within KeepSilences.
func (s *Store) Silences(ctx context.Context, includeExpired bool) ([]Silence, error) {
	cutoff := s.now()
	if includeExpired {
		cutoff = cutoff.Add(-KeepSilences)
	}
	return s.silences(ctx, `SELECT `+silenceColumns+` FROM silences WHERE ends_at > $1
		ORDER BY created_at DESC, id DESC`, micros(cutoff))
}

// ActiveSilences returns the silences in force at now, oldest first. Each
// replica polls it every second: it reads the small ends_at index.
func (s *Store) ActiveSilences(ctx context.Context, now time.Time) ([]Silence, error) {
	return s.silences(ctx, `SELECT `+silenceColumns+` FROM silences WHERE ends_at > $1 AND starts_at <= $1
		ORDER BY created_at, id`, micros(now))
}

func (s *Store) silences(ctx context.Context, q string, args ...any) ([]Silence, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	out := []Silence{}
	for rows.Next() {
		sl, err := scanSilence(rows)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out = append(out, sl)
	}
	return out, rows.Err()
}

// GetSilence returns one silence, or ErrSilenceNotFound.
func (s *Store) GetSilence(ctx context.Context, id string) (Silence, error) {
	sl, err := scanSilence(s.r.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Silence{}, ErrSilenceNotFound
	}
	if err != nil {
		return Silence{}, fmt.Errorf("get silence: %w", err)
	}
	return sl, nil
}

// ExpireSilence ends a silence at now (if it ends later) and returns it,
// or ErrSilenceNotFound.
func (s *Store) ExpireSilence(ctx context.Context, id string, now time.Time) (Silence, error) {
	if _, err := s.w.ExecContext(ctx, `UPDATE silences SET ends_at = $1 WHERE id = $2 AND ends_at > $1`,
		micros(now), id); err != nil {
		return Silence{}, fmt.Errorf("expire silence: %w", err)
	}
	return s.GetSilence(ctx, id)
}

// sweepSilences deletes silences that ended more than KeepSilences ago.
func (s *Store) sweepSilences(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM silences WHERE ends_at < $1`, micros(s.now().Add(-KeepSilences)))
	return err
}
