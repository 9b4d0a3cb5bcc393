-- Replay protection for sources whose signature covers the body but no
-- message ID or time (Lago's HMAC and JWT, generic hmac): body_hash is the
-- hex SHA-256 of the body, unique per source, so a captured request sent
-- again with a fresh idempotency key, or none, is a duplicate. NULL for
-- every other message: NULLs are distinct in a unique index.
ALTER TABLE messages ADD COLUMN body_hash TEXT;
CREATE UNIQUE INDEX messages_body_hash ON messages (source, body_hash);
