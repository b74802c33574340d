-- Oracle mode and the chain watcher (DESIGN.md §4).

-- Every successful wallet binding with its proof (the signed challenge message and the signature), so
-- oracles can re-check who is paid where. `members.wallet` stays the binding in force.
CREATE TABLE wallet_bindings (
    id          INTEGER PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id),
    wallet      TEXT NOT NULL,
    message     TEXT NOT NULL,
    signature   TEXT NOT NULL,
    bound_at    INTEGER NOT NULL
);
CREATE INDEX wallet_bindings_member ON wallet_bindings (member_id, wallet, bound_at);
CREATE INDEX wallet_bindings_wallet ON wallet_bindings (wallet, bound_at);

-- The canonical activity log of each scored epoch, exactly the bytes whose digest is attested.
CREATE TABLE epoch_logs (
    epoch            INTEGER PRIMARY KEY NOT NULL,
    activity_digest  TEXT NOT NULL,
    log              TEXT NOT NULL,
    stored_at        INTEGER NOT NULL
);

-- How far the watcher has read the program's events (one row). `last_signature`/`last_ordinal`
-- carry the position inside a transaction whose events straddle two reads.
CREATE TABLE watcher_cursor (
    id              INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    cursor          TEXT NOT NULL,
    last_signature  TEXT NOT NULL,
    last_ordinal    INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Program events, once each: unique by (transaction signature, position of the event in it).
CREATE TABLE chain_events (
    id           INTEGER PRIMARY KEY,
    signature    TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,
    slot         INTEGER NOT NULL,
    name         TEXT NOT NULL,
    epoch        INTEGER,
    data         TEXT NOT NULL,
    observed_at  INTEGER NOT NULL,
    UNIQUE (signature, ordinal)
);
CREATE INDEX chain_events_name ON chain_events (name, epoch);

-- STK moving to or from a member's wallet, one row per (event, recipient).
CREATE TABLE member_ledger (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES chain_events (id),
    position      INTEGER NOT NULL,
    member_id     TEXT,
    wallet        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('received', 'sold_back', 'paid_access', 'bought_premium')),
    stk_amount    INTEGER NOT NULL,
    quote_amount  INTEGER,
    epoch         INTEGER,
    signature     TEXT NOT NULL,
    slot          INTEGER NOT NULL,
    observed_at   INTEGER NOT NULL,
    UNIQUE (event_id, position)
);
CREATE INDEX member_ledger_member ON member_ledger (member_id, slot);
CREATE INDEX member_ledger_wallet ON member_ledger (wallet);
