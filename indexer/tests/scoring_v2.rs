//! Rules v2 through the service, on SQLite and PostgreSQL: a signing source, accountable
//! confirmations, vouches and subscriptions, scoring with carried state, the evidence every oracle
//! checks (tampered, invented and omitted events; a missing signed record) and the receipts.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use stk_indexer::evidence;
use stk_indexer::oracle::{verify, Difference, EpochLogResponse, OracleError};
use stk_scoring::{AnyScore, EpochInputV2, EventV2};

const DAY: i64 = 86_400;

/// The source key of `[sources.app]` in the test rules.
fn source_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

/// rules/rules.v2.toml with two masters and `app` signing its events.
fn rules_text() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/rules.v2.toml"
    ))
    .unwrap();
    let start = text.find("seeds = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}seeds = [\"master-a\", \"master-b\"]{}",
        &text[..start],
        &text[end..]
    );
    let pubkey = wallet_of(&source_key());
    text.replace(
        "[sources.app]\n",
        &format!("[sources.app]\npubkey = \"{pubkey}\"\n"),
    )
}

fn signed_event(id: &str, member: &str, kind: &str, ts: i64) -> Value {
    let msg = evidence::source_event_message(&evidence::SourceEvent {
        source: "app",
        id,
        member,
        kind,
        occurred_at: ts,
    });
    let mut e = event(id, member, kind, ts);
    e["signature"] = json!(evidence::sign(&source_key(), &msg));
    e
}

async fn post_as(app: &TestApp, key: &str, path: &str, body: &Value) -> Resp {
    app.post_raw(
        path,
        serde_json::to_vec(body).unwrap(),
        Some("application/json"),
        Some(key),
    )
    .await
}

async fn put_as(app: &TestApp, key: &str, path: &str, body: &Value) -> StatusCode {
    app.client
        .put(app.url(path))
        .header("authorization", format!("Bearer {key}"))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
}

fn confirmation(id: &str, confirmer: &str, event: &str, sig: Option<String>) -> Value {
    let mut c = json!({"id": id, "confirmer": confirmer, "event": event});
    if let Some(s) = sig {
        c["signature"] = json!(s);
    }
    c
}

fn signed_vouch(sk: &SigningKey, voucher: &str, member: &str) -> Value {
    vouch_statement(sk, voucher, member, false, now())
}

fn vouch_statement(sk: &SigningKey, voucher: &str, member: &str, revoke: bool, at: i64) -> Value {
    let issued_at = rfc3339(at);
    let msg = evidence::vouch_message(revoke, voucher, member, &issued_at);
    json!({"voucher": voucher, "member": member, "issued_at": issued_at, "revoke": revoke,
           "signature": evidence::sign(sk, msg.as_bytes())})
}

fn evidence_diffs(e: &OracleError) -> Vec<String> {
    match e {
        OracleError::Mismatch(m) => m
            .differences
            .iter()
            .filter(|d| matches!(d, Difference::Evidence(_)))
            .map(|d| d.to_string())
            .collect(),
        other => panic!("expected a mismatch, got {other}"),
    }
}

/// Re-serves a log changed by `f` with a matching digest: what a dishonest service would do.
fn forge(served: &EpochLogResponse, f: impl FnOnce(&mut EpochInputV2)) -> EpochLogResponse {
    let mut input = EpochInputV2::from_canonical_log(served.log.as_bytes()).unwrap();
    f(&mut input);
    input.canonicalize();
    let mut out = served.clone();
    out.log = String::from_utf8(input.canonical_log()).unwrap();
    out.activity_digest = hex::encode(input.activity_digest());
    out
}

async fn scoring_v2_end_to_end(b: Backend) {
    // Daily epochs; epoch 1 ends 15 s from now, so records made now are in force when it ends.
    let v2_text = rules_text();
    let app = spawn_app_with_rules(b, &v2_text, |c| {
        c.epoch.duration_secs = DAY;
        c.epoch.genesis = now() + 15 - 2 * DAY;
    })
    .await;
    let (t0, t1) = app.config.epoch_window(1);
    let mut wallets = std::collections::HashMap::new();
    for m in ["master-a", "master-b", "alice", "mallory", "bob"] {
        app.create_member(m).await;
        app.activate(m).await;
        wallets.insert(m, app.bind_new_wallet(m).await);
    }
    let app_key = stk_indexer::auth::create_key_with_scopes(
        &app.store,
        "app",
        &[
            stk_indexer::auth::Scope::Ingest,
            stk_indexer::auth::Scope::Confirm,
        ],
        Some("app"),
    )
    .await
    .unwrap()
    .unwrap()
    .key;

    // Events from the signing source: signed ones pass; unsigned, forged or back-filled do not.
    let ts = t0 + 3_600;
    let mut forged = signed_event("app-x", "alice", "practice_session", ts);
    forged["occurred_at"] = json!(rfc3339(ts + 60));
    let r = post_as(
        &app,
        &app_key,
        "/v1/activities",
        &json!({"events": [
            signed_event("app-alice-1", "alice", "practice_session", ts),
            signed_event("app-master-1", "master-a", "practice_session", ts + 10),
            event("app-unsigned", "alice", "practice_session", ts + 20),
            forged,
            signed_event("app-old", "alice", "practice_session", now() - 3 * DAY),
        ]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reasons: Vec<Value> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![
            Value::Null,
            Value::Null,
            json!("bad_signature"),
            json!("bad_signature"),
            json!("outside_window")
        ],
        "{}",
        r.text
    );
    // Self-reports through the platform's key without a source.
    let r = app
        .post(
            "/v1/activities",
            &json!({"events": [
                event("help-alice", "alice", "help_given", ts + 100),
                event("help-bob", "bob", "help_given", ts + 200),
                event("claim-mallory", "mallory", "self_report", ts + 300),
            ]}),
        )
        .await;
    assert_eq!(r.body["accepted"], 3, "{}", r.text);

    // Confirmations: master-a signs for alice's help; mallory (no trust) confirms bob's through
    // the app (a source that authenticates confirmers).
    let msg = evidence::confirmation_message("c1", "master-a", "alice", "help_given", "help-alice");
    let sig = evidence::sign(&wallets["master-a"], msg.as_bytes());
    let r = app
        .post(
            "/v1/confirmations",
            &confirmation("c1", "master-a", "help-alice", Some(sig.clone())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["auth"], "wallet");
    assert_eq!(r.body["claimant"], "alice");
    let again = app
        .post(
            "/v1/confirmations",
            &confirmation("c1", "master-a", "help-alice", Some(sig.clone())),
        )
        .await;
    assert_eq!(again.body["status"], "duplicate", "{}", again.text);
    // The app signs what it reports, so the confirmations it relays carry its signature too.
    let unsigned = post_as(
        &app,
        &app_key,
        "/v1/confirmations",
        &confirmation("c2", "mallory", "help-bob", None),
    )
    .await;
    assert_eq!(
        unsigned.body["error"], "invalid_signature",
        "{}",
        unsigned.text
    );
    let relayed = evidence::source_confirmation_message(&evidence::SourceConfirmation {
        source: "app",
        id: "c2",
        confirmer: "mallory",
        claimant: "bob",
        kind: "help_given",
        event: "help-bob",
    });
    let mut c2 = confirmation("c2", "mallory", "help-bob", None);
    c2["source_signature"] = json!(evidence::sign(&source_key(), &relayed));
    let r = post_as(&app, &app_key, "/v1/confirmations", &c2).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["auth"], "source:app");
    // Refusals.
    let msg7 =
        evidence::confirmation_message("c7", "master-a", "alice", "help_given", "help-alice");
    let sig7 = evidence::sign(&wallets["master-a"], msg7.as_bytes());
    for (body, status, code) in [
        (
            confirmation("c3", "alice", "help-alice", None),
            StatusCode::BAD_REQUEST,
            "self_record",
        ),
        (
            confirmation("c4", "bob", "no-such-event", None),
            StatusCode::NOT_FOUND,
            "unknown_event",
        ),
        // The test platform key has no source: an unsigned confirmation is not accountable.
        (
            confirmation("c5", "bob", "help-alice", None),
            StatusCode::FORBIDDEN,
            "unauthenticated_record",
        ),
        // master-a's signature does not make bob's confirmation.
        (
            confirmation("c6", "bob", "help-alice", Some(sig.clone())),
            StatusCode::BAD_REQUEST,
            "invalid_signature",
        ),
        // Another id for the same (confirmer, event).
        (
            confirmation("c7", "master-a", "help-alice", Some(sig7)),
            StatusCode::CONFLICT,
            "conflict",
        ),
    ] {
        let r = app.post("/v1/confirmations", &body).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (status, Some(code)),
            "{}",
            r.text
        );
    }

    // Vouches and subscriptions: alice is vouched by both masters; mallory by nobody.
    for m in ["master-a", "master-b"] {
        let r = app
            .post("/v1/vouches", &signed_vouch(&wallets[m], m, "alice"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // Mallory cannot sign a vouch in a master's name.
    let forged = app
        .post(
            "/v1/vouches",
            &signed_vouch(&wallets["mallory"], "master-a", "mallory"),
        )
        .await;
    assert_eq!(forged.body["error"], "invalid_signature", "{}", forged.text);
    let until = json!({"active_until": rfc3339(now() + 30 * DAY)});
    for m in ["master-a", "master-b", "alice", "mallory", "bob"] {
        let s = put_as(
            &app,
            &app.key,
            &format!("/v1/members/{m}/subscription"),
            &until,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }

    // Epoch 1 ends; without the source's manifest the service refuses to score it.
    let wait = t1 - now() + 1;
    if wait > 0 {
        tokio::time::sleep(std::time::Duration::from_secs(wait as u64)).await;
    }
    // A confirmation after the epoch ended could not count: refused with the reason.
    let msg8 = evidence::confirmation_message("c8", "master-b", "bob", "help_given", "help-bob");
    let late = app
        .post(
            "/v1/confirmations",
            &confirmation(
                "c8",
                "master-b",
                "help-bob",
                Some(evidence::sign(&wallets["master-b"], msg8.as_bytes())),
            ),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(late.body["error"], "epoch_ended", "{}", late.text);
    let err = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stk_indexer::epoch::EpochError::Evidence { .. })
            && err.to_string().contains("signed no manifest"),
        "{err}"
    );
    // The source states what it sent (a frozen epoch still takes its manifest).
    let digest = stk_indexer::records::digest_hex(
        "app",
        [
            ("app-alice-1", "alice", ts),
            ("app-master-1", "master-a", ts + 10),
        ]
        .into_iter()
        .map(|(id, member, at)| stk_indexer::records::EventRef {
            id,
            member,
            kind: "practice_session",
            occurred_at: at,
        }),
    );
    let msg = evidence::manifest_message("app", 1, 2, &digest);
    let bad = post_as(
        &app,
        &app_key,
        "/v1/sources/manifests",
        &json!({"epoch": 1, "events": 3, "digest": digest,
                "signature": evidence::sign(&source_key(), &msg)}),
    )
    .await;
    assert_eq!(bad.body["error"], "invalid_signature", "{}", bad.text);
    let r = post_as(
        &app,
        &app_key,
        "/v1/sources/manifests",
        &json!({"epoch": 1, "events": 2, "digest": digest,
                "signature": evidence::sign(&source_key(), &msg)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let run = stk_indexer::epoch::score(&app.store, &app.config, &app.rules, 1, false)
        .await
        .unwrap();
    let AnyScore::V2(score) = &run.score else {
        panic!("rules v2 score")
    };
    let receipt = |m: &str| score.receipts.iter().find(|r| r.member == m).unwrap();
    let alice = receipt("alice");
    assert!(alice.eligible && alice.amount > 0, "{alice:?}");
    assert_eq!(alice.vouches_counted, 2);
    assert!(alice
        .counted
        .iter()
        .any(|c| c.id == "help-alice" && c.confirmations == ["c1"]));
    let bob = receipt("bob");
    assert!(
        bob.dropped.iter().any(|d| d.id == "help-bob"),
        "a confirmation by an untrusted member does not count: {bob:?}"
    );
    let mallory = receipt("mallory");
    assert_eq!(mallory.amount, 0, "no vouches: on probation, not paid");
    assert!(!mallory.eligible);
    let text = stk_indexer::epoch::explain_v2(alice);
    assert!(
        text.contains("confirmed by c1") && text.contains("trust:") && text.contains("2 vouches"),
        "{text}"
    );
    // The receipt is stored and explained from the store too.
    let stored: stk_scoring::AnyReceipt =
        serde_json::from_str(&app.store.receipt(1, "alice").await.unwrap().unwrap()).unwrap();
    assert_eq!(stk_indexer::epoch::explain_any(&stored), text);
    // State carried into the next epoch.
    let members = app.store.scoring_members_v2(2).await.unwrap();
    let alice_row = members.iter().find(|m| m.id == "alice").unwrap();
    assert!(alice_row.state.is_some(), "alice's state was stored");

    // An oracle recomputes the epoch from what the service publishes, evidence included.
    let r = app.get("/v1/epochs/1/log").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let served: EpochLogResponse = serde_json::from_str(&r.text).unwrap();
    let ev = served
        .evidence
        .clone()
        .expect("a v2 log carries its evidence");
    assert_eq!(ev.event_signatures.len(), 2);
    assert_eq!(ev.manifests.len(), 1);
    assert!(ev.signed_records.iter().any(|s| s.id == "c1"));
    assert!(ev
        .signed_records
        .iter()
        .any(|s| s.kind == "vouch" && s.id == "master-b/alice"));
    let ok = verify(&served, None).expect("the honest log verifies");
    assert_eq!(ok.amounts.get("alice").copied(), Some(alice.amount));

    // After a change of rules (here back to v1) the epoch is still served, and recomputed, with the
    // rules it was scored with.
    let v1 = rules();
    let later =
        stk_indexer::oracle::epoch_log(&app.store, &app.config, &v1, Some(&rules_v1_text()), 1)
            .await
            .unwrap();
    assert_eq!(later.rules_toml, v2_text);
    assert_eq!(later.log, served.log);
    verify(&later, None).expect("old epoch verifies under its own rules");

    // Vouches are statements kept forever: a revocation and a new vouch after the epoch leave the
    // epoch's evidence (the statement in force at its end) intact; an old statement cannot be
    // replayed, and there is nothing to revoke twice.
    let mk = &wallets["master-a"];
    let t = now();
    let r = app
        .post(
            "/v1/vouches",
            &vouch_statement(mk, "master-a", "alice", true, t + 1),
        )
        .await;
    assert_eq!(r.body["status"], "revoked", "{}", r.text);
    let r = app
        .post(
            "/v1/vouches",
            &vouch_statement(mk, "master-a", "alice", true, t + 2),
        )
        .await;
    assert_eq!(r.body["error"], "nothing_to_revoke", "{}", r.text);
    let r = app
        .post(
            "/v1/vouches",
            &vouch_statement(mk, "master-a", "alice", false, t),
        )
        .await;
    assert_eq!(r.body["error"], "stale", "{}", r.text);
    let r = app
        .post(
            "/v1/vouches",
            &vouch_statement(mk, "master-a", "alice", false, t + 3),
        )
        .await;
    assert_eq!(r.body["status"], "vouched", "{}", r.text);
    let again: EpochLogResponse =
        serde_json::from_str(&app.get("/v1/epochs/1/log").await.text).unwrap();
    assert_eq!(again.evidence, served.evidence);
    verify(&again, None).expect("the old epoch's vouches are still proven");
    assert_eq!(
        app.store
            .vouches_at(t + 2)
            .await
            .unwrap()
            .iter()
            .filter(|v| v.member == "alice")
            .count(),
        1,
        "between the revocation and the new vouch only master-b's stands"
    );

    // A dishonest service: tampered, invented and omitted events, each with a consistent digest.
    let tampered = forge(&served, |i| {
        let e = i.events.iter_mut().find(|e| e.id == "app-alice-1").unwrap();
        e.occurred_at += 60;
    });
    let d = evidence_diffs(&verify(&tampered, None).unwrap_err());
    assert!(
        d.iter()
            .any(|x| x.contains("app-alice-1") && x.contains("altered or invented")),
        "{d:?}"
    );
    let invented = forge(&served, |i| {
        i.events.push(EventV2 {
            id: "app-invented".into(),
            member: "mallory".into(),
            kind: "practice_session".into(),
            occurred_at: ts + 30,
            received_at: ts + 31,
            source: "app".into(),
        })
    });
    let d = evidence_diffs(&verify(&invented, None).unwrap_err());
    assert!(
        d.iter()
            .any(|x| x.contains("app-invented") && x.contains("no source signature")),
        "{d:?}"
    );
    let omitted = forge(&served, |i| i.events.retain(|e| e.id != "app-master-1"));
    let d = evidence_diffs(&verify(&omitted, None).unwrap_err());
    assert!(
        d.iter()
            .any(|x| x.contains("signed 2 events") && x.contains("holds 1")),
        "{d:?}"
    );
    assert_eq!(ev.source_confirmations.len(), 1, "c2, relayed by the app");
    let redirected = forge(&served, |i| {
        let c = i.confirmations.iter_mut().find(|c| c.id == "c2").unwrap();
        c.confirmer = "master-b".into();
    });
    let d = evidence_diffs(&verify(&redirected, None).unwrap_err());
    assert!(
        d.iter()
            .any(|x| x.contains("confirmation c2 relayed by source app")),
        "{d:?}"
    );
    let mut unsigned = served.clone();
    unsigned
        .evidence
        .as_mut()
        .unwrap()
        .signed_records
        .retain(|s| s.id != "c1");
    let d = evidence_diffs(&verify(&unsigned, None).unwrap_err());
    assert!(
        d.iter()
            .any(|x| x.contains("confirmation c1") && x.contains("no signed record")),
        "{d:?}"
    );
}

backend_tests!(scoring_v2_end_to_end);
