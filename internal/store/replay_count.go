package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// where returns the conditions (on deliveries as d) and their arguments
// that select the dead letters f names.
func (f ReplayFilter) where() ([]string, []any) {
	where := []string{"d.state = 'dead'"}
	var args []any
	if f.Channel != "" {
		args = append(args, f.Channel)
		where = append(where, "d.channel = $"+strconv.Itoa(len(args)))
	}
	if f.Rule != "" {
		args = append(args, f.Rule)
		where = append(where, "d.rule = $"+strconv.Itoa(len(args)))
	}
	if !f.Since.IsZero() {
		args = append(args, micros(f.Since))
		where = append(where, "d.created_at >= $"+strconv.Itoa(len(args)))
	}
	return where, args
}

// CountDead returns how many dead letters f selects: what ReplayMatching
// with the same filter would requeue. f.Rerender is not used.
func (s *Store) CountDead(ctx context.Context, f ReplayFilter) (int, error) {
	where, args := f.where()
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM deliveries d WHERE "+strings.Join(where, " AND "), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}
