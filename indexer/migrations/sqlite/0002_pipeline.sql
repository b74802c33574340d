-- Epoch pipeline (DESIGN.md §4): the allocation tree of each scored epoch, its chunks and their
-- payment, the address lookup tables that carry the recipients.
ALTER TABLE epochs ADD COLUMN root TEXT;
ALTER TABLE epochs ADD COLUMN chunk_count INTEGER;
ALTER TABLE epochs ADD COLUMN recipient_count INTEGER;
ALTER TABLE epochs ADD COLUMN attest_signature TEXT;
ALTER TABLE epochs ADD COLUMN finalized_at INTEGER;
ALTER TABLE epochs ADD COLUMN done_at INTEGER;
ALTER TABLE epochs ADD COLUMN updated_at INTEGER;

-- Who is paid for an epoch, frozen at scoring time (a later wallet change does not move it).
CREATE TABLE epoch_recipients (
    epoch          INTEGER NOT NULL,
    member_id      TEXT NOT NULL REFERENCES members (id),
    wallet         TEXT NOT NULL,
    token_account  TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    chunk_index    INTEGER NOT NULL,
    PRIMARY KEY (epoch, member_id)
);
CREATE INDEX epoch_recipients_account ON epoch_recipients (token_account, epoch);

CREATE TABLE epoch_chunks (
    epoch         INTEGER NOT NULL,
    chunk_index   INTEGER NOT NULL,
    recipients    INTEGER NOT NULL,
    amount        INTEGER NOT NULL,
    lookup_table  TEXT,
    signature     TEXT,
    paid_at       INTEGER,
    PRIMARY KEY (epoch, chunk_index)
);

CREATE TABLE lookup_tables (
    address         TEXT PRIMARY KEY NOT NULL,
    epoch           INTEGER NOT NULL,
    first_chunk     INTEGER NOT NULL,
    last_chunk      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    deactivated_at  INTEGER,
    closed_at       INTEGER
);
