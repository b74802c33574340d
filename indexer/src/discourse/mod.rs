//! The community's Discourse forum as an *observed* activity source (issue 12).
//!
//! * [`verify_signature`]: `X-Discourse-Event-Signature` is `sha256=` + hex HMAC-SHA256 of the raw
//!   body with the source's secret, checked in constant time.
//! * [`Forum`]: the rules' `[sources.<name>.forum]` mapping plus the configured user map, applied
//!   to webhook events and back-filled items alike. Activities go through
//!   [`crate::ingest::ingest_batch`] (the one insert path: rules window, epoch checks, idempotency);
//!   a like is the liker's source-authenticated confirmation (`auth = "source:<name>"`) of the liked
//!   post's activity; a deleted post (or unaccepted solution) is withdrawn while its epoch is open.
//!
//! Activity ids: `discourse:<source>:topic:<topic_id>` (a topic, i.e. its first post),
//! `discourse:<source>:post:<post_id>` (a reply), `discourse:<source>:solution:<post_id>`;
//! confirmation ids `discourse:<source>:like:<post_id>:<liker user id or username>`.

pub mod backfill;
pub mod config;
mod wire;

use serde::{Deserialize, Serialize};
use stk_scoring::{ForumMap, ForumRule, RuleSet};
use utoipa::ToSchema;

pub use config::{DiscourseConfig, DiscourseSource, Secret};
pub use wire::*;

use crate::config::Config;
use crate::ingest::{self, EventIn, Intake, ItemStatus, RejectReason, Reporter};
use crate::store::discourse::Withdrawal;
use crate::store::{ConfirmVerdict, NewConfirmation, Store, StoreResult};

/// What became of one forum event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored as an activity.
    Accepted,
    /// Already stored (a retry or a second event about the same item).
    Duplicate,
    /// Stored as a confirmation (a like).
    Confirmed,
    /// The forum item stopped counting: its activity was removed from its open epoch.
    Withdrawn,
    /// The forum item stopped counting but its epoch is closed: the activity stays as scored.
    Kept,
    /// Counts for nothing under the rules' mapping (category, post type, event not mapped...).
    Ignored,
    /// Refused: see `reason` (outside_window, unknown_user, unknown_member, frozen_epoch...).
    Rejected,
    /// Answer to Discourse's ping.
    Pong,
}

/// The answer to one forum event (the webhook's response body; one line of a back-fill report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Machine-readable reason of a rejection (`RejectReason` codes, `unknown_user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Outcome {
    fn status(status: Status, detail: impl Into<String>) -> Self {
        Self {
            status,
            activity: None,
            kind: None,
            member: None,
            epoch: None,
            reason: None,
            detail: Some(detail.into()),
        }
    }
    fn ignored(detail: impl Into<String>) -> Self {
        Self::status(Status::Ignored, detail)
    }
    fn rejected(reason: &str, detail: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.to_owned()),
            ..Self::status(Status::Rejected, detail)
        }
    }
    fn on(mut self, activity: &str) -> Self {
        self.activity = Some(activity.to_owned());
        self
    }
    /// Whether this is a final answer (stored as the delivery's outcome; 2xx) or a refusal that
    /// a retry may overcome (4xx: Discourse retries and shows it as failed).
    pub fn is_final(&self) -> bool {
        self.status != Status::Rejected
    }
}

/// Why a forum source cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ForumError {
    #[error("no Discourse source {0:?} is configured ([discourse.sources.{0}])")]
    NotConfigured(String),
    #[error(
        "the rules define no forum mapping for source {0:?} ([sources.{0}.forum], rules format 2)"
    )]
    NoMapping(String),
}

/// A forum source: the rules' mapping and the configured user map.
pub struct Forum<'a> {
    pub name: &'a str,
    pub rule: &'a ForumRule,
    pub source: &'a DiscourseSource,
    pub rules: &'a RuleSet,
    reporter: Reporter,
}

/// Which mapping entry an item falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Topic,
    Reply,
    Solution,
}

/// A forum item reduced to what the mapping needs.
struct Item<'p> {
    entry: Entry,
    /// Topic id for a topic, post id otherwise.
    item_id: i64,
    category: Option<i64>,
    username: &'p str,
    user_id: Option<i64>,
    occurred_at: String,
    /// Private message, whisper, moderator action: never counts.
    excluded: Option<&'static str>,
    /// Deleted or hidden: stops counting.
    gone: bool,
    /// Kept with the activity (timelines, receipts): where on the forum it happened.
    topic_id: i64,
    post_id: Option<i64>,
}

impl<'a> Forum<'a> {
    pub fn new(cfg: &'a Config, rules: &'a RuleSet, name: &'a str) -> Result<Self, ForumError> {
        let source = cfg
            .discourse
            .sources
            .get(name)
            .ok_or_else(|| ForumError::NotConfigured(name.to_owned()))?;
        let rule = rules
            .v2()
            .and_then(|r| r.sources.get(name))
            .and_then(|s| s.forum.as_ref())
            .ok_or_else(|| ForumError::NoMapping(name.to_owned()))?;
        let reporter = Reporter::for_source(rules, Some(name))
            .map_err(|_| ForumError::NoMapping(name.into()))?;
        Ok(Self {
            name,
            rule,
            source,
            rules,
            reporter,
        })
    }

    fn entry_rule(&self, e: Entry) -> Option<&'a ForumMap> {
        match e {
            Entry::Topic => self.rule.topic.as_ref(),
            Entry::Reply => self.rule.reply.as_ref(),
            Entry::Solution => self.rule.solution.as_ref(),
        }
    }

    fn activity_id(&self, e: Entry, item_id: i64) -> String {
        let what = match e {
            Entry::Topic => "topic",
            Entry::Reply => "post",
            Entry::Solution => "solution",
        };
        format!("discourse:{}:{what}:{item_id}", self.name)
    }

    /// The activity id of a post (its topic's for a first post).
    pub fn post_activity_id(&self, p: &Post) -> String {
        if p.post_number <= 1 {
            self.activity_id(Entry::Topic, p.topic_id)
        } else {
            self.activity_id(Entry::Reply, p.id)
        }
    }

    fn post_item<'p>(&self, p: &'p Post, entry: Option<Entry>) -> Item<'p> {
        let entry = entry.unwrap_or(if p.post_number <= 1 {
            Entry::Topic
        } else {
            Entry::Reply
        });
        let excluded = if p.topic_archetype.as_deref() == Some("private_message") {
            Some("a private message never counts")
        } else if p.post_type.is_some_and(|t| t != 1) {
            Some("only regular posts count (not whispers or moderator actions)")
        } else {
            None
        };
        Item {
            entry,
            item_id: if entry == Entry::Topic {
                p.topic_id
            } else {
                p.id
            },
            category: p.category_id,
            username: &p.username,
            user_id: p.user_id,
            occurred_at: p.created_at.clone(),
            excluded,
            gone: p.deleted_at.is_some() || p.user_deleted == Some(true) || p.hidden == Some(true),
            topic_id: p.topic_id,
            post_id: Some(p.id),
        }
    }

    fn topic_item<'p>(&self, t: &'p Topic) -> Item<'p> {
        let (username, user_id) = match &t.created_by {
            Some(u) => (u.username.as_str(), u.id.or(t.user_id)),
            None => ("", t.user_id),
        };
        Item {
            entry: Entry::Topic,
            item_id: t.id,
            category: t.category_id,
            username,
            user_id,
            occurred_at: t.created_at.clone(),
            excluded: (t.archetype.as_deref() == Some("private_message"))
                .then_some("a private message never counts"),
            gone: t.deleted_at.is_some(),
            topic_id: t.id,
            post_id: None,
        }
    }

    /// The member of a forum user, or the rejection (the user is recorded as unknown).
    async fn member(
        &self,
        store: &Store,
        username: &str,
        user_id: Option<i64>,
    ) -> StoreResult<Result<String, Outcome>> {
        if let Some(m) = self.source.member_of(username, user_id) {
            return Ok(Ok(m.to_owned()));
        }
        let name = if username.is_empty() {
            format!("#{}", user_id.unwrap_or(0))
        } else {
            username.chars().take(64).collect()
        };
        store
            .note_unknown_forum_user(self.name, &name, user_id)
            .await?;
        Ok(Err(Outcome::rejected(
            "unknown_user",
            format!(
                "forum user {name:?} maps to no member: add it to discourse.sources.{}.users \
                 (or user_ids)",
                self.name
            ),
        )))
    }

    /// Counts an item if the mapping says so (stores its activity), withdraws it if it stopped
    /// counting. `occurred_at` overrides the item's own time (accepted solutions: acceptance time).
    async fn reconcile(
        &self,
        store: &Store,
        cfg: &Config,
        item: Item<'_>,
        recovered: bool,
    ) -> StoreResult<Outcome> {
        let id = self.activity_id(item.entry, item.item_id);
        let counts = match (self.entry_rule(item.entry), item.excluded) {
            (_, Some(why)) => Err(why.to_owned()),
            (None, _) => Err(format!("the rules map no {:?} of this forum", item.entry)),
            (Some(r), None) if !r.counts_in(item.category.and_then(|c| u64::try_from(c).ok())) => {
                Err(format!(
                    "category {} is not one the rules count for this",
                    item.category.map_or("none".to_owned(), |c| c.to_string())
                ))
            }
            (Some(_), None) if item.gone => Err("deleted or hidden".to_owned()),
            (Some(r), None) => Ok(r),
        };
        let rule = match counts {
            Ok(r) => r,
            Err(why) => {
                // Stopped counting (edited out of the categories, hidden, deleted)?
                if store.event_brief(&id).await?.is_some() {
                    return self.withdraw(store, &id, &why).await;
                }
                return Ok(Outcome::ignored(why).on(&id));
            }
        };
        if recovered {
            store.unwithdraw(&id).await?;
        } else if store.is_withdrawn(&id).await? {
            return Ok(Outcome::ignored(
                "this forum item was deleted or unaccepted: it does not count again",
            )
            .on(&id));
        }
        let member = match self.member(store, item.username, item.user_id).await? {
            Ok(m) => m,
            Err(o) => return Ok(o.on(&id)),
        };
        let mut attributes = serde_json::Map::new();
        attributes.insert("topic_id".into(), item.topic_id.into());
        if let Some(p) = item.post_id {
            attributes.insert("post_id".into(), p.into());
        }
        if let Some(c) = item.category {
            attributes.insert("category_id".into(), c.into());
        }
        let ev = EventIn {
            id,
            member,
            kind: rule.kind.clone(),
            occurred_at: item.occurred_at,
            attributes: Some(attributes),
            confirmations: Vec::new(),
            signature: None,
        };
        self.ingest(store, cfg, ev).await
    }

    /// Stores one activity through [`ingest::ingest_batch`] (the one insert path).
    async fn ingest(&self, store: &Store, cfg: &Config, ev: EventIn) -> StoreResult<Outcome> {
        let intake = Intake {
            rules: self.rules,
            reporter: self.reporter.clone(),
        };
        let r = ingest::ingest_batch(store, cfg, &intake, std::slice::from_ref(&ev))
            .await?
            .pop()
            .expect("one result per event");
        let epoch = ingest::parse_timestamp(&ev.occurred_at).and_then(|t| cfg.epoch_of(t));
        let mut o = match r.status {
            ItemStatus::Accepted => Outcome::status(Status::Accepted, "counted"),
            ItemStatus::Duplicate => Outcome::status(Status::Duplicate, "already stored"),
            ItemStatus::Rejected => Outcome::rejected(
                r.reason.map_or("rejected", RejectReason::as_str),
                r.detail.unwrap_or_default(),
            ),
        };
        o.activity = Some(ev.id);
        o.kind = Some(ev.kind);
        o.member = Some(ev.member);
        o.epoch = epoch;
        Ok(o)
    }

    async fn withdraw(&self, store: &Store, id: &str, why: &str) -> StoreResult<Outcome> {
        Ok(match store.withdraw_activity(id, self.name, why).await? {
            Withdrawal::Withdrawn { epoch } => Outcome {
                epoch: Some(epoch),
                ..Outcome::status(
                    Status::Withdrawn,
                    format!("{why}: removed from open epoch {epoch}"),
                )
            },
            Withdrawal::NotStored => Outcome::status(
                Status::Ignored,
                format!("{why}: it was not counted; it will not count later"),
            ),
            Withdrawal::Kept { epoch, state } => Outcome {
                epoch: Some(epoch),
                ..Outcome::status(
                    Status::Kept,
                    format!("{why}, but epoch {epoch} is {state}: it stays as scored"),
                )
            },
        }
        .on(id))
    }

    /// A post seen by the back-fill (or created/recovered/edited).
    pub async fn post(
        &self,
        store: &Store,
        cfg: &Config,
        p: &Post,
        recovered: bool,
    ) -> StoreResult<Outcome> {
        self.reconcile(store, cfg, self.post_item(p, None), recovered)
            .await
    }

    /// A like of `post` by `liker`: the liker's confirmation of the post's activity, confirmed at
    /// `liked_at` when the forum says when (back-fill; never later than now), else now (webhooks:
    /// Discourse's like payload carries no time). Scoring counts a confirmation in the epoch of
    /// its event only when it was given within that epoch.
    pub async fn like(
        &self,
        store: &Store,
        cfg: &Config,
        post: &Post,
        liker: &ForumUser,
        liked_at: Option<i64>,
    ) -> StoreResult<Outcome> {
        if !self.rule.likes_confirm {
            return Ok(Outcome::ignored(
                "the rules do not count likes (likes_confirm)",
            ));
        }
        let id = self.post_activity_id(post);
        let Some(event) = store.event_brief(&id).await? else {
            return Ok(Outcome::ignored("the liked post is not a counted activity").on(&id));
        };
        let confirmer = match self.member(store, &liker.username, liker.id).await? {
            Ok(m) => m,
            Err(o) => return Ok(o.on(&id)),
        };
        if confirmer == event.member {
            return Ok(
                Outcome::ignored("a member's like of their own post does not count").on(&id),
            );
        }
        let who = liker
            .id
            .map_or_else(|| liker.username.to_lowercase(), |i| i.to_string());
        let conf_id = format!("discourse:{}:like:{}:{who}", self.name, post.id);
        if crate::ingest::check_id(&conf_id).is_err() {
            return Ok(Outcome::rejected("invalid_id", "the like's id is not acceptable").on(&id));
        }
        let epoch = event.epoch;
        let kind = event.kind.clone();
        let claimant = event.member.clone();
        let record = NewConfirmation {
            id: conf_id,
            confirmer: confirmer.clone(),
            event,
            auth: format!("source:{}", self.name),
            wallet: None,
            message: None,
            signature: None,
            confirmed_at: liked_at
                .map_or_else(crate::store::now_unix, |t| t.min(crate::store::now_unix())),
        };
        let mut o = match store
            .record_confirmation(&record, crate::epoch::template(cfg))
            .await?
        {
            ConfirmVerdict::Recorded => Outcome::status(
                Status::Confirmed,
                format!("{confirmer} confirms {claimant}'s {kind}"),
            ),
            ConfirmVerdict::Duplicate | ConfirmVerdict::Conflict => {
                Outcome::status(Status::Duplicate, "this member already confirmed this post")
            }
            ConfirmVerdict::UnknownConfirmer => Outcome::rejected(
                "unknown_member",
                format!("member {confirmer:?} does not exist"),
            ),
            ConfirmVerdict::FrozenEpoch { epoch, state } => Outcome::rejected(
                "frozen_epoch",
                format!("epoch {epoch} is {state} and takes no more records"),
            ),
        };
        o.activity = Some(id);
        o.kind = Some(kind);
        o.member = Some(confirmer);
        o.epoch = Some(epoch);
        Ok(o)
    }

    /// An accepted solution: the answer's author gets the mapped kind at `accepted_at`.
    pub async fn solution(
        &self,
        store: &Store,
        cfg: &Config,
        post: &Post,
        accepted_at: &str,
    ) -> StoreResult<Outcome> {
        let mut item = self.post_item(post, Some(Entry::Solution));
        item.occurred_at = accepted_at.to_owned();
        // Accepting again after an unaccept counts again.
        self.reconcile(store, cfg, item, true).await
    }

    /// Handles one webhook event (`X-Discourse-Event`) with its parsed JSON body.
    pub async fn webhook(
        &self,
        store: &Store,
        cfg: &Config,
        event: &str,
        body: &serde_json::Value,
    ) -> StoreResult<Result<Outcome, String>> {
        fn part<T: serde::de::DeserializeOwned>(
            body: &serde_json::Value,
            key: &str,
        ) -> Result<T, String> {
            let v = body
                .get(key)
                .ok_or_else(|| format!("the body has no {key:?} object"))?;
            T::deserialize(v).map_err(|e| format!("{key}: {e}"))
        }
        let now = crate::wallet::rfc3339(crate::store::now_unix());
        let o = match event {
            "ping" => Outcome::status(Status::Pong, "pong"),
            "post_created" | "post_recovered" | "post_edited" => {
                let p: Post = match part(body, "post") {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                self.post(store, cfg, &p, event == "post_recovered").await?
            }
            "post_destroyed" => {
                let p: Post = match part(body, "post") {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                if p.deleted_at.is_none() && p.user_deleted != Some(true) {
                    return Ok(Err(MISMATCH.into()));
                }
                // A deleted answer is no solution either.
                let sol = self.activity_id(Entry::Solution, p.id);
                if store.event_brief(&sol).await?.is_some() {
                    self.withdraw(store, &sol, "the post was deleted").await?;
                }
                self.withdraw(store, &self.post_activity_id(&p), "the post was deleted")
                    .await?
            }
            "topic_created" | "topic_recovered" | "topic_edited" => {
                let t: Topic = match part(body, "topic") {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(e)),
                };
                let item = self.topic_item(&t);
                self.reconcile(store, cfg, item, event == "topic_recovered")
                    .await?
            }
            "topic_destroyed" => {
                let t: Topic = match part(body, "topic") {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(e)),
                };
                if t.deleted_at.is_none() {
                    return Ok(Err(MISMATCH.into()));
                }
                self.withdraw(
                    store,
                    &self.activity_id(Entry::Topic, t.id),
                    "the topic was deleted",
                )
                .await?
            }
            "post_liked" => {
                let l: Like = match part(body, "like") {
                    Ok(l) => l,
                    Err(e) => return Ok(Err(e)),
                };
                self.like(store, cfg, &l.post, &l.user, None).await?
            }
            "accepted_solution" => {
                let p: Post = match part(body, "solved") {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                if p.accepted_answer == Some(false) {
                    return Ok(Err(MISMATCH.into()));
                }
                self.solution(store, cfg, &p, &now).await?
            }
            "unaccepted_solution" => {
                let p: Post = match part(body, "solved") {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                if p.accepted_answer == Some(true) {
                    return Ok(Err(MISMATCH.into()));
                }
                self.withdraw(
                    store,
                    &self.activity_id(Entry::Solution, p.id),
                    "the solution was unaccepted",
                )
                .await?
            }
            other => Outcome::ignored(format!("event {other:?} is not used by the forum mapping")),
        };
        Ok(Ok(o))
    }
}
