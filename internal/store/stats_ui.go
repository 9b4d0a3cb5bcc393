package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RuleStat counts what one rule did, for the editor's rules list.
type RuleStat struct {
	// Matches counts the messages the rule matched since the window start
	// (a message that fans out to several channels counts once).
	Matches int
	// Deliveries counts the deliveries it created since the window start.
	Deliveries int
	// LastFired is when it last created a delivery, within the store's
	// retention; zero when never.
	LastFired time.Time
}

// RuleStats returns, per rule name, the matches and deliveries created
// since `since` and when the rule last fired. Rules with no delivery in the
// store are absent.
func (s *Store) RuleStats(ctx context.Context, since time.Time) (map[string]RuleStat, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule,
			COUNT(DISTINCT CASE WHEN created_at >= $1 THEN message_id END),
			COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0),
			MAX(created_at)
		FROM deliveries GROUP BY rule`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("rule stats: %w", err)
	}
	defer rows.Close()
	out := map[string]RuleStat{}
	for rows.Next() {
		var rule string
		var st RuleStat
		var last sql.NullInt64
		if err := rows.Scan(&rule, &st.Matches, &st.Deliveries, &last); err != nil {
			return nil, fmt.Errorf("rule stats: %w", err)
		}
		if last.Valid {
			st.LastFired = fromMicros(last.Int64)
		}
		out[rule] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rule stats: %w", err)
	}
	return out, nil
}
