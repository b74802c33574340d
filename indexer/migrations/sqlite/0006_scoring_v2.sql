-- Scoring v2 (issue 9): where each activity came from, accountable confirmations, standing
-- vouches, subscriptions, the member state carried from epoch to epoch, and the evidence a third
-- party can check (source signatures, per-epoch source manifests).

-- The rules source (`[sources.<name>]`) an API key reports as. NULL: the key relays members'
-- self-reports (source 'member', evidence class claimed at most).
ALTER TABLE api_keys ADD COLUMN source TEXT;
-- The source that delivered an activity, and its ed25519 signature over the canonical event bytes
-- (hex; NULL when the source has no key in the rules).
ALTER TABLE activities ADD COLUMN source TEXT NOT NULL DEFAULT 'member';
ALTER TABLE activities ADD COLUMN signature TEXT;
-- The platform reports each member's paid subscription (Unix seconds; NULL = never).
ALTER TABLE members ADD COLUMN subscribed_until INTEGER;

-- A confirmation is the confirmer's own record about one event of another member: signed by the
-- confirmer's bound wallet (auth 'wallet', with the wallet, message and signature kept as proof) or
-- posted by a source that authenticated the confirmer (auth 'source:<name>').
CREATE TABLE confirmations (
    id            TEXT PRIMARY KEY NOT NULL,
    confirmer     TEXT NOT NULL REFERENCES members (id),
    claimant      TEXT NOT NULL REFERENCES members (id),
    kind          TEXT NOT NULL,
    event         TEXT NOT NULL REFERENCES activities (id),
    epoch         INTEGER NOT NULL,
    auth          TEXT NOT NULL,
    wallet        TEXT,
    message       TEXT,
    signature     TEXT,
    confirmed_at  INTEGER NOT NULL,
    UNIQUE (confirmer, event)
);
CREATE INDEX confirmations_epoch ON confirmations (epoch, confirmed_at);

-- Vouches as the voucher's statements, kept forever: `revoke` 0 vouches that member is a real, known
-- person, 1 withdraws it. The vouch in force at a time is the pair's newest statement before it, so
-- an old epoch's vouches (and the signed statements that prove them) can always be re-read.
CREATE TABLE vouch_statements (
    voucher     TEXT NOT NULL REFERENCES members (id),
    member      TEXT NOT NULL REFERENCES members (id),
    at          INTEGER NOT NULL,
    revoke      INTEGER NOT NULL CHECK (revoke IN (0, 1)),
    auth        TEXT NOT NULL,
    wallet      TEXT,
    message     TEXT,
    signature   TEXT,
    PRIMARY KEY (voucher, member, at)
);
CREATE INDEX vouch_statements_at ON vouch_statements (at);

-- A member's scoring state after an epoch (tenure, trust, calendar counters), written only when it
-- changed; the state going into epoch n is the newest row before n.
CREATE TABLE member_states (
    member_id  TEXT NOT NULL REFERENCES members (id),
    epoch      INTEGER NOT NULL,
    state      TEXT NOT NULL,
    PRIMARY KEY (member_id, epoch)
);

-- Per epoch, each source's signed statement of what it sent (count and digest of its events).
CREATE TABLE source_manifests (
    source       TEXT NOT NULL,
    epoch        INTEGER NOT NULL,
    events       INTEGER NOT NULL,
    digest       TEXT NOT NULL,
    signature    TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (source, epoch)
);

-- Every rules text the service has run, by rules hash: an epoch's log is served with the rules it
-- was scored with, so oracles recompute old epochs by their own rules after a rules change.
CREATE TABLE rules_texts (
    rules_hash  TEXT PRIMARY KEY NOT NULL,
    text        TEXT NOT NULL,
    stored_at   INTEGER NOT NULL
);
