-- Conversations: the notifications about one billing object (a rule and a
-- rendered key, e.g. an invoice's lago_id) form one conversation, shared
-- by every replica. state is open or resolved. Times are Unix
-- microseconds; *_event_at are the payloads' own times (0: none), which
-- order a resolution that arrives before its failure. escalate_at is when
-- an open conversation escalates (NULL: never or no more); escalated_at
-- is set by the one replica that fired it.
CREATE TABLE conversations (
	rule                     TEXT NOT NULL,
	conv_key                 TEXT NOT NULL,
	state                    TEXT NOT NULL,
	notifications            INTEGER NOT NULL,
	first_at                 BIGINT NOT NULL,
	last_at                  BIGINT NOT NULL,
	first_message_id         TEXT NOT NULL,
	last_text                TEXT NOT NULL,
	last_subject             TEXT NOT NULL,
	opened_event_at          BIGINT NOT NULL,
	resolved_event_at        BIGINT NOT NULL,
	resolved_by              TEXT NOT NULL,
	resolved_at              BIGINT,
	escalate_at              BIGINT,
	escalate_channel         TEXT NOT NULL,
	escalate_parts           TEXT NOT NULL,
	escalate_error           TEXT NOT NULL,
	escalate_unless_resolved INTEGER NOT NULL,
	escalated_at             BIGINT,
	escalation_id            TEXT,
	PRIMARY KEY (rule, conv_key)
);
-- The dispatcher's look for due escalations.
CREATE INDEX conversations_escalate ON conversations (escalate_at) WHERE escalated_at IS NULL;
-- switchboard_open_conversations{rule}.
CREATE INDEX conversations_open ON conversations (rule) WHERE state = 'open';

-- Where each conversation lives in each channel: the delivery that posted
-- (or is posting) its first message, and what the peer answered for it —
-- Slack's channel ID and ts (replies use it as thread_ts, updates as ts);
-- for email the first message's Message-ID.
CREATE TABLE conversation_posts (
	rule             TEXT NOT NULL,
	conv_key         TEXT NOT NULL,
	channel          TEXT NOT NULL,
	root_id          TEXT NOT NULL,
	slack_channel    TEXT NOT NULL,
	slack_ts         TEXT NOT NULL,
	email_message_id TEXT NOT NULL,
	updated_at       BIGINT NOT NULL,
	PRIMARY KEY (rule, conv_key, channel)
);
