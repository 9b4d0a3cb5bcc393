package store

import (
	"context"
	"fmt"
	"strings"
)

// AmbiguousIDError is returned by ExpandID when a prefix names more than
// one row.
type AmbiguousIDError struct {
	Prefix string
	// Matches are some of the IDs the prefix names (at most 5).
	Matches []string
}

func (e *AmbiguousIDError) Error() string {
	return fmt.Sprintf("%q is ambiguous: it starts %s…", e.Prefix, strings.Join(e.Matches, ", "))
}

// ID kinds ExpandID resolves.
const (
	// DeliveryIDs are the IDs of deliveries.
	DeliveryIDs = "deliveries"
	// SilenceIDs are the IDs of silences.
	SilenceIDs = "silences"
)

// ExpandID returns the one ID of kind (DeliveryIDs or SilenceIDs) that
// starts with prefix, so that people can type the start of an ID as
// listings show it ("sil-01a2…"). A trailing "…" or "..." is ignored. It
// returns ErrNotFound (ErrSilenceNotFound for silences) when no ID starts
// so, and an *AmbiguousIDError when several do.
func (s *Store) ExpandID(ctx context.Context, kind, prefix string) (string, error) {
	if kind != DeliveryIDs && kind != SilenceIDs {
		return "", fmt.Errorf("unknown ID kind %q", kind)
	}
	notFound := ErrNotFound
	if kind == SilenceIDs {
		notFound = ErrSilenceNotFound
	}
	prefix = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(prefix), "…"), "...")
	if prefix == "" || strings.ContainsAny(prefix, `%_\`) {
		return "", notFound
	}
	// An exact match wins, even when it is also the prefix of another.
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM `+kind+` WHERE id LIKE $1 ORDER BY id LIMIT 6`, prefix+"%")
	if err != nil {
		return "", fmt.Errorf("find ID: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("find ID: %w", err)
		}
		if id == prefix {
			return id, nil
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("find ID: %w", err)
	}
	switch len(ids) {
	case 0:
		return "", notFound
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousIDError{Prefix: prefix, Matches: ids[:min(len(ids), 5)]}
}
