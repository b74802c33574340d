//! Activities: batched, idempotent ingestion with the member and epoch checks in one transaction.
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use sqlx::Row;

use super::epochs::{state_of, EpochState, EpochTemplate, INSERT_OPEN_EPOCH};
use super::{begin_write, now_unix, to_i64, to_u64, Store, StoreResult};

/// The largest batch one [`Store::ingest`] call takes (and one SQLite statement inserts).
pub const MAX_BATCH: usize = 1_000;

/// An event that passed the in-memory checks and is ready for the database checks.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub id: String,
    pub member: String,
    pub kind: String,
    pub occurred_at: i64,
    pub epoch: u64,
    /// Serialized JSON object, if any.
    pub attributes: Option<String>,
    /// Confirming members (de-duplicated; unknown or inactive confirmers are ignored by scoring).
    /// Rules v1 only: v2 counts only accountable confirmations (their own records).
    pub confirmations: Vec<String>,
    /// The rules source that delivered it (the API key's source), or `member` for a self-report.
    pub source: String,
    /// The source's ed25519 signature over the canonical event bytes (hex), when it signs.
    pub signature: Option<String>,
}

/// The database's verdict on one `NewActivity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Inserted,
    Duplicate,
    UnknownMember,
    FrozenEpoch { epoch: u64, state: EpochState },
}

/// Completes the verdicts of a batch: each candidate that reached the INSERT is `Inserted` when its id
/// came back from `RETURNING id`, else a `Duplicate` (the row already existed).
fn settle(
    mut verdicts: Vec<Option<Verdict>>,
    todo: &[usize],
    cands: &[NewActivity],
    mut inserted: HashSet<String>,
) -> Vec<Verdict> {
    for &i in todo {
        verdicts[i] = Some(if inserted.remove(&cands[i].id) {
            Verdict::Inserted
        } else {
            Verdict::Duplicate
        });
    }
    verdicts
        .into_iter()
        .map(|v| v.expect("all classified"))
        .collect()
}

/// Keeps `epoch_activity_counts` (served for open epochs instead of counting their activities)
/// in step with the inserts, in the ingestion transaction.
const BUMP_ACTIVITY_COUNT: &str =
    "INSERT INTO epoch_activity_counts (epoch, activities) VALUES ($2, $1) \
     ON CONFLICT (epoch) DO UPDATE SET activities = epoch_activity_counts.activities + excluded.activities";

/// Rows actually inserted per epoch, ascending by epoch (the lock order of the epoch rows).
fn inserted_per_epoch(
    cands: &[NewActivity],
    todo: &[usize],
    inserted: &HashSet<String>,
) -> std::collections::BTreeMap<i64, i64> {
    let mut per = std::collections::BTreeMap::new();
    for &i in todo {
        if inserted.contains(&cands[i].id) {
            *per.entry(cands[i].epoch as i64).or_insert(0) += 1;
        }
    }
    per
}

/// Row counts of the SQLite multi-row insert statements: a full batch is one statement, any other
/// size is covered by at most ten power-of-two chunks, so a handful of prepared statements stay
/// cached per connection.
const SQLITE_CHUNKS: [usize; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, MAX_BATCH];

/// The largest chunk size not above `n` (n >= 1).
fn sqlite_chunk(n: usize) -> usize {
    *SQLITE_CHUNKS
        .iter()
        .rev()
        .find(|&&c| c <= n)
        .expect("1 is a chunk size")
}

/// Multi-row insert statement for SQLite for `rows` rows (one of `SQLITE_CHUNKS`).
fn sqlite_insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        SQLITE_CHUNKS
            .iter()
            .map(|&n| {
                let mut s = String::from(
                    "INSERT INTO activities (id, member_id, kind, occurred_at, epoch, attributes, \
                     confirmations, received_at, source, signature) VALUES ",
                );
                for r in 0..n {
                    if r > 0 {
                        s.push(',');
                    }
                    // Anonymous `?` parameters: SQLite resolves named ones (`$N`) by a linear
                    // scan per bind, which is quadratic for thousands of parameters.
                    s.push_str("(?,?,?,?,?,?,?,?,?,?)");
                }
                s.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
                s
            })
            .collect()
    });
    let i = SQLITE_CHUNKS
        .iter()
        .position(|&c| c == rows)
        .expect("a chunk size");
    &all[i]
}

/// Decides every candidate's fate from the facts read inside the ingestion transaction.
/// `None` means "try to insert".
///
/// A batch may carry the same id more than once: only the first occurrence that passes the
/// member and epoch checks is inserted; a later occurrence is a `Duplicate` only when such an
/// earlier one exists (it is then stored, now or before). An occurrence whose predecessors were all
/// refused gets its own verdict, so a client never takes an event that was not stored for a
/// duplicate.
fn classify(
    cands: &[NewActivity],
    known_members: &HashSet<String>,
    epoch_states: &HashMap<u64, EpochState>,
) -> Vec<Option<Verdict>> {
    let mut passing: HashSet<&str> = HashSet::with_capacity(cands.len());
    cands
        .iter()
        .map(|c| {
            if !known_members.contains(&c.member) {
                return Some(Verdict::UnknownMember);
            }
            match epoch_states.get(&c.epoch) {
                Some(&state) if state != EpochState::Open => Some(Verdict::FrozenEpoch {
                    epoch: c.epoch,
                    state,
                }),
                _ if !passing.insert(c.id.as_str()) => Some(Verdict::Duplicate),
                _ => None,
            }
        })
        .collect()
}

/// Adds the rows a batch inserted to `epoch_activity_counts`, in transaction `$tx`.
macro_rules! bump_activity_counts {
    ($tx:ident, $cands:expr, $todo:expr, $inserted:expr) => {
        for (ep, n) in inserted_per_epoch($cands, $todo, $inserted) {
            sqlx::query(BUMP_ACTIVITY_COUNT)
                .bind(n)
                .bind(ep)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Store {
    /// Checks members, confirmers and epoch states and inserts what passes, all in ONE transaction.
    /// Returns one verdict per candidate, in order. Candidates may repeat an id (see `classify`).
    pub async fn ingest(
        &self,
        cands: &[NewActivity],
        template: EpochTemplate,
    ) -> StoreResult<Vec<Verdict>> {
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_unix();
        let mut names: Vec<&str> = cands.iter().map(|c| c.member.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut epochs: Vec<u64> = cands.iter().map(|c| c.epoch).collect();
        epochs.sort_unstable();
        epochs.dedup();
        let budget = to_i64(template.budget, "budget")?;

        match self {
            Store::Sqlite { writer, .. } => {
                let mut tx = writer.begin_with(begin_write(writer)).await?;
                let names_json = serde_json::to_string(&names).expect("strings serialize");
                let known: HashSet<String> = sqlx::query_scalar::<_, String>(
                    "SELECT id FROM members WHERE id IN (SELECT value FROM json_each($1))",
                )
                .bind(names_json)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
                let mut states = HashMap::new();
                for &e in &epochs {
                    // Creates the epoch row if missing, then reads its state (under the write lock).
                    let ep = open_epoch!(tx, e, template, budget, now);
                    let state: String =
                        sqlx::query_scalar("SELECT state FROM epochs WHERE epoch = $1")
                            .bind(ep)
                            .fetch_one(&mut *tx)
                            .await?;
                    states.insert(e, state_of(e, &state)?);
                }
                let verdicts = classify(cands, &known, &states);
                let todo: Vec<usize> = (0..cands.len())
                    .filter(|&i| verdicts[i].is_none())
                    .collect();
                let mut inserted: HashSet<String> = HashSet::with_capacity(todo.len());
                let mut rest = &todo[..];
                while !rest.is_empty() {
                    let n = sqlite_chunk(rest.len());
                    let (chunk, tail) = rest.split_at(n);
                    rest = tail;
                    let mut q = sqlx::query(sqlite_insert_sql(n));
                    for &i in chunk {
                        let c = &cands[i];
                        q = q
                            .bind(c.id.as_str())
                            .bind(c.member.as_str())
                            .bind(c.kind.as_str())
                            .bind(c.occurred_at)
                            .bind(c.epoch as i64)
                            .bind(c.attributes.as_deref())
                            .bind(
                                serde_json::to_string(&c.confirmations).expect("strings serialize"),
                            )
                            .bind(now)
                            .bind(c.source.as_str())
                            .bind(c.signature.as_deref());
                    }
                    for row in q.fetch_all(&mut *tx).await? {
                        inserted.insert(row.try_get::<String, _>(0)?);
                    }
                }
                bump_activity_counts!(tx, cands, &todo, &inserted);
                tx.commit().await?;
                Ok(settle(verdicts, &todo, cands, inserted))
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin_with(begin_write(pool)).await?;
                let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
                let known: HashSet<String> =
                    sqlx::query_scalar::<_, String>("SELECT id FROM members WHERE id = ANY($1)")
                        .bind(&names)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                let epoch_ids: Vec<i64> = epochs
                    .iter()
                    .map(|&e| to_i64(e, "epoch"))
                    .collect::<StoreResult<_>>()?;
                // In ascending epoch order, so concurrent batches lock epoch rows in the same order.
                for &e in &epochs {
                    open_epoch!(tx, e, template, budget, now);
                }
                // FOR SHARE: a concurrent freeze (UPDATE of the epoch row) waits for this batch to
                // commit, so a frozen epoch's activity set cannot change after the freeze.
                let mut states: HashMap<u64, EpochState> = HashMap::with_capacity(epochs.len());
                for (e, s) in sqlx::query_as::<_, (i64, String)>(
                    "SELECT epoch, state FROM epochs WHERE epoch = ANY($1) ORDER BY epoch FOR SHARE",
                )
                .bind(&epoch_ids)
                .fetch_all(&mut *tx)
                .await?
                {
                    let e = to_u64(e, "epoch")?;
                    states.insert(e, state_of(e, &s)?);
                }
                let verdicts = classify(cands, &known, &states);
                let mut todo: Vec<usize> = (0..cands.len())
                    .filter(|&i| verdicts[i].is_none())
                    .collect();
                // Insert in id order: concurrent batches with overlapping ids then take their row
                // locks in the same order and cannot deadlock.
                todo.sort_unstable_by(|&a, &b| cands[a].id.cmp(&cands[b].id));
                let mut inserted: HashSet<String> = HashSet::with_capacity(todo.len());
                if !todo.is_empty() {
                    let mut ids = Vec::with_capacity(todo.len());
                    let mut members = Vec::with_capacity(todo.len());
                    let mut kinds = Vec::with_capacity(todo.len());
                    let mut ats = Vec::with_capacity(todo.len());
                    let mut eps = Vec::with_capacity(todo.len());
                    let mut attrs: Vec<Option<String>> = Vec::with_capacity(todo.len());
                    let mut confs = Vec::with_capacity(todo.len());
                    let mut sources = Vec::with_capacity(todo.len());
                    let mut sigs: Vec<Option<String>> = Vec::with_capacity(todo.len());
                    for &i in &todo {
                        let c = &cands[i];
                        ids.push(c.id.clone());
                        members.push(c.member.clone());
                        kinds.push(c.kind.clone());
                        ats.push(c.occurred_at);
                        eps.push(c.epoch as i64);
                        attrs.push(c.attributes.clone());
                        confs.push(
                            serde_json::to_string(&c.confirmations).expect("strings serialize"),
                        );
                        sources.push(c.source.clone());
                        sigs.push(c.signature.clone());
                    }
                    let rows = sqlx::query_scalar::<_, String>(
                        "INSERT INTO activities (id, member_id, kind, occurred_at, epoch, attributes, \
                         confirmations, received_at, source, signature) \
                         SELECT u.i, u.m, u.k, u.o, u.e, u.a, u.c, $8, u.s, u.g \
                         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], \
                         $5::bigint[], $6::text[], $7::text[], $9::text[], $10::text[]) \
                         AS u(i, m, k, o, e, a, c, s, g) \
                         ON CONFLICT (id) DO NOTHING RETURNING id",
                    )
                    .bind(&ids)
                    .bind(&members)
                    .bind(&kinds)
                    .bind(&ats)
                    .bind(&eps)
                    .bind(&attrs)
                    .bind(&confs)
                    .bind(now)
                    .bind(&sources)
                    .bind(&sigs)
                    .fetch_all(&mut *tx)
                    .await?;
                    inserted.extend(rows);
                }
                bump_activity_counts!(tx, cands, &todo, &inserted);
                tx.commit().await?;
                Ok(settle(verdicts, &todo, cands, inserted))
            }
        }
    }

    /// Number of stored activities (optionally only ids starting with `prefix`).
    pub async fn count_activities(&self, prefix: Option<&str>) -> StoreResult<u64> {
        let n: i64 = match prefix {
            None => read_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM activities")
                .fetch_one(p)
                .await?),
            Some(prefix) => read_pool!(self, p => sqlx::query_scalar(
                "SELECT COUNT(*) FROM activities WHERE substr(id, 1, CAST($1 AS INTEGER)) = $2",
            )
            .bind(prefix.chars().count() as i64)
            .bind(prefix)
            .fetch_one(p)
            .await?),
        };
        to_u64(n, "count")
    }

    /// Whether an activity with this id is stored.
    pub async fn activity_exists(&self, id: &str) -> StoreResult<bool> {
        let n: i64 = read_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM activities WHERE id = $1",
        )
        .bind(id)
        .fetch_one(p)
        .await?);
        Ok(n > 0)
    }

    /// A page of a member's activities after `after` in (occurred_at, id) order. Epochs partition
    /// time, so the page is read epoch by epoch, each an index probe on activities (epoch, member_id):
    /// the cost is the page plus one probe per epoch passed, never the member's whole history (and
    /// no index led by member_id slows ingestion).
    pub async fn member_activities_page(
        &self,
        member: &str,
        after: &super::TimelineKey,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, i64, u64)>> {
        let epochs: Vec<i64> = read_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT epoch FROM epochs WHERE ends_at >= $1 ORDER BY epoch",
        )
        .bind(after.at)
        .fetch_all(p)
        .await?);
        let mut out = Vec::new();
        for epoch in epochs {
            let want = limit - out.len() as i64;
            if want <= 0 {
                break;
            }
            let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, i64, i64)>(
                "SELECT id, kind, occurred_at, epoch FROM activities WHERE epoch = $1 AND member_id = $2 \
                 AND (occurred_at > $3 OR (occurred_at = $3 AND ($4 < 0 OR ($4 = 0 AND id > $5)))) \
                 ORDER BY occurred_at, id LIMIT $6",
            )
            .bind(epoch)
            .bind(member)
            .bind(after.at)
            .bind(after.rank)
            .bind(&after.id)
            .bind(want)
            .fetch_all(p)
            .await?);
            for (id, kind, at, epoch) in rows {
                out.push((id, kind, at, to_u64(epoch, "epoch")?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_chunks_cover_any_batch() {
        for n in 1..=MAX_BATCH {
            let (mut left, mut parts) = (n, 0);
            while left > 0 {
                let c = sqlite_chunk(left);
                assert!(c <= left);
                let sql = sqlite_insert_sql(c);
                assert_eq!(sql.matches('?').count(), 10 * c);
                left -= c;
                parts += 1;
            }
            assert!(parts <= 10, "{n} needs {parts} statements");
        }
        assert_eq!(sqlite_chunk(1000), 1000);
    }
}
