-- Issue 11, the web console.

-- A user's console password, as an argon2id PHC string (the hash carries its salt and cost).
-- Only users have one; a user without a row signs in with an API token.
CREATE TABLE user_passwords (
    principal_id    TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    password_hash   TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- A signed-in browser. Only the hash of the cookie's value is stored. It acts as its
-- principal (password sign-in) or as the token it was opened with, whose revocation or
-- expiry ends the session too.
CREATE TABLE console_sessions (
    id_hash         TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    principal_id    TEXT,
    token_hash      TEXT,
    display_name    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
