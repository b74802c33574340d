//! Back-fill from the forum's JSON API, through the same mapping as the webhook:
//!
//! * `GET /posts.json[?before=ID]`: the latest posts, newest first, `before` pages down by post id;
//! * per mapped username, `GET /user_actions.json?username=U&filter=1&offset=N` (likes U gave) and,
//!   with a solution mapping, `filter=15` (U's accepted solutions, discourse-solved).
//!
//! Every stream stops at `--since`; its cursor is saved after each page (`--resume` continues from
//! it). A 429 waits `Retry-After` seconds (or the body's `extras.wait_seconds`); a 5xx or network
//! error is retried with exponential backoff. The rules' ingest window still applies: items older
//! than it are refused (`outside_window`), as they would be from the webhook.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use serde::Deserialize;

use super::{Forum, ForumUser, Outcome, Post, Secret};
use crate::config::Config;
use crate::store::Store;

/// Largest JSON page read from the forum.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Longest wait honoured for one 429.
pub const MAX_RETRY_AFTER_SECS: u64 = 300;
const MAX_ATTEMPTS: u32 = 8;
/// Discourse's user action types.
const ACTION_LIKE: u32 = 1;
const ACTION_SOLVED: u32 = 15;

/// What to back-fill from where.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of the forum, e.g. `https://forum.example.org`.
    pub url: String,
    pub api_key: Secret,
    pub api_username: String,
    /// Unix seconds: items created before this are not read.
    pub since: i64,
    pub resume: bool,
    /// Upper bound of the first backoff after a 5xx or network error.
    pub backoff_base: Duration,
}

/// Counts of a back-fill run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub pages: u64,
    pub items: u64,
    /// Outcomes by status (`accepted`, `duplicate`, `confirmed`, `ignored`, `rejected`, ...).
    pub by_status: BTreeMap<String, u64>,
    /// Rejections by reason (`outside_window`, `unknown_user`, ...).
    pub rejected: BTreeMap<String, u64>,
    /// 429 answers waited out.
    pub rate_limited: u64,
    /// 5xx / network errors retried.
    pub retried: u64,
}

impl Summary {
    fn count(&mut self, o: &Outcome) {
        let s = serde_json::to_value(o.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *self.by_status.entry(s).or_default() += 1;
        if let Some(r) = &o.reason {
            *self.rejected.entry(r.clone()).or_default() += 1;
        }
        self.items += 1;
    }
}

#[derive(Deserialize)]
struct PostsPage {
    #[serde(default)]
    latest_posts: Vec<Post>,
}

#[derive(Deserialize)]
struct ActionsPage {
    #[serde(default)]
    user_actions: Vec<UserAction>,
}

/// One `/user_actions.json` item: `username`/`user_id` are the post's author.
#[derive(Deserialize)]
struct UserAction {
    #[serde(default)]
    action_type: u32,
    created_at: String,
    post_id: i64,
    #[serde(default)]
    post_number: i64,
    topic_id: i64,
    #[serde(default)]
    username: String,
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    category_id: Option<i64>,
    #[serde(default)]
    post_type: Option<i64>,
    #[serde(default)]
    deleted: Option<bool>,
    #[serde(default)]
    hidden: Option<bool>,
}

impl UserAction {
    fn post(&self) -> Post {
        Post {
            id: self.post_id,
            username: self.username.clone(),
            user_id: self.user_id,
            created_at: self.created_at.clone(),
            post_number: self.post_number.max(1),
            post_type: self.post_type,
            topic_id: self.topic_id,
            category_id: self.category_id,
            topic_archetype: None,
            deleted_at: self.deleted.filter(|&d| d).map(|_| "deleted".to_owned()),
            user_deleted: None,
            hidden: self.hidden,
            accepted_answer: None,
        }
    }
}

/// The forum's HTTP API with rate-limit handling.
struct Api<'o> {
    http: reqwest::Client,
    opts: &'o Options,
}

impl Api<'_> {
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
        summary: &mut Summary,
        bar: &ProgressBar,
    ) -> anyhow::Result<T> {
        let url = format!("{}{}", self.opts.url.trim_end_matches('/'), path_and_query);
        let mut backoff = self.opts.backoff_base;
        for attempt in 1..=MAX_ATTEMPTS {
            let sent = self
                .http
                .get(&url)
                .header(
                    "Api-Key",
                    String::from_utf8_lossy(self.opts.api_key.expose()).as_ref(),
                )
                .header("Api-Username", &self.opts.api_username)
                .header("Accept", "application/json")
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if attempt < MAX_ATTEMPTS => {
                    summary.retried += 1;
                    bar.set_message(format!("network error ({e}); retrying in {backoff:?}"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("GET {path_and_query}")),
            };
            let status = resp.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let header = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let body = read_capped(resp).await.unwrap_or_default();
                let from_body = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.pointer("/extras/wait_seconds").and_then(|w| w.as_u64()));
                let wait = header
                    .or(from_body)
                    .unwrap_or(backoff.as_secs().max(1))
                    .clamp(1, MAX_RETRY_AFTER_SECS);
                summary.rate_limited += 1;
                bar.set_message(format!("rate limited by the forum: waiting {wait}s"));
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            if status.is_server_error() && attempt < MAX_ATTEMPTS {
                summary.retried += 1;
                bar.set_message(format!("forum answered {status}; retrying in {backoff:?}"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
            if !status.is_success() {
                bail!("GET {path_and_query}: the forum answered {status} (check --url, --api-key and --api-username)");
            }
            let body = read_capped(resp).await?;
            summary.pages += 1;
            return serde_json::from_slice(&body)
                .with_context(|| format!("GET {path_and_query}: not the expected JSON"));
        }
        bail!("GET {path_and_query}: still failing after {MAX_ATTEMPTS} attempts")
    }
}

/// Reads a response body, refusing more than [`MAX_PAGE_BYTES`].
async fn read_capped(mut resp: reqwest::Response) -> anyhow::Result<Vec<u8>> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_PAGE_BYTES as u64)
    {
        bail!("the forum's page exceeds {MAX_PAGE_BYTES} bytes");
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > MAX_PAGE_BYTES {
            bail!("the forum's page exceeds {MAX_PAGE_BYTES} bytes");
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn before_since(created_at: &str, since: i64) -> bool {
    crate::ingest::parse_timestamp(created_at).is_some_and(|t| t < since)
}

const DONE: &str = "done";

/// Runs the back-fill of `forum` (every stream; see the module docs).
pub async fn run(
    store: &Store,
    cfg: &Config,
    forum: &Forum<'_>,
    opts: &Options,
    bar: &ProgressBar,
) -> anyhow::Result<Summary> {
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("HTTP client")?,
        opts,
    };
    let host = opts.url.trim_end_matches('/').to_owned();
    let mut s = Summary::default();

    // Posts, newest first, down to --since.
    let stream = "posts";
    let mut before = match store.discourse_cursor(forum.name, &host, stream).await? {
        Some(c) if opts.resume => Some(c),
        _ => None,
    };
    if before.as_deref() != Some(DONE) {
        loop {
            let path = match &before {
                Some(b) => format!("/posts.json?before={b}"),
                None => "/posts.json".to_owned(),
            };
            bar.set_message(format!("posts {path}"));
            let page: PostsPage = api.get(&path, &mut s, bar).await?;
            let mut lowest = None::<i64>;
            let mut reached_since = page.latest_posts.is_empty();
            for p in &page.latest_posts {
                lowest = Some(lowest.map_or(p.id, |l: i64| l.min(p.id)));
                if before_since(&p.created_at, opts.since) {
                    reached_since = true;
                    continue;
                }
                let o = forum.post(store, cfg, p, false).await?;
                s.count(&o);
                bar.inc(1);
            }
            let next = lowest.map(|l| l.to_string());
            // A page that does not move down is the end too (never loop on a misbehaving forum).
            let stuck = match (&before, lowest) {
                (Some(b), Some(l)) => b.parse::<i64>().is_ok_and(|b| l >= b),
                _ => false,
            };
            if reached_since || stuck || next.is_none() {
                store
                    .set_discourse_cursor(forum.name, &host, stream, DONE)
                    .await?;
                break;
            }
            store
                .set_discourse_cursor(forum.name, &host, stream, next.as_deref().unwrap_or(DONE))
                .await?;
            before = next;
        }
    }

    // Likes given and solutions, per mapped username.
    let mut filters = Vec::new();
    if forum.rule.likes_confirm {
        filters.push(ACTION_LIKE);
    }
    if forum.rule.solution.is_some() {
        filters.push(ACTION_SOLVED);
    }
    for username in forum.source.users.keys() {
        for &filter in &filters {
            let stream = format!("actions:{filter}:{}", username.to_lowercase());
            let mut offset: u64 = match store.discourse_cursor(forum.name, &host, &stream).await? {
                Some(c) if opts.resume && c == DONE => continue,
                Some(c) if opts.resume => c.parse().unwrap_or(0),
                _ => 0,
            };
            loop {
                let path = format!(
                    "/user_actions.json?username={}&filter={filter}&offset={offset}",
                    urlencode(username)
                );
                bar.set_message(format!("user actions {path}"));
                let page: ActionsPage = api.get(&path, &mut s, bar).await?;
                let n = page.user_actions.len() as u64;
                let mut reached_since = n == 0;
                for a in &page.user_actions {
                    if before_since(&a.created_at, opts.since) {
                        reached_since = true;
                        continue;
                    }
                    let o = match (filter, a.action_type) {
                        (ACTION_LIKE, ACTION_LIKE) => {
                            let liker = ForumUser {
                                id: None,
                                username: username.clone(),
                            };
                            let at = crate::ingest::parse_timestamp(&a.created_at);
                            forum.like(store, cfg, &a.post(), &liker, at).await?
                        }
                        (ACTION_SOLVED, ACTION_SOLVED) => {
                            forum.solution(store, cfg, &a.post(), &a.created_at).await?
                        }
                        _ => continue,
                    };
                    s.count(&o);
                    bar.inc(1);
                }
                offset += n;
                let cursor = if reached_since {
                    DONE.to_owned()
                } else {
                    offset.to_string()
                };
                store
                    .set_discourse_cursor(forum.name, &host, &stream, &cursor)
                    .await?;
                if reached_since {
                    break;
                }
            }
        }
    }
    Ok(s)
}

/// Percent-encodes a query value (usernames are [A-Za-z0-9_.-], but never trust a config file).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
