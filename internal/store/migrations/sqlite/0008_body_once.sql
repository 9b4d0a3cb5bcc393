-- A message's body is stored once, in messages.body. A delivery whose
-- request body is the message as received (an HTTP channel's default)
-- stores its parts without the body and body_is_message = 1; reading the
-- delivery takes the body from its message, which the retention sweep
-- keeps while any delivery refers to it.
ALTER TABLE deliveries ADD COLUMN body_is_message INTEGER NOT NULL DEFAULT 0;
