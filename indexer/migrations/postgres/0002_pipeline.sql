-- Epoch pipeline (DESIGN.md §4): the allocation tree of each scored epoch, its chunks and their
-- payment, the address lookup tables that carry the recipients.
ALTER TABLE epochs ADD COLUMN root TEXT;
ALTER TABLE epochs ADD COLUMN chunk_count BIGINT;
ALTER TABLE epochs ADD COLUMN recipient_count BIGINT;
ALTER TABLE epochs ADD COLUMN attest_signature TEXT;
ALTER TABLE epochs ADD COLUMN finalized_at BIGINT;
ALTER TABLE epochs ADD COLUMN done_at BIGINT;
ALTER TABLE epochs ADD COLUMN updated_at BIGINT;

-- Who is paid for an epoch, frozen at scoring time (a later wallet change does not move it).
CREATE TABLE epoch_recipients (
    epoch          BIGINT NOT NULL,
    member_id      TEXT NOT NULL REFERENCES members (id),
    wallet         TEXT NOT NULL,
    token_account  TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    chunk_index    BIGINT NOT NULL,
    PRIMARY KEY (epoch, member_id)
);
CREATE INDEX epoch_recipients_account ON epoch_recipients (token_account, epoch);

CREATE TABLE epoch_chunks (
    epoch         BIGINT NOT NULL,
    chunk_index   BIGINT NOT NULL,
    recipients    BIGINT NOT NULL,
    amount        BIGINT NOT NULL,
    lookup_table  TEXT,
    signature     TEXT,
    paid_at       BIGINT,
    PRIMARY KEY (epoch, chunk_index)
);

CREATE TABLE lookup_tables (
    address         TEXT PRIMARY KEY NOT NULL,
    epoch           BIGINT NOT NULL,
    first_chunk     BIGINT NOT NULL,
    last_chunk      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    deactivated_at  BIGINT,
    closed_at       BIGINT
);
