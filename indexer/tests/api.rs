//! Storage + HTTP API suite, run against SQLite and PostgreSQL (see `common`).

mod common;

use common::*;
use ed25519_dalek::Signer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use stk_indexer::store::{ChallengeRow, EpochState, StoreError};

fn results(r: &Resp) -> &Vec<Value> {
    r.body["results"].as_array().expect("results array")
}

fn status_of(r: &Resp, i: usize) -> (&str, Option<&str>) {
    let item = &results(r)[i];
    (item["status"].as_str().unwrap(), item["reason"].as_str())
}

async fn ingestion_statuses_and_reasons(b: Backend) {
    let app = spawn_app(b).await;
    app.active_member("alice").await;
    app.create_member("bob").await; // inactive members may still report activity
    let t = app.epoch_start(3) + 60;
    let big = "x".repeat(app.config.ingest.max_attributes_bytes + 1);
    let batch = json!({ "events": [
        event("e1", "alice", "practice_session", t),                                   // 0 accepted
        event("e1", "alice", "practice_session", t),                                   // 1 duplicate in batch
        event("e2", "alice", "no_such_kind", t),                                       // 2 unknown kind
        event("e3", "nobody", "review", t),                                            // 3 unknown member
        {"id": "e4", "member": "alice", "kind": "review", "occurred_at": "yesterday"},  // 4 bad timestamp
        event("e5", "alice", "review", now() + 3600),                                  // 5 future
        event("", "alice", "review", t),                                               // 6 invalid id
        event("e\u{0}7", "alice", "review", t),                                        // 7 invalid id (NUL)
        event(&"e".repeat(129), "alice", "review", t),                                 // 8 invalid id (long)
        {"id": "e9", "member": "alice", "kind": "review", "occurred_at": rfc3339(t),
         "attributes": {"blob": big}},                                                 // 9 attributes too large
        {"id": "e10", "member": "alice", "kind": "review", "occurred_at": rfc3339(t),
         "confirmations": ["bob", "bad\nid"]},                                         // 10 invalid confirmation
        event("e11", "bob", "help_given", t),                                          // 11 accepted (inactive ok)
        event("e12", "alice", "review", app.config.epoch.genesis - 10),               // 12 before genesis
        {"id": "e13", "member": "alice", "kind": "mentoring", "occurred_at": rfc3339(t + 5),
         "attributes": {"pr": 42, "tags": ["a", "b"]}, "confirmations": ["bob", "bob"]}, // 13 accepted
    ]});
    let r = app.post("/v1/activities", &batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let expected: [(&str, Option<&str>); 14] = [
        ("accepted", None),
        ("duplicate", None),
        ("rejected", Some("unknown_kind")),
        ("rejected", Some("unknown_member")),
        ("rejected", Some("bad_timestamp")),
        ("rejected", Some("future_timestamp")),
        ("rejected", Some("invalid_id")),
        ("rejected", Some("invalid_id")),
        ("rejected", Some("invalid_id")),
        ("rejected", Some("attributes_too_large")),
        ("rejected", Some("invalid_confirmation")),
        ("accepted", None),
        ("rejected", Some("bad_timestamp")),
        ("accepted", None),
    ];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(status_of(&r, i), *want, "item {i}: {}", results(&r)[i]);
        if want.0 == "rejected" {
            assert!(
                results(&r)[i]["detail"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "rejections carry a detail"
            );
        }
    }
    assert_eq!(r.body["accepted"], 3);
    assert_eq!(r.body["duplicates"], 1);
    assert_eq!(r.body["rejected"], 10);
    assert_eq!(app.activities_count().await, 3);

    // Re-sending is idempotent: everything already stored comes back as duplicate.
    let again = json!({ "events": [event("e1", "alice", "practice_session", t), event("e11", "bob", "help_given", t)] });
    let r = app.post("/v1/activities", &again).await;
    assert_eq!(status_of(&r, 0), ("duplicate", None));
    assert_eq!(status_of(&r, 1), ("duplicate", None));
    assert_eq!(app.activities_count().await, 3);

    // Frozen epoch: freeze epoch 2, then its events are refused, epoch 3's still accepted.
    let prev = app
        .store
        .transition_epoch(
            2,
            &[EpochState::Open],
            EpochState::Frozen,
            stk_indexer::epoch::template(&app.config),
        )
        .await
        .unwrap();
    assert_eq!(prev, EpochState::Open);
    // A second freeze finds it frozen: a typed refusal, the state unchanged.
    match app
        .store
        .transition_epoch(
            2,
            &[EpochState::Open],
            EpochState::Frozen,
            stk_indexer::epoch::template(&app.config),
        )
        .await
    {
        Err(StoreError::WrongState {
            epoch: 2,
            actual: EpochState::Frozen,
            ..
        }) => {}
        other => panic!("expected WrongState, got {other:?}"),
    }
    let r = app
        .post(
            "/v1/activities",
            &json!({ "events": [
                event("f1", "alice", "review", app.epoch_start(2) + 10),
                event("f2", "alice", "review", app.epoch_start(3) + 1800),
            ]}),
        )
        .await;
    assert_eq!(status_of(&r, 0), ("rejected", Some("frozen_epoch")));
    assert_eq!(status_of(&r, 1), ("accepted", None));
    assert!(!app.store.activity_exists("f1").await.unwrap());
    assert!(app.store.activity_exists("f2").await.unwrap());
    app.healthy().await;
}

async fn oversized_batch_is_refused_whole(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let t = app.epoch_start(3) + 60;
    let events: Vec<Value> = (0..1001)
        .map(|i| event(&format!("b{i}"), "alice", "review", t))
        .collect();
    let r = app
        .post("/v1/activities", &json!({ "events": events }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "batch_too_large");
    assert_eq!(app.activities_count().await, 0);
    // Exactly 1,000 is fine.
    let r = app
        .post("/v1/activities", &json!({ "events": events[..1000] }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 1000);
    assert_eq!(app.activities_count().await, 1000);
}

async fn bad_requests_get_json_errors_and_write_nothing(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let t = app.epoch_start(3) + 60;
    let good = serde_json::to_vec(&json!({"events": [event("ok", "alice", "review", t)]})).unwrap();
    let key = app.key.clone();
    /// (name, body, content type, key, expected status, expected error code)
    type Case<'a> = (
        &'a str,
        Vec<u8>,
        Option<&'a str>,
        Option<String>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("malformed", b"{\"events\": [".to_vec(), Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "malformed_json"),
        ("not json", b"hello".to_vec(), Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "malformed_json"),
        ("wrong type", serde_json::to_vec(&json!({"events": [{"id": "w", "member": "alice", "kind": "review", "occurred_at": 5}]})).unwrap(),
            Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "invalid_body"),
        ("events not array", br#"{"events": {"id": "x"}}"#.to_vec(), Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "invalid_body"),
        ("missing field", br#"{"events": [{"id": "x"}]}"#.to_vec(), Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "invalid_body"),
        ("unknown field", serde_json::to_vec(&json!({"events": [], "extra": 1})).unwrap(), Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "invalid_body"),
        ("attributes not object", serde_json::to_vec(&json!({"events": [{"id": "a", "member": "alice", "kind": "review", "occurred_at": rfc3339(t), "attributes": [1]}]})).unwrap(),
            Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "invalid_body"),
        ("no key", good.clone(), Some("application/json"), None, StatusCode::UNAUTHORIZED, "unauthorized"),
        ("wrong key", good.clone(), Some("application/json"), Some(format!("stk_{}_{}", "0".repeat(16), "1".repeat(64))), StatusCode::UNAUTHORIZED, "unauthorized"),
        ("tampered key", good.clone(), Some("application/json"), Some(format!("{}{}", &key[..key.len() - 1], if key.ends_with('0') { '1' } else { '0' })), StatusCode::UNAUTHORIZED, "unauthorized"),
        ("garbage key", good.clone(), Some("application/json"), Some("'; DROP TABLE api_keys;--".into()), StatusCode::UNAUTHORIZED, "unauthorized"),
        ("text/plain", good.clone(), Some("text/plain"), Some(key.clone()), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("no content type", good.clone(), None, Some(key.clone()), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("raw deep nesting", {
            let mut v = b"{\"events\": [{\"id\": \"d\", \"member\": \"alice\", \"kind\": \"review\", \"occurred_at\": \"2026-01-01T00:00:00Z\", \"attributes\": {\"a\": ".to_vec();
            v.extend(std::iter::repeat_n(b'[', 5000));
            v.extend(std::iter::repeat_n(b']', 5000));
            v.extend(b"}}]}");
            v
        }, Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "too_deep"),
        ("attributes too deep", {
            let mut attrs = json!(1);
            for _ in 0..40 {
                attrs = json!({ "n": attrs });
            }
            serde_json::to_vec(&json!({"events": [{"id": "deep", "member": "alice", "kind": "review", "occurred_at": rfc3339(t), "attributes": attrs}]})).unwrap()
        }, Some("application/json"), Some(key.clone()), StatusCode::BAD_REQUEST, "too_deep"),
    ];
    for (name, body, ct, key, status, code) in cases {
        let r = app
            .post_raw("/v1/activities", body, ct, key.as_deref())
            .await;
        assert_eq!(r.status, status, "{name}: {}", r.text);
        assert_eq!(r.body["error"], code, "{name}: {}", r.text);
        assert!(r.body["message"].is_string(), "{name}: {}", r.text);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
        }
    }
    // A body over the limit (2 MiB) is refused from its declared length, before it is read.
    let r = app
        .head_only(
            "POST",
            "/v1/activities",
            &[
                ("content-type", "application/json".into()),
                ("authorization", format!("Bearer {key}")),
                ("content-length", (3 * 1024 * 1024).to_string()),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "huge body: {}",
        r.text
    );
    assert_eq!(
        r.body["error"], "payload_too_large",
        "huge body: {}",
        r.text
    );
    assert_eq!(
        app.activities_count().await,
        0,
        "nothing stored by any bad request"
    );
    // Unknown routes, wrong methods and bad path parameters are JSON too.
    let r = app.get("/v1/nope").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = app.get("/v1/activities").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["error"], "method_not_allowed");
    let r = app.get("/v1/epochs/not-a-number").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "bad_request");
    // And the server keeps serving.
    app.healthy().await;
    let r = app
        .post_raw(
            "/v1/activities",
            good,
            Some("application/json; charset=utf-8"),
            Some(&app.key),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.activities_count().await, 1);
}

async fn odd_unicode_and_sql_like_strings(b: Backend) {
    let app = spawn_app(b).await;
    let sql = "'; DROP TABLE activities;--";
    let emoji_member = "мария-🎉-ñ";
    app.create_member(emoji_member).await;
    app.create_member(sql).await; // a member id may look like SQL; it is only ever bound
    let t = app.epoch_start(3) + 60;
    let batch = json!({ "events": [
        event(sql, emoji_member, "review", t),                                   // 0 accepted
        event("u1", emoji_member, sql, t),                                       // 1 unknown kind
        event("u2", "\u{0}", "review", t),                                       // 2 unknown member
        event("u3\u{200F}", emoji_member, "review", t),                          // 3 invalid id (RTL mark)
        event("u4\u{202E}", emoji_member, "review", t),                          // 4 invalid id (RTL override)
        {"id": "u5", "member": sql, "kind": "review", "occurred_at": rfc3339(t),
         "attributes": {"rtl": "\u{200F}שלום\u{202E}", "nul": "a\u{0}b", "emoji": "👩‍💻🚀",
                        "sql": sql, "\u{0}key": [sql, "\u{FEFF}"]}},            // 5 accepted
        event("🎉", emoji_member, "review", t),                                  // 6 accepted
        event("u7", emoji_member, "review\u{0}", t),                             // 7 unknown kind
    ]});
    let r = app.post("/v1/activities", &batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let want = [
        ("accepted", None),
        ("rejected", Some("unknown_kind")),
        ("rejected", Some("unknown_member")),
        ("rejected", Some("invalid_id")),
        ("rejected", Some("invalid_id")),
        ("accepted", None),
        ("accepted", None),
        ("rejected", Some("unknown_kind")),
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(status_of(&r, i), *w, "item {i}: {}", results(&r)[i]);
    }
    // The ids came back byte-for-byte.
    assert_eq!(results(&r)[0]["id"], sql);
    assert_eq!(results(&r)[3]["id"], "u3\u{200F}");
    assert_eq!(app.activities_count().await, 3);
    assert!(app.store.activity_exists(sql).await.unwrap());
    assert!(app.store.activity_exists("🎉").await.unwrap());
    // Members with odd ids are addressable; a NUL in the path is just unknown.
    let r = app.get(&format!("/v1/members/{}", enc(emoji_member))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], emoji_member);
    assert_eq!(r.body["epochs"][0]["events"], 2);
    let r = app.get(&format!("/v1/members/{}", enc(sql))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/v1/members/a%00b").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_member"))
    );
    let r = app.post("/v1/members", &json!({"id": "x\u{0}y"})).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_id"))
    );
    let r = app
        .post("/v1/members", &json!({"id": "\u{202E}evil"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    app.healthy().await;
}

async fn rate_limit_per_key(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.rate_limit.burst = 3;
        c.rate_limit.per_second = 0.01;
    })
    .await;
    let t = app.epoch_start(3) + 60;
    // The first 3 requests use the burst (one creates the member).
    app.create_member("alice").await;
    for i in 0..2 {
        let r = app
            .post(
                "/v1/activities",
                &json!({"events": [event(&format!("r{i}"), "alice", "review", t)]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = app
        .post(
            "/v1/activities",
            &json!({"events": [event("r-limited", "alice", "review", t)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.body["error"], "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert!(!app.store.activity_exists("r-limited").await.unwrap());
    assert_eq!(app.activities_count().await, 2);
    // Another key has its own bucket.
    let other = stk_indexer::auth::create_key(&app.store, "other")
        .await
        .unwrap()
        .unwrap();
    let body =
        serde_json::to_vec(&json!({"events": [event("r-other", "alice", "review", t)]})).unwrap();
    let r = app
        .post_raw(
            "/v1/activities",
            body,
            Some("application/json"),
            Some(&other.key),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Unauthenticated reads are not limited.
    app.healthy().await;
}

async fn member_lifecycle(b: Backend) {
    let app = spawn_app(b).await;
    let r = app.post("/v1/members", &json!({"id": "carol"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "inactive");
    assert_eq!(r.body["wallet"], Value::Null);
    let r = app.post("/v1/members", &json!({"id": "carol"})).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("member_exists"))
    );
    let r = app.post("/v1/members", &json!({"id": ""})).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_id"))
    );
    let r = app
        .post_raw(
            "/v1/members",
            br#"{"id":"dave"}"#.to_vec(),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(app.store.member("dave").await.unwrap().is_none());

    let r = app.post("/v1/members/carol/activate", &json!({})).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("active"))
    );
    let r = app.get("/v1/members/carol").await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["epochs"], json!([]));
    let r = app.post("/v1/members/carol/deactivate", &json!({})).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("inactive"))
    );
    assert_eq!(
        app.get("/v1/members/carol").await.body["status"],
        "inactive"
    );
    let r = app.post("/v1/members/nobody/activate", &json!({})).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_member"))
    );
    let r = app.get("/v1/members/nobody").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post_raw(
            "/v1/members/carol/activate",
            b"{}".to_vec(),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn wallet_binding(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    app.create_member("bob").await;
    let sk = new_keypair();
    let wallet = wallet_of(&sk);
    let challenge = |member: &str, wallet: &str| {
        let path = format!("/v1/members/{member}/wallet/challenge?wallet={wallet}");
        let app = &app;
        async move { app.get_auth(&path).await }
    };
    let sign = |sk: &ed25519_dalek::SigningKey, msg: &str| {
        bs58::encode(sk.sign(msg.as_bytes()).to_bytes()).into_string()
    };

    // Happy path.
    let ch = challenge("alice", &wallet).await;
    assert_eq!(ch.status, StatusCode::OK, "{}", ch.text);
    let msg = ch.body["message"].as_str().unwrap().to_owned();
    let nonce = ch.body["nonce"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("SysTok wallet binding\nmember: alice\n"),
        "{msg}"
    );
    assert!(msg.contains(&format!("wallet: {wallet}\nnonce: {nonce}\nexpires: ")));
    assert_eq!(
        msg.rsplit("expires: ").next().unwrap(),
        ch.body["expires_at"].as_str().unwrap()
    );
    let bind = json!({"wallet": wallet, "nonce": nonce, "signature": sign(&sk, &msg)});
    let r = app.post("/v1/members/alice/wallet", &bind).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["wallet"], wallet.as_str());
    assert_eq!(
        app.get("/v1/members/alice").await.body["wallet"],
        wallet.as_str()
    );

    // Replay of the same signed challenge.
    let r = app.post("/v1/members/alice/wallet", &bind).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("challenge_used"))
    );

    // Wrong wallet: challenge issued for wallet B, submitted with wallet C (signed by C).
    let sk_b = new_keypair();
    let sk_c = new_keypair();
    let ch = challenge("bob", &wallet_of(&sk_b)).await;
    let msg = ch.body["message"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/v1/members/bob/wallet",
            &json!({"wallet": wallet_of(&sk_c), "nonce": ch.body["nonce"], "signature": sign(&sk_c, &msg)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wallet_mismatch"))
    );

    // Bad signature: the right wallet, but signed by another key, or over other bytes, or garbage.
    for sig in [
        sign(&sk_c, &msg),
        sign(&sk_b, &format!("{msg}\n")),
        "notbase58!!".to_owned(),
        bs58::encode([1u8; 64]).into_string(),
    ] {
        let r = app
            .post(
                "/v1/members/bob/wallet",
                &json!({"wallet": wallet_of(&sk_b), "nonce": ch.body["nonce"], "signature": sig}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_signature")),
            "{}",
            r.text
        );
    }
    // The failed attempts did not burn the challenge: the right signature still works once.
    let r = app
        .post(
            "/v1/members/bob/wallet",
            &json!({"wallet": wallet_of(&sk_b), "nonce": ch.body["nonce"], "signature": sign(&sk_b, &msg)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A challenge of another member cannot be used.
    let ch = challenge("alice", &wallet_of(&sk_c)).await;
    let msg = ch.body["message"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/v1/members/bob/wallet",
            &json!({"wallet": wallet_of(&sk_c), "nonce": ch.body["nonce"], "signature": sign(&sk_c, &msg)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_challenge"))
    );

    // Expired: a properly signed challenge whose expiry has passed.
    let sk_e = new_keypair();
    let nonce = stk_indexer::wallet::new_nonce();
    let expires_at = now() - 5;
    let msg =
        stk_indexer::wallet::challenge_message("alice", &wallet_of(&sk_e), &nonce, expires_at);
    app.store
        .insert_challenge(&ChallengeRow {
            nonce: nonce.clone(),
            member_id: "alice".into(),
            wallet: wallet_of(&sk_e),
            message: msg.clone(),
            expires_at,
            used_at: None,
        })
        .await
        .unwrap();
    let r = app
        .post(
            "/v1/members/alice/wallet",
            &json!({"wallet": wallet_of(&sk_e), "nonce": nonce, "signature": sign(&sk_e, &msg)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::GONE, Some("challenge_expired"))
    );
    assert_eq!(
        app.get("/v1/members/alice").await.body["wallet"],
        wallet.as_str(),
        "unchanged"
    );

    // Wallet already bound to alice cannot be bound to bob.
    let ch = challenge("bob", &wallet).await;
    let msg = ch.body["message"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/v1/members/bob/wallet",
            &json!({"wallet": wallet, "nonce": ch.body["nonce"], "signature": sign(&sk, &msg)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("wallet_in_use"))
    );

    // Input validation.
    let r = challenge("alice", "not-a-wallet").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_wallet"))
    );
    let r = challenge("nobody", &wallet).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(&format!(
            "/v1/members/alice/wallet/challenge?wallet={wallet}"
        ))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "challenges need the platform key"
    );
    let r = app
        .post(
            "/v1/members/alice/wallet",
            &json!({"wallet": wallet, "nonce": "'; DROP TABLE members;--", "signature": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_challenge"))
    );
    app.healthy().await;
}

async fn epochs_scoring_and_receipts(b: Backend) {
    let app = spawn_app(b).await;
    for m in ["alice", "bob"] {
        app.active_member(m).await;
    }
    app.create_member("carol").await; // inactive: earns nothing
    let s1 = app.epoch_start(1);
    let mut events = Vec::new();
    for d in 0..5 {
        events.push(event(
            &format!("a-{d}"),
            "alice",
            "review",
            s1 + d * DAY + 3600,
        ));
        events.push(event(
            &format!("a-p-{d}"),
            "alice",
            "practice_session",
            s1 + d * DAY + 7200,
        ));
    }
    for i in 0..3 {
        events.push(event(
            &format!("b-{i}"),
            "bob",
            "review",
            s1 + i * 4 * 3600 + 60,
        ));
    }
    events.push(event("c-0", "carol", "review", s1 + 100));
    events.push(event("later", "alice", "review", app.epoch_start(2) + 100));
    let r = app
        .post("/v1/activities", &json!({ "events": events }))
        .await;
    assert_eq!(r.body["accepted"], 15, "{}", r.text);

    // Before scoring: epochs listed open with event counts.
    let r = app.get("/v1/epochs").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body["epochs"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["epoch"], 2);
    assert_eq!(list[1]["epoch"], 1);
    assert_eq!(list[1]["state"], "open");
    assert_eq!(list[1]["events"], 14);
    assert_eq!(list[1]["budget"], app.config.epoch.budget);
    assert_eq!(list[1]["rules_hash"], Value::Null);

    // A dry run writes nothing.
    let dry = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, true)
        .await
        .unwrap();
    assert!(!dry.stored);
    assert_eq!(app.get("/v1/epochs/1").await.body["state"], "open");
    assert!(app.store.receipt(1, "alice").await.unwrap().is_none());
    let table = stk_indexer::epoch::allocation_table(&dry);
    assert!(
        table.contains("alice") && table.contains("dry run"),
        "{table}"
    );

    // The running epoch cannot be scored for real.
    let err = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 3, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stk_indexer::epoch::EpochError::NotEnded { .. }),
        "{err}"
    );

    let run = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, false)
        .await
        .unwrap();
    assert!(run.stored);
    assert_eq!(run.score, dry.score, "dry run and real run agree");
    let total: u64 = run.score.allocations().iter().map(|a| a.amount).sum();
    assert_eq!(
        total, app.config.epoch.budget,
        "allocations sum to the budget"
    );

    // `rules diff`: the same rules change nothing; doubling the review weight moves STK toward
    // the members whose points are reviews (bob: reviews only) and away from the others, the
    // budget unchanged; a format-2 file is refused with the reason.
    let rules_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/");
    let v1 = std::fs::read_to_string(format!("{rules_dir}rules.v1.toml")).unwrap();
    let same = stk_indexer::rules_diff::diff(&app.store, &app.config, &v1, &v1, 1)
        .await
        .unwrap();
    assert!(same.changes.iter().all(|c| c.delta() == 0), "{same:?}");
    assert_eq!(same.old_total, app.config.epoch.budget);
    let reviews_x2 = v1.replacen(
        "[kinds.review]\nweight = 3_000",
        "[kinds.review]\nweight = 6_000",
        1,
    );
    assert_ne!(
        reviews_x2, v1,
        "the rules file has the review weight this test doubles"
    );
    let d = stk_indexer::rules_diff::diff(&app.store, &app.config, &v1, &reviews_x2, 1)
        .await
        .unwrap();
    assert_eq!(d.old_total, d.new_total, "the budget is split either way");
    assert_eq!(d.changes.iter().map(|c| c.delta()).sum::<i128>(), 0);
    let bob = d.changes.iter().find(|c| c.member == "bob").unwrap();
    assert!(bob.delta() > 0, "{d:?}");
    assert!(d.losers().count() > 0, "{d:?}");
    assert_eq!(d.changes[0].member, "bob", "largest gain first: {d:?}");
    let table = d.render(Some(5));
    assert!(table.contains("bob") && table.contains("gain: "), "{table}");
    let v2 = std::fs::read_to_string(format!("{rules_dir}rules.v2.toml")).unwrap();
    // A v1 -> v2 migration previewed: these members have no subscription, no vouches and no
    // observing source, so under v2 nobody is eligible and everyone paid under v1 loses it all.
    let d = stk_indexer::rules_diff::diff(&app.store, &app.config, &v1, &v2, 1)
        .await
        .unwrap();
    assert!(d.old_total > 0 && d.new_total == 0, "{d:?}");
    assert_eq!(d.losers().count(), d.changes.len(), "{d:?}");

    let r = app.get("/v1/epochs/1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "scored");
    assert_eq!(r.body["rules_hash"], hex::encode(app.rules.hash()));
    assert_eq!(
        r.body["activity_digest"],
        hex::encode(run.score.activity_digest())
    );
    assert_eq!(r.body["total_amount"], app.config.epoch.budget);
    assert_eq!(r.body["events"], 14);
    assert_eq!(r.body["rules_version"], app.rules.version());

    // Receipts.
    let r = app.get("/v1/epochs/1/receipts/alice").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["member"], "alice");
    assert_eq!(r.body["epoch"], 1);
    assert_eq!(r.body["qualified"], true);
    assert!(r.body["counted"].as_array().unwrap().len() >= 5);
    let alice_amount = r.body["amount"].as_u64().unwrap();
    assert!(alice_amount > 0);
    let r = app.get("/v1/epochs/1/receipts/carol").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["amount"], 0);
    assert_eq!(r.body["dropped"][0]["reason"], "InactiveMember");
    let r = app.get("/v1/epochs/1/receipts/nobody").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_receipt"))
    );

    // Member summary per epoch.
    let r = app.get("/v1/members/alice").await;
    let epochs = r.body["epochs"].as_array().unwrap();
    assert_eq!(epochs[0]["epoch"], 2);
    assert_eq!(epochs[0]["amount"], Value::Null);
    assert_eq!(epochs[1]["epoch"], 1);
    assert_eq!(epochs[1]["events"], 10);
    assert_eq!(epochs[1]["amount"], alice_amount);
    assert_eq!(epochs[1]["receipt"]["member"], "alice");
    assert!(epochs[1]["score"].as_str().unwrap().parse::<u64>().unwrap() > 0);

    // A scored epoch takes no more activity and is not scored twice.
    let r = app
        .post(
            "/v1/activities",
            &json!({"events": [event("late", "alice", "review", s1 + 50)]}),
        )
        .await;
    assert_eq!(status_of(&r, 0), ("rejected", Some("frozen_epoch")));
    let err = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stk_indexer::epoch::EpochError::AlreadyScored { .. }),
        "{err}"
    );

    // The explanation names the events and multipliers.
    let receipt: stk_scoring::Receipt =
        serde_json::from_str(&app.store.receipt(1, "alice").await.unwrap().unwrap()).unwrap();
    let text = stk_indexer::epoch::explain(&receipt);
    assert!(
        text.contains("a-0") && text.contains("consistency multiplier"),
        "{text}"
    );

    // Epoch 2 is listed; epoch 3 (started, no activity) is synthesized open; the future is 404.
    assert_eq!(app.get("/v1/epochs/3").await.body["state"], "open");
    assert_eq!(app.get("/v1/epochs/3").await.body["events"], 0);
    let r = app.get("/v1/epochs/50").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_epoch"))
    );
    let r = app.get(&format!("/v1/epochs/{}", u64::MAX)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The scoring histogram reaches /metrics.
    let m = app.get("/metrics").await.text;
    assert!(m.contains("stk_scoring_duration_seconds"), "{m}");
    assert!(m.contains("stk_epochs_scored_total"), "{m}");
}

async fn health_metrics_openapi(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let t = app.epoch_start(3) + 60;
    let r = app
        .post("/v1/activities", &json!({"events": [event("m1", "alice", "review", t), event("m2", "alice", "bogus", t)]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.healthy().await;

    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    for needle in [
        "stk_http_requests_total{method=\"POST\",route=\"/v1/activities\",status=\"200\"}",
        "stk_events_accepted_total",
        "stk_events_duplicate_total",
        "stk_events_rejected_total{reason=\"unknown_kind\"}",
        "stk_events_rejected_total{reason=\"frozen_epoch\"}",
        "stk_http_request_duration_seconds",
    ] {
        assert!(r.text.contains(needle), "missing {needle} in\n{}", r.text);
    }

    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().expect("OpenAPI paths");
    for p in [
        "/v1/activities",
        "/v1/members",
        "/v1/members/{id}",
        "/v1/members/{id}/activate",
        "/v1/members/{id}/deactivate",
        "/v1/members/{id}/wallet/challenge",
        "/v1/members/{id}/wallet",
        "/v1/epochs",
        "/v1/epochs/{n}",
        "/v1/epochs/{n}/receipts/{member}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(r.body["components"]["securitySchemes"]["api_key"].is_object());

    // With the database gone, readiness fails while liveness holds.
    app.store.close().await;
    let r = app.get("/readyz").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

async fn concurrent_batches_lose_nothing(b: Backend) {
    let app = spawn_app(b).await;
    for i in 0..10 {
        app.create_member(&format!("m{i}")).await;
    }
    let t = app.epoch_start(3) + 60;
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/activities"),
            app.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for bn in 0..5 {
                // The first 50 ids of each batch are sent by all 4 clients at once: deduplicated.
                let events: Vec<Value> = (0..250)
                    .map(|i| {
                        let id = if i < 50 {
                            format!("shared-b{bn}-{i}")
                        } else {
                            format!("c{c}-b{bn}-{i}")
                        };
                        event(&id, &format!("m{}", i % 10), "review", t + i as i64)
                    })
                    .collect();
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "events": events }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 5 batches x 50 shared ids + 4 clients x 5 batches x 200 own ids.
    assert_eq!(app.activities_count().await, 5 * 50 + 4 * 5 * 200);
}

async fn cli_ingest_is_resumable(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let t = app.epoch_start(3) + 60;
    let path = app.dir.path().join("events.jsonl");
    let mut text = String::new();
    for i in 0..2500 {
        text.push_str(
            &serde_json::to_string(&event(&format!("l{i}"), "alice", "review", t)).unwrap(),
        );
        text.push('\n');
        if i == 10 {
            text.push_str("{not json\n");
        }
        if i == 20 {
            text.push('\n');
            text.push_str(&serde_json::to_string(&event("bad-kind", "alice", "nope", t)).unwrap());
            text.push('\n');
        }
    }
    std::fs::write(&path, text).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut out = Vec::new();
    let s = stk_indexer::cli::ingest_file(
        &app.store,
        &app.config,
        &stk_indexer::ingest::Intake::members(&app.rules),
        &path,
        false,
        &stop,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        (s.accepted, s.duplicates, s.rejected, s.blank),
        (2500, 0, 2, 1),
        "{out}"
    );
    assert!(out.contains("line 12: malformed_json"), "{out}");
    assert!(
        out.contains("line 24: id \"bad-kind\": unknown_kind"),
        "{out}"
    );
    assert_eq!(app.activities_count().await, 2500);
    let progress = std::fs::read_to_string(app.dir.path().join("events.jsonl.progress")).unwrap();
    assert_eq!(progress.trim(), "2503");

    // --resume: nothing left to do.
    let mut out = Vec::new();
    let s = stk_indexer::cli::ingest_file(
        &app.store,
        &app.config,
        &stk_indexer::ingest::Intake::members(&app.rules),
        &path,
        true,
        &stop,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(
        (s.skipped, s.accepted, s.duplicates, s.rejected),
        (2503, 0, 0, 0)
    );

    // Resume from a partial run (progress says 1,000 lines were done).
    std::fs::write(app.dir.path().join("events.jsonl.progress"), "1000\n").unwrap();
    let mut out = Vec::new();
    let s = stk_indexer::cli::ingest_file(
        &app.store,
        &app.config,
        &stk_indexer::ingest::Intake::members(&app.rules),
        &path,
        true,
        &stop,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!((s.skipped, s.duplicates, s.rejected), (1000, 1503, 0));

    // Without --resume a re-run is still safe: everything is a duplicate.
    let mut out = Vec::new();
    let s = stk_indexer::cli::ingest_file(
        &app.store,
        &app.config,
        &stk_indexer::ingest::Intake::members(&app.rules),
        &path,
        false,
        &stop,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!((s.accepted, s.duplicates, s.rejected), (0, 2500, 2));
    assert_eq!(app.activities_count().await, 2500);
}

/// Base58 of `n` characters (no leading '1's, which decoders special-case).
fn base58_blob(n: usize) -> String {
    "z3Kq".repeat(n / 4 + 1)[..n].to_owned()
}

async fn oversized_strings_are_refused_before_decoding(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    // Just under the 2 MiB body limit, in each string field that is base58-decoded.
    let near_limit = app.config.server.body_limit_bytes - 1024;
    let sk = new_keypair();
    let bodies = [
        json!({"wallet": base58_blob(near_limit), "nonce": "ab".repeat(32), "signature": "x"}),
        json!({"wallet": wallet_of(&sk), "nonce": "ab".repeat(32), "signature": base58_blob(near_limit)}),
        json!({"wallet": base58_blob(45), "nonce": "ab".repeat(32), "signature": "x"}),
        json!({"wallet": wallet_of(&sk), "nonce": "ab".repeat(33), "signature": "x"}),
    ];
    let mut tasks = Vec::new();
    for body in bodies {
        let (client, url, key) = (
            client.clone(),
            app.url("/v1/members/alice/wallet"),
            app.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let t = std::time::Instant::now();
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("answered");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body, t.elapsed())
        }));
    }
    // A long wallet in the query string of the challenge (30 KB: seconds of CPU before the fix;
    // a URI cannot be much longer).
    {
        let (client, url, key) = (
            client.clone(),
            app.url(&format!(
                "/v1/members/alice/wallet/challenge?wallet={}",
                base58_blob(30_000)
            )),
            app.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let t = std::time::Instant::now();
            let r = client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("answered");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body, t.elapsed())
        }));
    }
    // Meanwhile liveness answers fast.
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let r = client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            t.elapsed() < std::time::Duration::from_millis(500),
            "healthz took {:?} while hostile strings were sent",
            t.elapsed()
        );
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (status, body, took) = t.await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "case {i}: {body}");
        assert!(
            body["error"] == "too_long" || body["error"] == "bad_request",
            "case {i}: {body}"
        );
        assert!(
            took < std::time::Duration::from_millis(1000),
            "case {i} took {took:?}"
        );
    }
    // Every string of an event body is bounded too (whole request refused: 400 too_long), while an
    // id just over 128 bytes is still one rejected item.
    let t = app.epoch_start(3) + 60;
    for field in ["id", "member", "kind", "occurred_at"] {
        let mut e = event("s1", "alice", "review", t);
        e[field] = json!(base58_blob(600));
        let r = app.post("/v1/activities", &json!({ "events": [e] })).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("too_long")),
            "{field}: {}",
            r.text
        );
    }
    let mut e = event("s2", "alice", "review", t);
    e["confirmations"] = json!([base58_blob(600)]);
    let r = app.post("/v1/activities", &json!({ "events": [e] })).await;
    assert_eq!(r.body["error"], "too_long", "{}", r.text);
    let r = app
        .post("/v1/members", &json!({"id": base58_blob(600)}))
        .await;
    assert_eq!(r.body["error"], "too_long", "{}", r.text);
    let r = app
        .post(
            "/v1/activities",
            &json!({ "events": [event(&"e".repeat(200), "alice", "review", t)] }),
        )
        .await;
    assert_eq!(status_of(&r, 0), ("rejected", Some("invalid_id")));
    assert_eq!(app.activities_count().await, 0);
    app.healthy().await;
}

async fn metric_labels_are_bounded(b: Backend) {
    let app = spawn_app(b).await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("stk_http_requests_total{"))
            .map(|l| l.rsplit_once(' ').unwrap().0.to_owned())
            .collect::<std::collections::BTreeSet<String>>()
    };
    // Warm up the series a client can legitimately reach.
    for m in ["FOO", "BAR"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        app.client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let _ = app.get("/no/such/route").await;
    let before = series(&app.get("/metrics").await.text);
    for i in 0..30 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        for path in ["/healthz", "/v1/epochs", &format!("/random/{i}")] {
            app.client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
        }
    }
    let after = series(&app.get("/metrics").await.text);
    // The recorder is process-wide (tests running in parallel add their own series), so the check
    // is on the label values: only the standard methods or `other`, only route templates.
    const METHODS: [&str; 10] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other",
    ];
    for s in &after {
        let method = s
            .split("method=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        assert!(
            method.is_some_and(|m| METHODS.contains(&m)),
            "unbounded method label: {s}"
        );
        assert!(!s.contains("/random/"), "raw path as a label: {s}");
    }
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        after.iter().any(|s| s.contains("method=\"other\"")),
        "{new:?}"
    );
}

async fn duplicate_only_after_a_stored_occurrence(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    app.store
        .transition_epoch(
            2,
            &[EpochState::Open],
            EpochState::Frozen,
            stk_indexer::epoch::template(&app.config),
        )
        .await
        .unwrap();
    let t = app.epoch_start(3) + 60;
    let frozen_t = app.epoch_start(2) + 60;
    let batch = json!({ "events": [
        event("d1", "nobody", "review", t),          // 0 unknown member
        event("d1", "alice", "review", t),           // 1 its own verdict: accepted
        event("d2", "alice", "review", frozen_t),    // 2 frozen epoch
        event("d2", "alice", "review", t + 1),       // 3 accepted
        {"id": "d3", "member": "alice", "kind": "review", "occurred_at": "nope"}, // 4 bad timestamp
        event("d3", "alice", "review", t + 2),       // 5 accepted
        event("d4", "alice", "review", t + 3),       // 6 accepted
        event("d4", "nobody", "review", t + 3),      // 7 its own verdict: unknown member
        event("d4", "alice", "review", t + 3),       // 8 duplicate of 6 (stored)
        event("d5", "nobody", "review", t),          // 9 unknown member
        event("d5", "nobody", "review", t),          // 10 unknown member, not a duplicate
        event("d1", "alice", "review", t),           // 11 duplicate of 1 (stored)
    ]});
    let r = app.post("/v1/activities", &batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let want = [
        ("rejected", Some("unknown_member")),
        ("accepted", None),
        ("rejected", Some("frozen_epoch")),
        ("accepted", None),
        ("rejected", Some("bad_timestamp")),
        ("accepted", None),
        ("accepted", None),
        ("rejected", Some("unknown_member")),
        ("duplicate", None),
        ("rejected", Some("unknown_member")),
        ("rejected", Some("unknown_member")),
        ("duplicate", None),
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(status_of(&r, i), *w, "item {i}: {}", results(&r)[i]);
    }
    for id in ["d1", "d2", "d3", "d4"] {
        assert!(app.store.activity_exists(id).await.unwrap(), "{id} stored");
    }
    assert!(!app.store.activity_exists("d5").await.unwrap());
    assert_eq!(app.activities_count().await, 4);
    assert_eq!(
        (r.body["accepted"].as_u64(), r.body["duplicates"].as_u64()),
        (Some(4), Some(2))
    );
    // Already stored before the batch: every occurrence is a duplicate, even after a refused one.
    let r = app
        .post(
            "/v1/activities",
            &json!({ "events": [event("d1", "nobody", "review", t), event("d1", "alice", "review", t)] }),
        )
        .await;
    assert_eq!(status_of(&r, 0), ("rejected", Some("unknown_member")));
    assert_eq!(status_of(&r, 1), ("duplicate", None));
}

/// Reads until the peer closes the connection (EOF or reset); `Err` if it is still open after
/// `within`.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Result<Vec<u8>, Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(got),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn slow_clients_are_cut(b: Backend) {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(b.clone(), |c| {
        c.server.header_read_timeout_secs = 1;
        c.server.request_timeout_secs = 2;
        c.server.idle_timeout_secs = 3;
        c.server.max_connections = 2;
        c.server.shutdown_grace_secs = 1;
    })
    .await;
    // Half a request head, then silence: closed after the header-read timeout.
    let mut slow = tokio::net::TcpStream::connect(app.authority())
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    closed_within(&mut slow, Duration::from_secs(4))
        .await
        .expect("a stalled head is closed");
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    // A kept-alive connection that sends nothing more is closed too.
    let mut idle = tokio::net::TcpStream::connect(app.authority())
        .await
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let got = closed_within(&mut idle, Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    // Connection limit (2): two stalled clients hold both slots; a third client waits in the
    // backlog and is served once the stalled ones are cut, it is not refused or starved.
    let mut hogs = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(app.authority())
            .await
            .unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        hogs.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(6), app.get("/healthz"))
        .await
        .expect("served after the stalled connections are cut");
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "the limit held: {:?}",
        t.elapsed()
    );
    drop(hogs);

    // Shutdown while a client stalls mid-head (a long header timeout, so only the grace period
    // can end it): it completes within the grace period, and the store can be closed.
    let mut app = spawn_app_with(b, |c| {
        c.server.header_read_timeout_secs = 60;
        c.server.request_timeout_secs = 60;
        c.server.idle_timeout_secs = 120;
        c.server.shutdown_grace_secs = 1;
    })
    .await;
    let mut stalled = tokio::net::TcpStream::connect(app.authority())
        .await
        .unwrap();
    stalled
        .write_all(b"POST /v1/activities HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.shutdown_server())
        .await
        .expect("shutdown does not wait for a stalled client");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    closed_within(&mut stalled, Duration::from_secs(2))
        .await
        .expect("the stalled connection was cut");
    app.store.close().await;
}

async fn auth_details(b: Backend) {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(b).await;
    // The scheme name is case-insensitive.
    for (i, scheme) in ["bearer", "BEARER", "Bearer"].into_iter().enumerate() {
        let r = app
            .client
            .post(app.url("/v1/members"))
            .header("authorization", format!("{scheme} {}", app.key))
            .json(&json!({"id": format!("case-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{scheme}");
    }
    // A 401 answered before the body is read closes the connection.
    let mut s = tokio::net::TcpStream::connect(app.authority())
        .await
        .unwrap();
    s.write_all(
        b"POST /v1/activities HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 100000\r\n\r\n{\"events\": [",
    )
    .await
    .unwrap();
    let got = closed_within(&mut s, std::time::Duration::from_secs(3))
        .await
        .expect("the server closes after a 401");
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 401"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    // Same for a 429 (rate limited before the body is read).
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.rate_limit.burst = 1;
        c.rate_limit.per_second = 0.01;
    })
    .await;
    app.create_member("alice").await;
    let mut s = tokio::net::TcpStream::connect(app.authority())
        .await
        .unwrap();
    s.write_all(
        format!(
            "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ncontent-length: 100000\r\n\r\n{{",
            app.key
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let got = closed_within(&mut s, std::time::Duration::from_secs(3))
        .await
        .expect("the server closes after a 429");
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 429"), "{text}");
    assert!(
        text.contains("connection: close") && text.contains("retry-after"),
        "{text}"
    );
}

async fn expired_challenges_are_purged(b: Backend) {
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let ttl = app.config.wallet.challenge_ttl_secs;
    let insert = |nonce: String, expires_at: i64| {
        let app = &app;
        async move {
            app.store
                .insert_challenge(&ChallengeRow {
                    nonce,
                    member_id: "alice".into(),
                    wallet: wallet_of(&new_keypair()),
                    message: "m".into(),
                    expires_at,
                    used_at: None,
                })
                .await
                .unwrap();
        }
    };
    let (old, recent) = ("aa".repeat(32), "bb".repeat(32));
    insert(old.clone(), now() - 2 * ttl - 10).await;
    insert(recent.clone(), now() - 10).await;
    let r = app
        .get_auth(&format!(
            "/v1/members/alice/wallet/challenge?wallet={}",
            wallet_of(&new_keypair())
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(app.store.challenge(&old).await.unwrap().is_none(), "purged");
    // Expired less than a TTL ago: kept, so a late client still gets 410 challenge_expired.
    assert!(app.store.challenge(&recent).await.unwrap().is_some());
    let fresh = r.body["nonce"].as_str().unwrap();
    assert!(app.store.challenge(fresh).await.unwrap().is_some());
}

async fn key_scopes_per_route(b: Backend) {
    use stk_indexer::auth::{create_key_with_scopes, Scope};
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    let mut keys = std::collections::HashMap::new();
    for scope in Scope::ALL {
        let k = create_key_with_scopes(&app.store, &format!("only-{scope}"), &[scope], None)
            .await
            .unwrap()
            .unwrap();
        keys.insert(scope, k.key);
    }
    let none = create_key_with_scopes(&app.store, "no-scopes", &[], None)
        .await
        .unwrap()
        .unwrap()
        .key;
    let t = app.epoch_start(3) + 60;
    let wallet = wallet_of(&new_keypair());
    // (method, path, body, required scope)
    let routes: Vec<(&str, String, Option<Value>, Scope)> = vec![
        (
            "POST",
            "/v1/activities".into(),
            Some(json!({"events": [event("s-1", "alice", "review", t)]})),
            Scope::Ingest,
        ),
        (
            "POST",
            "/v1/members".into(),
            Some(json!({"id": "bob"})),
            Scope::Members,
        ),
        (
            "POST",
            "/v1/members/alice/activate".into(),
            Some(json!({})),
            Scope::Members,
        ),
        (
            "POST",
            "/v1/members/alice/deactivate".into(),
            Some(json!({})),
            Scope::Members,
        ),
        (
            "GET",
            format!("/v1/members/alice/wallet/challenge?wallet={wallet}"),
            None,
            Scope::Wallets,
        ),
        (
            "POST",
            "/v1/members/alice/wallet".into(),
            Some(json!({"wallet": wallet, "nonce": "ab".repeat(32), "signature": "x"})),
            Scope::Wallets,
        ),
    ];
    for (method, path, body, required) in &routes {
        let send = |key: &str| {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(key);
            if let Some(b) = body {
                req = req.json(b);
            }
            req.send()
        };
        for (scope, key) in keys
            .iter()
            .map(|(s, k)| (Some(*s), k))
            .chain([(None, &none)])
        {
            let r = send(key).await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            let allowed = scope == Some(*required) || scope == Some(Scope::Admin);
            if allowed {
                assert_ne!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} with {scope:?}: {text}"
                );
                assert!(
                    status.is_success()
                        || status == StatusCode::BAD_REQUEST
                        || status == StatusCode::CONFLICT,
                    "{method} {path} with {scope:?}: {status} {text}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} with {scope:?}: {text}"
                );
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["error"], "forbidden");
                assert!(
                    v["message"].as_str().unwrap().contains(required.as_str()),
                    "{text}"
                );
            }
        }
    }
    // Refused requests changed nothing: only the allowed ones stored their effect.
    assert_eq!(app.activities_count().await, 1);
    // Public reads need no key at all.
    assert_eq!(app.get("/v1/members/alice").await.status, StatusCode::OK);
}

/// Latencies of `n` sequential 1-event POSTs.
async fn post_latencies(app: &TestApp, tag: &str, n: usize) -> Vec<std::time::Duration> {
    let t = app.epoch_start(3) + 60;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let body = json!({"events": [event(&format!("{tag}-{i}"), "alice", "review", t)]});
        let start = std::time::Instant::now();
        let r = app.post("/v1/activities", &body).await;
        v.push(start.elapsed());
        assert_eq!(r.body["accepted"], 1, "{}", r.text);
    }
    v
}

/// (p50, p95)
fn p50_p95(mut v: Vec<std::time::Duration>) -> (std::time::Duration, std::time::Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 95 / 100])
}

async fn reads_do_not_queue_writes(b: Backend) {
    const PACE_MS: u64 = 2;
    use std::time::Duration;
    let app = spawn_app(b).await;
    app.create_member("alice").await;
    // A big open epoch: reading it used to count every activity through the writer.
    let t = app.epoch_start(3) + 60;
    for batch in 0..30 {
        let events: Vec<Value> = (0..1000)
            .map(|i| event(&format!("bulk-{batch}-{i}"), "alice", "review", t))
            .collect();
        let r = app
            .post("/v1/activities", &json!({ "events": events }))
            .await;
        assert_eq!(r.body["accepted"], 1000);
    }
    assert_eq!(app.get("/v1/epochs/3").await.body["events"], 30_000);
    post_latencies(&app, "warm", 20).await;
    // Four paced readers of the big open epoch, switched on and off: idle and flooded samples are
    // interleaved in rounds, so load from elsewhere (the rest of the suite on a small machine)
    // weighs on both alike.
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, url, stop, flooding) = (
            app.client.clone(),
            app.url("/v1/epochs/3"),
            stop.clone(),
            flooding.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.is_cancelled() {
                if flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = client.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                    let _ = r.bytes().await;
                    n += 1;
                }
                // Lightly paced: the test measures queueing behind the database writer, not
                // CPU starvation of a 2-core machine.
                tokio::time::sleep(Duration::from_millis(PACE_MS)).await;
            }
            n
        }));
    }
    let (mut idle, mut flood) = (Vec::new(), Vec::new());
    for round in 0..6 {
        flooding.store(false, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        idle.extend(post_latencies(&app, &format!("idle-{round}"), 20).await);
        flooding.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        flood.extend(post_latencies(&app, &format!("flood-{round}"), 20).await);
    }
    stop.cancel();
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 100, "the readers ran: {reads}");
    let (idle, flood) = (p50_p95(idle), p50_p95(flood));
    let bound = |idle: Duration| (idle * 2).max(idle + Duration::from_millis(20));
    assert!(
        flood.0 <= bound(idle.0) && flood.1 <= bound(idle.1),
        "POST latency idle p50/p95 {:?}/{:?}, under {reads} reads {:?}/{:?}",
        idle.0,
        idle.1,
        flood.0,
        flood.1
    );
    // The counter is exact.
    assert_eq!(
        app.get("/v1/epochs/3").await.body["events"],
        30_000 + 20 + 240
    );
}

/// Follows `next_cursor` from the first page; returns every page's items (and the page count).
async fn walk(app: &TestApp, path: &str, field: &str, limit: usize) -> (Vec<Value>, usize) {
    let (mut all, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = app.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text);
        let items = r.body[field].as_array().unwrap();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        all.extend(items.iter().cloned());
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (all, pages),
        }
        assert!(pages < 10_000, "no end");
    }
}

async fn lists_are_paginated(b: Backend) {
    let app = spawn_app(b).await;
    app.active_member("alice").await;
    // 1,200 events over epochs 1 and 3, many sharing a timestamp (ties broken by id), and a
    // scored epoch 1 (a `points` item at its end).
    let (s1, s3) = (app.epoch_start(1), app.epoch_start(3));
    let mut events = Vec::new();
    for i in 0..600 {
        events.push(event(
            &format!("a{i:04}"),
            "alice",
            "review",
            s1 + 3600 + (i / 7) as i64 * 6000,
        ));
        events.push(event(
            &format!("b{i:04}"),
            "alice",
            "practice_session",
            s3 + 60 + (i / 5) as i64,
        ));
    }
    for chunk in events.chunks(1000) {
        let r = app
            .post("/v1/activities", &json!({ "events": chunk }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, false)
        .await
        .unwrap();
    let ev = app
        .post(
            "/v1/activities",
            &json!({"events": [event("z0", "alice", "review", app.epoch_start(0) + 5)]}),
        )
        .await;
    assert_eq!(ev.body["accepted"], 1, "{}", ev.text);

    // The timeline, walked in pages of 7: every item exactly once, in order.
    let (small, pages) = walk(&app, "/v1/members/alice/timeline", "items", 7).await;
    assert_eq!(small.len(), 1202, "1,201 activities and one points item");
    assert_eq!(pages, 1202usize.div_ceil(7));
    let (big, _) = walk(&app, "/v1/members/alice/timeline", "items", 500).await;
    assert_eq!(small, big, "page size does not change the sequence");
    let ids: Vec<&str> = small.iter().filter_map(|i| i["id"].as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (1201, 1201));
    let key = |i: &Value| {
        (
            i["at_unix"].as_i64().unwrap(),
            (i["type"] != "activity") as u8,
            i["id"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert!(
        small.windows(2).all(|w| key(&w[0]) < key(&w[1])),
        "oldest first, ties by id"
    );
    assert_eq!(small[0]["id"], "z0");
    assert_eq!(small.iter().filter(|i| i["type"] == "points").count(), 1);

    // Limit over the maximum (500) is clamped; limit 0 counts as 1; no limit is 100.
    let r = app.get("/v1/members/alice/timeline?limit=100000").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 500);
    assert!(r.body["next_cursor"].is_string());
    let r = app.get("/v1/members/alice/timeline?limit=0").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/v1/members/alice/timeline").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 100);
    // Bad cursors are refused.
    for c in ["zz", "7b7d", &"ab".repeat(600)] {
        let r = app
            .get(&format!("/v1/members/alice/timeline?cursor={c}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{c}: {}", r.text);
    }

    // The epochs list: 0, 1 and 3 have activity.
    let (epochs, _) = walk(&app, "/v1/epochs", "epochs", 1).await;
    let ns: Vec<u64> = epochs
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, vec![3, 1, 0]);
    // The member summary's epochs.
    let (epochs, _) = walk(&app, "/v1/members/alice", "epochs", 2).await;
    let ns: Vec<u64> = epochs
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, vec![3, 1, 0]);
    assert_eq!(epochs[1]["events"], 600);
    assert!(epochs[1]["receipt"].is_object());
}

async fn public_reads_are_rate_limited(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.rate_limit.public_burst = 5;
        c.rate_limit.public_per_second = 0.01;
    })
    .await;
    app.create_member("alice").await;
    let mut limited = None;
    for i in 0..20 {
        let path = [
            "/v1/epochs",
            "/v1/members/alice",
            "/v1/members/alice/timeline",
            "/v1/epochs/3",
        ][i % 4];
        let r = app.get(path).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    let (i, r) = limited.expect("a flood of anonymous reads is limited");
    assert_eq!(i, 5, "the burst is 5");
    assert_eq!(r.body["error"], "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Operations and keyed writes are not counted against the address.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/metrics").await.status, StatusCode::OK);
    app.create_member("bob").await;
    // Documented in the OpenAPI document: pagination parameters and 429s.
    let doc = app.get("/openapi.json").await.body;
    for p in [
        "/v1/epochs",
        "/v1/members/{id}",
        "/v1/members/{id}/timeline",
    ] {
        let op = &doc["paths"][p]["get"];
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"limit") && params.contains(&"cursor"),
            "{p}: {params:?}"
        );
        assert!(op["responses"]["429"].is_object(), "{p}");
    }
}

backend_tests!(
    ingestion_statuses_and_reasons,
    oversized_batch_is_refused_whole,
    bad_requests_get_json_errors_and_write_nothing,
    odd_unicode_and_sql_like_strings,
    rate_limit_per_key,
    member_lifecycle,
    wallet_binding,
    epochs_scoring_and_receipts,
    health_metrics_openapi,
    concurrent_batches_lose_nothing,
    cli_ingest_is_resumable,
    oversized_strings_are_refused_before_decoding,
    metric_labels_are_bounded,
    duplicate_only_after_a_stored_occurrence,
    slow_clients_are_cut,
    auth_details,
    expired_challenges_are_purged,
    key_scopes_per_route,
    lists_are_paginated,
    public_reads_are_rate_limited,
);

/// SQLite only: its single writer connection is what reads used to queue behind (PostgreSQL reads
/// and writes use separate pool connections; a latency ratio there measures pool sizing and the
/// machine's load instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_do_not_queue_writes() {
    reads_do_not_queue_writes(Backend::Sqlite).await
}
