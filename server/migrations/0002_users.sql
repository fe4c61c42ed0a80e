-- Dashboard users and their sessions.

-- A user signs in with a name and a password, stored as an Argon2id PHC
-- string (salted, never the password). Role and environment limits work as
-- a token's.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    role TEXT NOT NULL,
    environments TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- A signed-in browser. `hash` is the SHA-256 of the cookie's secret (256
-- random bits); `csrf` the token every state-changing request must echo in
-- `X-CSRF-Token`. Deleting the user deletes its sessions.
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
