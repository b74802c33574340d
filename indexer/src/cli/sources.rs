//! `stk-indexer sources discourse backfill|unknown-users`: the forum as an activity source.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;
use crate::discourse::{backfill, Forum, Secret};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum SourcesAction {
    /// A Discourse forum (`[sources.<name>.forum]` in the rules, `[discourse.sources.<name>]`).
    Discourse {
        #[command(subcommand)]
        action: DiscourseAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscourseAction {
    /// Read the forum's JSON API (posts, likes and solutions of mapped users) since DATE and map
    /// it as the webhook would; resumable.
    Backfill {
        /// The rules / configuration source name.
        #[arg(long, default_value = "discourse")]
        source: String,
        /// The forum's base URL, e.g. https://forum.example.org
        #[arg(long)]
        url: String,
        /// An admin API key of the forum (read-only suffices).
        #[arg(long, env = "STK_DISCOURSE_API_KEY", hide_env_values = true)]
        api_key: String,
        /// The user the API key acts as (e.g. system).
        #[arg(long, default_value = "system")]
        api_username: String,
        /// RFC 3339 date-time or YYYY-MM-DD (UTC): items created before it are not read.
        #[arg(long)]
        since: String,
        /// Continue from the cursors saved by an earlier run.
        #[arg(long)]
        resume: bool,
    },
    /// Forum users seen in events that map to no member (add them to the configuration).
    UnknownUsers {
        #[arg(long, default_value = "discourse")]
        source: String,
        /// Start after this username (the previous page's last).
        #[arg(long, default_value = "")]
        after: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// `YYYY-MM-DD` or RFC 3339.
pub fn parse_since(s: &str) -> anyhow::Result<i64> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    crate::ingest::parse_timestamp(&full)
        .with_context(|| format!("--since {s:?}: use YYYY-MM-DD or an RFC 3339 date-time"))
}

pub(super) async fn run(cfg: &Config, action: SourcesAction) -> anyhow::Result<()> {
    let SourcesAction::Discourse { action } = action;
    let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
    let store = super::connect(cfg).await?;
    let r = discourse(&store, cfg, &rules, action).await;
    store.close().await;
    r
}

async fn discourse(
    store: &Store,
    cfg: &Config,
    rules: &stk_scoring::RuleSet,
    action: DiscourseAction,
) -> anyhow::Result<()> {
    match action {
        DiscourseAction::Backfill {
            source,
            url,
            api_key,
            api_username,
            since,
            resume,
        } => {
            let forum = Forum::new(cfg, rules, &source)?;
            let opts = backfill::Options {
                url,
                api_key: Secret::new(api_key),
                api_username,
                since: parse_since(&since)?,
                resume,
                backoff_base: Duration::from_secs(1),
            };
            if let Some(r2) = rules.v2() {
                let window = r2.calendar.ingest_window_secs as i64;
                if opts.since < crate::store::now_unix() - window {
                    eprintln!(
                        "note: the rules' ingest window is {window}s: older forum items will be \
                         refused (outside_window)"
                    );
                }
            }
            let summary = backfill_with_progress(store, cfg, &forum, &opts).await?;
            println!(
                "back-fill of {source}: {} pages, {} items, {} rate-limit waits, {} retries",
                summary.pages, summary.items, summary.rate_limited, summary.retried
            );
            for (status, n) in &summary.by_status {
                println!("  {status}: {n}");
            }
            for (reason, n) in &summary.rejected {
                println!("  rejected {reason}: {n}");
            }
            Ok(())
        }
        DiscourseAction::UnknownUsers {
            source,
            after,
            limit,
        } => {
            let rows = store.unknown_forum_users(&source, &after, limit).await?;
            for r in &rows {
                println!(
                    "{}\tuser_id={}\tevents={}\tlast_seen={}",
                    r.username,
                    r.user_id.map_or("-".to_owned(), |i| i.to_string()),
                    r.events,
                    crate::wallet::rfc3339(r.last_seen_at)
                );
            }
            if rows.len() as u32 == limit.clamp(1, crate::store::discourse::MAX_UNKNOWN_PAGE) {
                if let Some(last) = rows.last() {
                    eprintln!("more: --after {:?}", last.username);
                }
            }
            Ok(())
        }
    }
}

/// Runs the back-fill with a progress bar on stderr (hidden when stderr is not a terminal).
pub async fn backfill_with_progress(
    store: &Store,
    cfg: &Config,
    forum: &Forum<'_>,
    opts: &backfill::Options,
) -> anyhow::Result<backfill::Summary> {
    let bar = ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} forum items [{elapsed}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let r = backfill::run(store, cfg, forum, opts, &bar).await;
    bar.finish_and_clear();
    r
}
