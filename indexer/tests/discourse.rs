//! The Discourse forum as an activity source: webhooks as Discourse sends them (signed, replayed,
//! edited, deleted), likes and accepted solutions, the back-fill against a local Discourse-shaped
//! server with rate limits, and an epoch scored from forum activity only.

#![recursion_limit = "256"]
mod common;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::response::IntoResponse;
use common::{now, rfc3339, spawn_app_with_rules, Backend, TestApp, DAY};
use reqwest::StatusCode;
use serde_json::{json, Value};
use stk_indexer::config::Config;
use stk_indexer::discourse::{self, backfill, DiscourseSource, Forum, Secret};

const SECRET: &str = "forum-webhook-secret-0123";
const PATH: &str = "/v1/sources/discourse/discourse";
const PRACTICE: i64 = 5;
const OFF_TOPIC: i64 = 9;

/// rules.v2.toml with the members as masters, a 10-day ingest window and a forum mapping.
fn rules_text() -> String {
    let v2 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/rules.v2.toml"
    ))
    .unwrap();
    let start = v2.find("seeds = [").unwrap();
    let end = start + v2[start..].find(']').unwrap() + 1;
    let mut t = format!(
        "{}seeds = [\"alice\", \"bob\", \"carol\"]{}",
        &v2[..start],
        &v2[end..]
    );
    t = t.replacen(
        "ingest_window_secs = 172_800",
        "ingest_window_secs = 864_000",
        1,
    );
    t.replacen(
        "\n# Kinds.",
        &format!(
            "\n[sources.discourse.forum]\n\
             topic = {{ kind = \"practice_session\", categories = [{PRACTICE}] }}\n\
             reply = {{ kind = \"help_given\" }}\n\
             solution = {{ kind = \"solution_accepted\", categories = [{PRACTICE}] }}\n\
             likes_confirm = true\n\n# Kinds."
        ),
        1,
    )
}

fn source() -> DiscourseSource {
    let mut s = DiscourseSource {
        secret: Some(Secret::new(SECRET)),
        instance: Some("https://forum.example.org".into()),
        ..Default::default()
    };
    for (u, m) in [("Alice", "alice"), ("bob", "bob"), ("carol", "carol")] {
        s.users.insert(u.into(), m.into());
    }
    // Erin renamed herself on the forum: her user id still maps.
    s.user_ids.insert("77".into(), "alice".into());
    s
}

async fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {}).await
}

async fn app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with_rules(backend, &rules_text(), |c| {
        c.discourse.sources.insert("discourse".into(), source());
        c.discourse.max_body_bytes = 16 * 1024;
        adjust(c);
    })
    .await;
    for m in ["alice", "bob", "carol"] {
        app.active_member(m).await;
        app.store
            .set_subscription(m, Some(now() + 60 * DAY))
            .await
            .unwrap();
    }
    app
}

/// A post as Discourse's WebHookPostSerializer writes it (trimmed of presentation fields).
fn post(id: i64, number: i64, topic: i64, user: (&str, i64), category: i64, at: i64) -> Value {
    json!({
        "id": id, "name": user.0, "username": user.0, "avatar_template": "/letter_avatar/x/{size}/1.png",
        "created_at": rfc3339(at), "cooked": "<p>practised scales</p>", "raw": "practised scales",
        "post_number": number, "post_type": 1, "updated_at": rfc3339(at), "reply_count": 0,
        "reply_to_post_number": null, "quote_count": 0, "incoming_link_count": 0, "reads": 1,
        "score": 0.2, "topic_id": topic, "topic_slug": "daily-practice", "topic_title": "Daily practice",
        "category_id": category, "display_username": user.0, "primary_group_name": null,
        "version": 1, "user_title": null, "bookmarked": false, "moderator": false, "admin": false,
        "staff": false, "user_id": user.1, "hidden": false, "trust_level": 1, "deleted_at": null,
        "user_deleted": false, "edit_reason": null, "wiki": false, "reviewable_id": null,
        "reviewable_score_count": 0, "reviewable_score_pending_count": 0,
        "topic_posts_count": number, "topic_filtered_posts_count": number,
        "topic_archetype": "regular", "category_slug": "practice-logs"
    })
}

/// A topic as WebHookTopicViewSerializer writes it (trimmed).
fn topic(id: i64, user: (&str, i64), category: i64, at: i64) -> Value {
    json!({
        "tags": [], "tags_descriptions": {}, "id": id, "title": "Daily practice",
        "fancy_title": "Daily practice", "posts_count": 1, "created_at": rfc3339(at), "views": 0,
        "reply_count": 0, "like_count": 0, "last_posted_at": rfc3339(at), "visible": true,
        "closed": false, "archived": false, "archetype": "regular", "slug": "daily-practice",
        "category_id": category, "word_count": 2, "deleted_at": null, "user_id": user.1,
        "featured_link": null, "pinned_globally": false, "pinned_at": null, "pinned_until": null,
        "unpinned": null, "pinned": false, "highest_post_number": 1, "deleted_by": null,
        "has_deleted": false, "bookmarked": false, "participant_count": 1, "thumbnails": null,
        "created_by": {"id": user.1, "username": user.0, "name": user.0, "avatar_template": "/a.png"},
        "last_poster": {"id": user.1, "username": user.0, "name": user.0, "avatar_template": "/a.png"}
    })
}

/// The body Discourse sends for post_destroyed: the post with `deleted_at` set.
fn deleted(body: &Value) -> Value {
    let mut b = body.clone();
    b["post"]["deleted_at"] = json!(rfc3339(now()));
    b["post"]["deleted_by"] = json!(basic_user("moderator", 1));
    b
}

fn basic_user(name: &str, id: i64) -> Value {
    json!({"id": id, "username": name, "name": name, "avatar_template": "/a.png"})
}

/// Sends a webhook as Discourse does: raw JSON body, its headers, signed with `secret`.
async fn deliver_with(
    app: &TestApp,
    path: &str,
    delivery: i64,
    event: &str,
    body: &Value,
    signature: Option<String>,
) -> common::Resp {
    let kind = match event {
        "ping" => "ping",
        e if e.starts_with("post_liked") => "like",
        e if e.starts_with("post_") => "post",
        e if e.starts_with("topic_") => "topic",
        _ => "solved",
    };
    let raw = serde_json::to_vec(body).unwrap();
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("accept", "*/*")
        .header("user-agent", "Discourse/3.4.0")
        .header("x-discourse-instance", "https://forum.example.org")
        .header("x-discourse-event-id", delivery.to_string())
        .header("x-discourse-event-type", kind)
        .header("x-discourse-event", event);
    if let Some(sig) = signature {
        req = req.header("x-discourse-event-signature", sig);
    }
    let resp = req.body(raw).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    common::Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn deliver(app: &TestApp, delivery: i64, event: &str, body: &Value) -> common::Resp {
    let sig = discourse::sign(SECRET.as_bytes(), &serde_json::to_vec(body).unwrap());
    deliver_with(app, PATH, delivery, event, body, Some(sig)).await
}

fn status_of(r: &common::Resp) -> &str {
    r.body["outcome"]["status"].as_str().unwrap_or("")
}

async fn epoch_events(app: &TestApp, n: u64) -> u64 {
    app.get(&format!("/v1/epochs/{n}")).await.body["events"]
        .as_u64()
        .unwrap_or(0)
}

async fn refused_requests_store_nothing(backend: Backend) {
    let app = app(backend).await;
    let t = now() - 2 * DAY;
    let body = json!({ "post": post(10, 1, 100, ("Alice", 1), PRACTICE, t) });
    let raw = serde_json::to_vec(&body).unwrap();
    let good = discourse::sign(SECRET.as_bytes(), &raw);

    // Unsigned, signed with another secret, signature of another body, malformed.
    let r = deliver_with(&app, PATH, 1, "post_created", &body, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], "missing_signature");
    let other = discourse::sign(b"another-secret-of-length", &raw);
    let r = deliver_with(&app, PATH, 1, "post_created", &body, Some(other)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], "bad_signature");
    let altered = json!({ "post": post(10, 1, 100, ("bob", 2), PRACTICE, t) });
    let r = deliver_with(&app, PATH, 1, "post_created", &altered, Some(good.clone())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = deliver_with(
        &app,
        PATH,
        1,
        "post_created",
        &body,
        Some("sha256=xyz".into()),
    )
    .await;
    assert_eq!(r.body["error"], "bad_signature", "{}", r.text);
    // Unknown source, even correctly signed.
    let r = deliver_with(
        &app,
        "/v1/sources/discourse/nope",
        1,
        "post_created",
        &body,
        Some(good.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.body["error"], "unknown_source");
    // Discourse's other content type.
    let r = app
        .post_raw(
            PATH,
            raw.clone(),
            Some("application/x-www-form-urlencoded"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    // Over the body limit (16 KiB here), signed or not.
    let big =
        json!({ "post": post(10, 1, 100, ("Alice", 1), PRACTICE, t), "pad": "x".repeat(20_000) });
    let r = deliver(&app, 1, "post_created", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // The event type must match the event.
    let r = app
        .client
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .header("x-discourse-event-id", "1")
        .header("x-discourse-event-type", "topic")
        .header("x-discourse-event", "post_created")
        .header("x-discourse-instance", "https://forum.example.org")
        .header("x-discourse-event-signature", good.clone())
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Another forum replaying a captured delivery to this source: wrong instance.
    let r = app
        .client
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .header("x-discourse-event-id", "1")
        .header("x-discourse-event-type", "post")
        .header("x-discourse-event", "post_created")
        .header("x-discourse-instance", "https://evil.example.org")
        .header("x-discourse-event-signature", good.clone())
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.activities_count().await, 0);
    assert_eq!(
        app.store.discourse_delivery("discourse", 1).await.unwrap(),
        None
    );

    // Ping: answered, nothing stored but the delivery.
    let r = deliver(&app, 2, "ping", &json!({"ping": "OK"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status_of(&r), "pong");
    // The same body, correctly signed, is accepted.
    let r = deliver(&app, 1, "post_created", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(app.activities_count().await, 1);
}

async fn posts_topics_replays_edits_and_deletions(backend: Backend) {
    let app = app(backend).await;
    let t = now() - 2 * DAY;
    let epoch = app.config.epoch_of(t).unwrap();

    // A topic in the practice category: topic_created, then its first post's post_created.
    let r = deliver(
        &app,
        11,
        "topic_created",
        &json!({"topic": topic(100, ("Alice", 1), PRACTICE, t)}),
    )
    .await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(
        r.body["outcome"]["activity"],
        "discourse:discourse:topic:100"
    );
    assert_eq!(r.body["outcome"]["kind"], "practice_session");
    assert_eq!(r.body["outcome"]["member"], "alice");
    let first = json!({"post": post(1000, 1, 100, ("Alice", 1), PRACTICE, t)});
    let r = deliver(&app, 12, "post_created", &first).await;
    assert_eq!(status_of(&r), "duplicate", "{}", r.text);
    // Discourse retries delivery 11: the stored answer, nothing changes.
    let r = deliver(
        &app,
        11,
        "topic_created",
        &json!({"topic": topic(100, ("Alice", 1), PRACTICE, t)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["replay"], true, "{}", r.text);
    assert_eq!(status_of(&r), "accepted");
    assert_eq!(app.activities_count().await, 1);

    // A reply (help_given, any category), by user id for a renamed user.
    let reply = json!({"post": post(1001, 2, 100, ("erin_renamed", 77), PRACTICE, t + 60)});
    let r = deliver(&app, 13, "post_created", &reply).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(r.body["outcome"]["kind"], "help_given");
    assert_eq!(r.body["outcome"]["member"], "alice");
    // Not counted: a topic in another category, a whisper, a private message.
    let r = deliver(
        &app,
        14,
        "topic_created",
        &json!({"topic": topic(101, ("bob", 2), OFF_TOPIC, t)}),
    )
    .await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    let mut whisper = post(1002, 3, 100, ("bob", 2), PRACTICE, t);
    whisper["post_type"] = json!(4);
    let r = deliver(&app, 15, "post_created", &json!({ "post": whisper })).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    let mut pm = post(1003, 2, 102, ("bob", 2), PRACTICE, t);
    pm["topic_archetype"] = json!("private_message");
    let r = deliver(&app, 16, "post_created", &json!({ "post": pm })).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    assert_eq!(app.activities_count().await, 2);
    assert_eq!(epoch_events(&app, epoch).await, 2);

    // Outside the rules' ingest window (10 days): refused, nothing stored.
    let old = json!({"post": post(900, 2, 90, ("bob", 2), PRACTICE, now() - 12 * DAY)});
    let r = deliver(&app, 17, "post_created", &old).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"], "outside_window");
    // A forum user mapped to no member: refused and reported.
    let r = deliver(
        &app,
        18,
        "post_created",
        &json!({"post": post(1004, 4, 100, ("dave", 9), PRACTICE, t)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"], "unknown_user");
    let r = deliver(
        &app,
        19,
        "post_created",
        &json!({"post": post(1005, 5, 100, ("dave", 9), PRACTICE, t)}),
    )
    .await;
    assert_eq!(r.body["error"], "unknown_user");
    let unknown = app
        .store
        .unknown_forum_users("discourse", "", 10)
        .await
        .unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (
            unknown[0].username.as_str(),
            unknown[0].user_id,
            unknown[0].events
        ),
        ("dave", Some(9), 2)
    );
    assert!(
        app.store
            .discourse_delivery("discourse", 18)
            .await
            .unwrap()
            .is_none(),
        "a refusal is not final"
    );
    assert_eq!(app.activities_count().await, 2);

    // Edited out of the practice category: the topic stops counting (its epoch is open).
    let r = deliver(
        &app,
        20,
        "topic_edited",
        &json!({"topic": topic(100, ("Alice", 1), OFF_TOPIC, t)}),
    )
    .await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert_eq!(r.body["outcome"]["epoch"], epoch);
    assert!(!app
        .store
        .activity_exists("discourse:discourse:topic:100")
        .await
        .unwrap());
    assert_eq!(epoch_events(&app, epoch).await, 1);
    // A late retry of its creation cannot bring it back.
    let r = deliver(&app, 21, "post_created", &first).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    assert_eq!(app.activities_count().await, 1);

    // A captured post_created body relabeled post_destroyed (headers are not signed): refused.
    let r = deliver(&app, 29, "post_destroyed", &reply).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_body");
    assert_eq!(app.activities_count().await, 1);
    // The reply is deleted, its deletion delivered twice, then recovered.
    let deleted = deleted(&reply);
    let r = deliver(&app, 22, "post_destroyed", &deleted).await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert!(r.body["outcome"]["detail"]
        .as_str()
        .unwrap()
        .contains("open epoch"));
    let r = deliver(&app, 23, "post_destroyed", &deleted).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    assert_eq!(app.activities_count().await, 0);
    assert_eq!(epoch_events(&app, epoch).await, 0);
    let r = deliver(&app, 24, "post_created", &reply).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    let r = deliver(&app, 25, "post_recovered", &reply).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(epoch_events(&app, epoch).await, 1);
    // An edit that keeps it counting changes nothing; one that hides it withdraws it.
    let r = deliver(&app, 26, "post_edited", &reply).await;
    assert_eq!(status_of(&r), "duplicate", "{}", r.text);
    let mut hidden = reply.clone();
    hidden["post"]["hidden"] = json!(true);
    let r = deliver(&app, 27, "post_edited", &hidden).await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert_eq!(app.activities_count().await, 0);
    // A topic deleted (its body carries deleted_at) and recovered.
    let t110 = json!({"topic": topic(110, ("carol", 3), PRACTICE, t)});
    let r = deliver(&app, 50, "topic_created", &t110).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    let r = deliver(&app, 51, "topic_destroyed", &t110).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let mut gone = t110.clone();
    gone["topic"]["deleted_at"] = json!(rfc3339(now()));
    let r = deliver(&app, 52, "topic_destroyed", &gone).await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert!(!app
        .store
        .activity_exists("discourse:discourse:topic:110")
        .await
        .unwrap());
    let r = deliver(&app, 53, "topic_recovered", &t110).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(app.activities_count().await, 1);
    // Events the mapping does not read are answered, not stored.
    let r = deliver(&app, 28, "user_created", &json!({"user": {"id": 5}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status_of(&r), "ignored");
}

async fn likes_confirm_and_solutions_count(backend: Backend) {
    let app = app(backend).await;
    let t = now() - 2 * DAY;
    let reply = post(2001, 2, 200, ("bob", 2), PRACTICE, t);
    let r = deliver(&app, 31, "post_created", &json!({ "post": reply })).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);

    // Carol likes Bob's reply: her accountable confirmation of it, by the source.
    let like = json!({"like": {"post": reply, "user": basic_user("carol", 3)}});
    let r = deliver(&app, 32, "post_liked", &like).await;
    assert_eq!(status_of(&r), "confirmed", "{}", r.text);
    assert_eq!(r.body["outcome"]["member"], "carol");
    let epoch = app.config.epoch_of(t).unwrap();
    let confs = app.store.scoring_confirmations(epoch).await.unwrap();
    assert_eq!(confs.len(), 1);
    assert_eq!(
        (
            confs[0].confirmer.as_str(),
            confs[0].claimant.as_str(),
            confs[0].kind.as_str(),
            confs[0].auth.as_str()
        ),
        ("carol", "bob", "help_given", "source:discourse")
    );
    // Retried delivery; a second delivery of the same like (unlike + like): still one.
    let r = deliver(&app, 32, "post_liked", &like).await;
    assert_eq!(r.body["replay"], true);
    let r = deliver(&app, 33, "post_liked", &like).await;
    assert_eq!(status_of(&r), "duplicate", "{}", r.text);
    // Bob's own like and a like by an unknown user do not count.
    let own = json!({"like": {"post": reply, "user": basic_user("bob", 2)}});
    let r = deliver(&app, 34, "post_liked", &own).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    let stranger = json!({"like": {"post": reply, "user": basic_user("mallory", 66)}});
    let r = deliver(&app, 35, "post_liked", &stranger).await;
    assert_eq!(r.body["error"], "unknown_user", "{}", r.text);
    assert_eq!(
        app.store.scoring_confirmations(epoch).await.unwrap().len(),
        1
    );

    // Bob's reply is accepted as the solution (discourse-solved: type "solved").
    let mut accepted = reply.clone();
    accepted["accepted_answer"] = json!(true);
    accepted["topic_accepted_answer"] = json!(true);
    let mut unaccepted = reply.clone();
    unaccepted["accepted_answer"] = json!(false);
    unaccepted["topic_accepted_answer"] = json!(false);
    // The acceptance relabeled as an unacceptance is refused.
    let r = deliver(
        &app,
        40,
        "unaccepted_solution",
        &json!({ "solved": accepted }),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = deliver(
        &app,
        36,
        "accepted_solution",
        &json!({ "solved": accepted }),
    )
    .await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    assert_eq!(r.body["outcome"]["kind"], "solution_accepted");
    assert_eq!(r.body["outcome"]["member"], "bob");
    assert!(app
        .store
        .activity_exists("discourse:discourse:solution:2001")
        .await
        .unwrap());
    // A solution outside the solution categories does not count.
    let other = post(2002, 2, 201, ("carol", 3), OFF_TOPIC, t);
    let r = deliver(&app, 37, "accepted_solution", &json!({ "solved": other })).await;
    assert_eq!(status_of(&r), "ignored", "{}", r.text);
    // Unaccepted: withdrawn.
    let r = deliver(
        &app,
        38,
        "unaccepted_solution",
        &json!({ "solved": unaccepted }),
    )
    .await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert!(!app
        .store
        .activity_exists("discourse:discourse:solution:2001")
        .await
        .unwrap());
    // Deleting the liked reply removes it and the confirmation of it.
    let r = deliver(
        &app,
        39,
        "post_destroyed",
        &deleted(&json!({ "post": reply })),
    )
    .await;
    assert_eq!(status_of(&r), "withdrawn", "{}", r.text);
    assert!(app
        .store
        .scoring_confirmations(epoch)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(app.activities_count().await, 0);
}

async fn an_epoch_is_scored_from_forum_activity_only(backend: Backend) {
    // Epoch 2 ends ENDS_IN seconds after start: the posts of two days ago and the likes delivered
    // now (a confirmation counts when given within its event's epoch) both fall in it.
    const ENDS_IN: i64 = 8;
    let app = app_with(backend, |c| {
        c.epoch.genesis = now() - 3 * common::WEEK + ENDS_IN
    })
    .await;
    let t = now() - 2 * DAY;
    assert_eq!(app.config.epoch_of(t), Some(2));
    assert_eq!(app.config.epoch_of(now()), Some(2));
    let mut d = 40;
    let mut send = |event: &'static str, body: Value| {
        d += 1;
        let id = d;
        let app = &app;
        async move { deliver(app, id, event, &body).await }
    };
    let r = send(
        "topic_created",
        json!({"topic": topic(300, ("Alice", 1), PRACTICE, t)}),
    )
    .await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    let r = send(
        "topic_created",
        json!({"topic": topic(301, ("carol", 3), PRACTICE, t + 3600)}),
    )
    .await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    let reply = post(3001, 2, 300, ("bob", 2), PRACTICE, t + 600);
    let r = send("post_created", json!({ "post": reply })).await;
    assert_eq!(status_of(&r), "accepted", "{}", r.text);
    for liker in [("carol", 3), ("Alice", 1)] {
        let r = send(
            "post_liked",
            json!({"like": {"post": reply, "user": basic_user(liker.0, liker.1)}}),
        )
        .await;
        assert_eq!(status_of(&r), "confirmed", "{}", r.text);
    }
    let ends = app.config.epoch_window(2).1;
    tokio::time::sleep(std::time::Duration::from_secs(
        (ends - now() + 1).max(0) as u64
    ))
    .await;
    let run = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 2, false)
        .await
        .unwrap();
    assert!(run.stored);
    assert_eq!(run.events, 3);
    let allocs = run.score.allocations();
    let paid = |m: &str| {
        allocs
            .iter()
            .find(|a| a.member == m)
            .map_or(0, |a| a.amount)
    };
    for m in ["alice", "bob", "carol"] {
        assert!(paid(m) > 0, "{m} is paid from forum activity: {allocs:?}");
    }
    let total: u64 = allocs.iter().map(|a| a.amount).sum();
    assert_eq!(total, app.config.epoch.budget);

    // An oracle re-checks the forum events against the forum itself (Discourse cannot sign).
    let served: stk_indexer::oracle::EpochLogResponse =
        serde_json::from_str(&app.get("/v1/epochs/2/log").await.text).unwrap();
    let links = &served.evidence.as_ref().unwrap().forum_users;
    assert_eq!(links.len(), 3, "{links:?}");
    let honest: Vec<(&str, Value)> = vec![
        (
            "/posts/by_number/300/1.json",
            post(3000, 1, 300, ("Alice", 1), PRACTICE, t),
        ),
        (
            "/posts/by_number/301/1.json",
            post(3010, 1, 301, ("carol", 3), PRACTICE, t + 3600),
        ),
        ("/posts/3001.json", reply.clone()),
    ];
    let forum = serve_posts(honest.clone()).await;
    let diffs = stk_indexer::oracle::forum::check_forum(&served, &[("discourse".into(), forum)])
        .await
        .unwrap();
    assert!(diffs.is_empty(), "{diffs:?}");
    // The same log against a forum where one post is someone else's, one is deleted, one missing.
    let mut altered = honest;
    altered[0].1["username"] = json!("mallory");
    altered[1].1["deleted_at"] = json!(rfc3339(now()));
    altered.pop();
    let forum = serve_posts(altered).await;
    let diffs = stk_indexer::oracle::forum::check_forum(&served, &[("discourse".into(), forum)])
        .await
        .unwrap();
    let text: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert_eq!(text.len(), 3, "{text:?}");
    assert!(
        text[0].contains("\"mallory\", who is not mapped"),
        "{text:?}"
    );
    assert!(
        text.iter().any(|d| d.contains("deleted or hidden")),
        "{text:?}"
    );
    assert!(text.iter().any(|d| d.contains("404")), "{text:?}");

    // A deletion after the epoch was scored: the activity stays as scored, and the answer says so.
    let r = send("post_destroyed", deleted(&json!({ "post": reply }))).await;
    assert_eq!(status_of(&r), "kept", "{}", r.text);
    assert!(r.body["outcome"]["detail"]
        .as_str()
        .unwrap()
        .contains("stays as scored"));
    assert!(app
        .store
        .activity_exists("discourse:discourse:post:3001")
        .await
        .unwrap());
}

/// Serves the given post documents by path (`/posts/<id>.json`, `/posts/by_number/<t>/<n>.json`),
/// 404 for anything else; returns the base URL.
async fn serve_posts(docs: Vec<(&str, Value)>) -> String {
    let docs: Arc<std::collections::HashMap<String, Value>> =
        Arc::new(docs.into_iter().map(|(p, v)| (p.to_owned(), v)).collect());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let docs = docs.clone();
        async move {
            match docs.get(uri.path()) {
                Some(v) => axum::Json(v.clone()).into_response(),
                None => (AxStatus::NOT_FOUND, "not found").into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A Discourse-shaped API: `/posts.json` (pages of 10, newest first, `before`), and
/// `/user_actions.json` (likes given, solutions); the first request of each kind is a 429.
#[derive(Clone)]
struct Forum429 {
    posts: Arc<Vec<Value>>,
    actions: Arc<Vec<(String, u32, Value)>>,
    requests: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
    lowest_before: Arc<AtomicI64>,
}

async fn posts_json(
    State(f): State<Forum429>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some("forum-api-key") {
        return (AxStatus::FORBIDDEN, "bad api key").into_response();
    }
    if f.throttled.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            AxStatus::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({"errors": ["You’ve performed this action too many times."], "error_type": "rate_limit", "extras": {"wait_seconds": 1}})),
        )
            .into_response();
    }
    let before: i64 = q
        .get("before")
        .and_then(|b| b.parse().ok())
        .unwrap_or(i64::MAX);
    f.lowest_before.fetch_min(before, Ordering::SeqCst);
    let page: Vec<Value> = f
        .posts
        .iter()
        .filter(|p| p["id"].as_i64().unwrap() < before)
        .take(10)
        .cloned()
        .collect();
    axum::Json(json!({ "latest_posts": page })).into_response()
}

async fn user_actions_json(
    State(f): State<Forum429>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    let user = q.get("username").cloned().unwrap_or_default();
    let filter: u32 = q.get("filter").and_then(|v| v.parse().ok()).unwrap_or(0);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = f
        .actions
        .iter()
        .filter(|(u, t, _)| u.eq_ignore_ascii_case(&user) && *t == filter)
        .map(|(_, _, v)| v.clone())
        .skip(offset)
        .take(3)
        .collect();
    axum::Json(json!({ "user_actions": items })).into_response()
}

/// 25 posts, newest first (ids 125..101): topics (first posts) and replies by Alice, bob and
/// carol; the oldest five were created 20 days before `base`. User actions: carol's likes of
/// bob's recent replies, one accepted solution of Alice's. Returns them and the likes count.
fn forum_fixture(base: i64) -> (Vec<Value>, Vec<(String, u32, Value)>, usize) {
    let users = [("Alice", 1), ("bob", 2), ("carol", 3)];
    let mut posts = Vec::new();
    for i in (0..25i64).rev() {
        let id = 101 + i;
        let number = if i % 5 == 0 { 1 } else { 2 + i % 5 };
        let at = if i < 5 {
            base - 20 * DAY
        } else {
            base + i * 600
        };
        posts.push(post(
            id,
            number,
            10 + i / 5,
            users[(i % 3) as usize],
            PRACTICE,
            at,
        ));
    }
    let recent = |p: &&Value| p["created_at"].as_str().unwrap() > rfc3339(base - DAY).as_str();
    let bob_replies: Vec<&Value> = posts
        .iter()
        .filter(|p| p["username"] == "bob" && p["post_number"].as_i64().unwrap() > 1)
        .filter(recent)
        .collect();
    assert!(bob_replies.len() >= 3);
    let mut actions = Vec::new();
    for p in &bob_replies {
        actions.push((
            "carol".to_owned(),
            1,
            json!({"action_type": 1, "created_at": rfc3339(base + 3 * DAY / 2), "post_id": p["id"],
                   "post_number": p["post_number"], "topic_id": p["topic_id"], "username": "bob",
                   "user_id": 2, "acting_username": "carol", "acting_user_id": 3,
                   "category_id": PRACTICE, "post_type": 1, "deleted": false, "hidden": false}),
        ));
    }
    let alice_reply = posts
        .iter()
        .filter(|p| p["username"] == "Alice" && p["post_number"].as_i64().unwrap() > 1)
        .find(recent)
        .unwrap();
    actions.push((
        "alice".to_owned(),
        15,
        json!({"action_type": 15, "created_at": rfc3339(base + DAY), "post_id": alice_reply["id"],
               "post_number": alice_reply["post_number"], "topic_id": alice_reply["topic_id"],
               "username": "Alice", "user_id": 1, "category_id": PRACTICE}),
    ));
    let likes = bob_replies.len();
    (posts, actions, likes)
}

/// Serves the fixture on 127.0.0.1:0; returns its base URL.
async fn spawn_forum(posts: Vec<Value>, actions: Vec<(String, u32, Value)>) -> (String, Forum429) {
    let forum = Forum429 {
        posts: Arc::new(posts),
        actions: Arc::new(actions),
        requests: Arc::new(AtomicU64::new(0)),
        throttled: Arc::new(AtomicU64::new(0)),
        lowest_before: Arc::new(AtomicI64::new(i64::MAX)),
    };
    let router = axum::Router::new()
        .route("/posts.json", axum::routing::get(posts_json))
        .route("/user_actions.json", axum::routing::get(user_actions_json))
        .with_state(forum.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/"), forum)
}

async fn backfill_pages_the_forum_through_the_same_mapping(backend: Backend) {
    let app = app(backend).await;
    let base = now() - 3 * DAY;
    let (posts, actions, likes) = forum_fixture(base);
    let (url, forum) = spawn_forum(posts, actions).await;
    let mut opts = backfill::Options {
        url,
        api_key: Secret::new("forum-api-key"),
        api_username: "system".into(),
        since: base - DAY,
        resume: false,
        backoff_base: std::time::Duration::from_millis(50),
    };
    let f = Forum::new(&app.config, &app.rules, "discourse").unwrap();
    let bar = indicatif::ProgressBar::hidden();
    let started = std::time::Instant::now();
    let s = backfill::run(&app.store, &app.config, &f, &opts, &bar)
        .await
        .unwrap();
    assert_eq!(s.rate_limited, 1, "{s:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    // 20 posts since --since: 4 topics + 16 replies, all mapped users.
    assert_eq!(
        s.by_status.get("accepted").copied().unwrap_or(0),
        20 + 1,
        "{s:?}"
    );
    assert_eq!(
        s.by_status.get("confirmed").copied().unwrap_or(0),
        likes as u64,
        "{s:?}"
    );
    assert_eq!(app.activities_count().await, 21);
    assert_eq!(bar.position(), s.items);
    // Posts stop at the first page reaching --since: pages before=∞, 116, 106 (105..101 are
    // older than --since), none below.
    assert_eq!(forum.lowest_before.load(Ordering::SeqCst), 106);
    let first_requests = forum.requests.load(Ordering::SeqCst);

    // --resume: every stream is done, nothing is read again.
    opts.resume = true;
    let s2 = backfill::run(&app.store, &app.config, &f, &opts, &bar)
        .await
        .unwrap();
    assert_eq!(s2.items, 0, "{s2:?}");
    assert_eq!(forum.requests.load(Ordering::SeqCst), first_requests);
    // A fresh run reads everything again and stores nothing new.
    opts.resume = false;
    let s3 = backfill::run(&app.store, &app.config, &f, &opts, &bar)
        .await
        .unwrap();
    assert_eq!(s3.by_status.get("accepted"), None, "{s3:?}");
    assert_eq!(app.activities_count().await, 21);
    // A wrong API key is a clear error, not a silent empty back-fill.
    opts.api_key = Secret::new("wrong");
    let e = backfill::run(&app.store, &app.config, &f, &opts, &bar)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
}

/// `stk-indexer sources discourse backfill` and `unknown-users`, the real binary, configured by a
/// TOML file and the environment (the webhook secret and the forum API key).
async fn the_backfill_command_runs_from_the_cli(backend: Backend) {
    let app = app(backend).await;
    let base = now() - 3 * DAY;
    let (mut posts, actions, _) = forum_fixture(base);
    // One post by a forum user nobody mapped.
    posts.insert(0, post(126, 2, 14, ("zoe", 42), PRACTICE, base + 3600));
    let (url, _forum) = spawn_forum(posts, actions).await;
    let cfg = app.dir.path().join("stk.toml");
    let c = &app.config;
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = {:?}\n[scoring]\nrules_path = {:?}\n\
             [epoch]\ngenesis = {}\nduration_secs = {}\nbudget = {}\n\
             [discourse.sources.discourse]\ninstance = \"https://forum.example.org\"\n\
             [discourse.sources.discourse.users]\nAlice = \"alice\"\nbob = \"bob\"\ncarol = \"carol\"\n",
            c.database.url,
            c.scoring.rules_path.display().to_string(),
            c.epoch.genesis,
            c.epoch.duration_secs,
            c.epoch.budget
        ),
    )
    .unwrap();
    let since = rfc3339(base - DAY);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stk-indexer"))
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env("STK_DISCOURSE__SOURCES__DISCOURSE__SECRET", SECRET)
            .env("STK_DISCOURSE_API_KEY", "forum-api-key")
            .env_remove("STK_DATABASE__URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = [
        "sources",
        "discourse",
        "backfill",
        "--url",
        &url,
        "--since",
        &since,
    ];
    let (ok, out, err) = tokio::task::block_in_place(|| run(&args));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("1 rate-limit waits"), "{out}");
    assert!(out.contains("  accepted: 21"), "{out}");
    assert!(out.contains("  rejected unknown_user: 1"), "{out}");
    assert!(
        !err.contains(SECRET) && !out.contains("forum-api-key"),
        "{err}"
    );
    assert_eq!(app.activities_count().await, 21);
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["sources", "discourse", "unknown-users"]));
    assert!(ok, "{err}");
    assert!(out.starts_with("zoe\tuser_id=42\tevents=1"), "{out}");
    // --resume: nothing left to read.
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    let (ok, out, err) = tokio::task::block_in_place(|| run(&resumed));
    assert!(ok, "{err}");
    assert!(out.contains(": 0 pages, 0 items"), "{out}");
    // A source without a forum mapping in the rules is a clear error.
    let (ok, _, err) = tokio::task::block_in_place(|| {
        run(&[
            "sources",
            "discourse",
            "backfill",
            "--source",
            "app",
            "--url",
            &url,
            "--since",
            &since,
        ])
    });
    assert!(!ok);
    assert!(err.contains("app"), "{err}");
}

backend_tests!(
    refused_requests_store_nothing,
    posts_topics_replays_edits_and_deletions,
    likes_confirm_and_solutions_count,
    an_epoch_is_scored_from_forum_activity_only,
    backfill_pages_the_forum_through_the_same_mapping,
    the_backfill_command_runs_from_the_cli,
);
