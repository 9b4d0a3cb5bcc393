package store

import (
	"context"
	"fmt"
)

// sweepConversations deletes, chunk by chunk, the conversations retention
// no longer keeps, with their posts (where each lived in each channel),
// and returns how many conversations it deleted.
//
// A conversation goes once it is resolved and nothing happened in it for
// longer than cutoff (Unix microseconds): resolved, last notified and
// resolved before cutoff (a remembered resolution that arrived before its
// failure is kept as long, so that the late failure still opens nothing).
// An open conversation is never deleted, however old: it is still waiting
// for its resolution. Nor is one whose escalation has yet to fire (a
// resolved conversation escalates regardless when unless_resolved is
// false). A failure for the same key after the sweep starts a new
// conversation.
//
// Posts whose conversation is gone (a delivery that was still on its way
// when its conversation was swept) are deleted once they too are older
// than cutoff.
func (s *Store) sweepConversations(ctx context.Context, cutoff int64) (int, error) {
	total := 0
	for {
		n, full, err := s.sweepConversationsOnce(ctx, cutoff)
		total += n
		if err != nil {
			return total, err
		}
		if !full {
			break
		}
	}
	_, err := s.w.ExecContext(ctx, `DELETE FROM conversation_posts WHERE updated_at < $1
		AND NOT EXISTS (SELECT 1 FROM conversations c
			WHERE c.rule = conversation_posts.rule AND c.conv_key = conversation_posts.conv_key)`, cutoff)
	if err != nil {
		return total, fmt.Errorf("orphaned posts: %w", err)
	}
	return total, nil
}

// sweepConversationsOnce deletes up to sweepChunk conversations in one
// transaction; full is true when it found that many (there may be more).
// The conditions are checked again in the DELETE, so that a conversation
// another replica reopened meanwhile stays.
func (s *Store) sweepConversationsOnce(ctx context.Context, cutoff int64) (deleted int, full bool, err error) {
	const expired = `state = 'resolved' AND last_at < $1 AND resolved_at IS NOT NULL AND resolved_at < $1
		AND (escalate_at IS NULL OR escalated_at IS NOT NULL)`
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT rule, conv_key FROM conversations WHERE `+expired+` LIMIT $2`, cutoff, int64(sweepChunk))
	if err != nil {
		return 0, false, err
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return 0, false, err
		}
		keys = append(keys, k)
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(keys) == 0 {
		return 0, false, err
	}
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, `DELETE FROM conversations WHERE rule = $2 AND conv_key = $3 AND `+expired,
			cutoff, k[0], k[1])
		if err != nil {
			return 0, false, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, false, err
		}
		if n == 0 {
			continue
		}
		deleted++
		if _, err := tx.ExecContext(ctx, `DELETE FROM conversation_posts WHERE rule = $1 AND conv_key = $2`, k[0], k[1]); err != nil {
			return 0, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, false, err
	}
	return deleted, len(keys) == sweepChunk, nil
}
