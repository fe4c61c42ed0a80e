-- The control plane's model. One schema for SQLite and PostgreSQL: only types
-- both read the same way (TEXT, BIGINT), no autoincrement (ids are assigned
-- under the change lock), JSON stored as TEXT.

-- One row: the project's revision (every change increments it) and the
-- revision whose rulesets were last published in full. When
-- `published_revision < revision` a change was committed but not published
-- (a crash between the two); the next start publishes it.
CREATE TABLE project (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL,
    published_revision BIGINT NOT NULL,
    settings TEXT NOT NULL
);
INSERT INTO project (id, revision, published_revision, settings) VALUES (1, 0, 0, '{}');

CREATE TABLE environments (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    -- 1: only admins may change what this environment serves.
    protected BIGINT NOT NULL
);

-- `definition` is the flag in the rule language's JSON form (everything under
-- `flags.<key>` in a source file), metadata and per-environment overrides
-- included; `revision` is the project revision that last wrote it (its ETag).
CREATE TABLE flags (
    key TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE segments (
    key TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Append-only: nothing updates or deletes a row.
CREATE TABLE audit (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    revision BIGINT NOT NULL,
    before TEXT,
    after TEXT,
    request_id TEXT NOT NULL,
    comment TEXT
);
CREATE INDEX audit_by_key ON audit (kind, key, id);
CREATE INDEX audit_by_actor ON audit (actor, id);
CREATE INDEX audit_by_revision ON audit (revision);

-- API tokens, stored as the SHA-256 of the secret (which has 256 random bits).
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    environments TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- Which project revision each published environment version came from (for
-- history and rollback).
CREATE TABLE publications (
    environment TEXT NOT NULL,
    version BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (environment, version)
);

-- Answers to POSTs sent with an Idempotency-Key, replayed on a retry for a
-- day. `scope` is the caller's token hash and the key; `fingerprint` the
-- SHA-256 of method, path and body (the same key with another request is
-- refused).
CREATE TABLE idempotency (
    scope TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
