-- SysTok indexer schema v1 (PostgreSQL). Amounts are integer base units (STK has 6 decimals).
CREATE TABLE members (
    id          TEXT PRIMARY KEY NOT NULL,
    status      TEXT NOT NULL DEFAULT 'inactive' CHECK (status IN ('inactive', 'active')),
    wallet      TEXT UNIQUE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- One row per epoch that has seen activity or been scored. `state` grows with the epoch pipeline:
-- open -> frozen -> scored -> ... ; any state other than 'open' refuses new activity.
CREATE TABLE epochs (
    epoch            BIGINT PRIMARY KEY NOT NULL,
    state            TEXT NOT NULL DEFAULT 'open',
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT NOT NULL,
    budget           BIGINT NOT NULL,
    rules_version    BIGINT,
    rules_hash       TEXT,
    activity_digest  TEXT,
    total_score      TEXT,
    total_amount     BIGINT,
    event_count      BIGINT,
    scored_at        BIGINT,
    created_at       BIGINT NOT NULL
);

CREATE TABLE activities (
    id             TEXT PRIMARY KEY NOT NULL,
    member_id      TEXT NOT NULL REFERENCES members (id),
    kind           TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    epoch          BIGINT NOT NULL,
    attributes     TEXT,
    confirmations  TEXT NOT NULL DEFAULT '[]',
    received_at    BIGINT NOT NULL
);
CREATE INDEX activities_epoch_member ON activities (epoch, member_id);

CREATE TABLE allocations (
    epoch      BIGINT NOT NULL,
    member_id  TEXT NOT NULL REFERENCES members (id),
    score      TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (epoch, member_id)
);
CREATE INDEX allocations_member ON allocations (member_id, epoch);

CREATE TABLE receipts (
    epoch      BIGINT NOT NULL,
    member_id  TEXT NOT NULL REFERENCES members (id),
    receipt    TEXT NOT NULL,
    PRIMARY KEY (epoch, member_id)
);

CREATE TABLE wallet_challenges (
    nonce       TEXT PRIMARY KEY NOT NULL,
    member_id   TEXT NOT NULL REFERENCES members (id),
    wallet      TEXT NOT NULL,
    message     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
