-- Every save of the rules file through the admin API, with the whole
-- resulting file so that any version can be restored. rules is a JSON
-- array of the rule names concerned; file_hash is the editing version
-- (rulesfile.Hash) of content.
CREATE TABLE config_history (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	created_at INTEGER NOT NULL,
	author     TEXT NOT NULL,
	action     TEXT NOT NULL,
	rules      TEXT NOT NULL,
	summary    TEXT NOT NULL,
	file_hash  TEXT NOT NULL,
	content    BLOB NOT NULL
);
