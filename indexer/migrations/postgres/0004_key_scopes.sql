-- API key scopes: a comma-separated subset of ingest, members, wallets, admin (admin implies all).
-- Keys created before scopes existed keep working: they get every scope.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'ingest,members,wallets,admin';
-- Expired wallet challenges are purged by expiry.
CREATE INDEX wallet_challenges_expires ON wallet_challenges (expires_at);
