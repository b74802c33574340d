-- Discourse forum sources (issue 12): webhook deliveries (idempotency by X-Discourse-Event-Id),
-- forum users that map to no member (reported, not dropped), deleted posts (a retried or late
-- post_created cannot bring a deleted post back) and the back-fill cursors.

-- One row per webhook delivery that was processed to a final answer (2xx); a retry of the same
-- delivery (same source and X-Discourse-Event-Id) gets the stored answer and changes nothing.
CREATE TABLE discourse_deliveries (
    source       TEXT NOT NULL,
    delivery_id  BIGINT NOT NULL,
    event        TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);

-- Forum users seen in events of a source whose username / user id the configuration maps to no
-- member. Listed by `stk-indexer sources discourse unknown-users`.
CREATE TABLE discourse_unknown_users (
    source         TEXT NOT NULL,
    username       TEXT NOT NULL,
    user_id        BIGINT,
    events         BIGINT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (source, username)
);

-- Activities withdrawn because their forum item was deleted, edited out of the mapping or its
-- solution unaccepted: the id may not be ingested again (unless the item is recovered).
CREATE TABLE discourse_withdrawn (
    activity_id   TEXT PRIMARY KEY NOT NULL,
    source        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    withdrawn_at  BIGINT NOT NULL
);

-- Back-fill progress per source, forum and stream (`posts`, `likes:<username>`, ...).
CREATE TABLE discourse_backfill (
    source      TEXT NOT NULL,
    forum       TEXT NOT NULL,
    stream      TEXT NOT NULL,
    cursor      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (source, forum, stream)
);
