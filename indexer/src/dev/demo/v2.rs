//! `demo --rules v2`: the same community under scoring v2. The platform reports subscriptions, the
//! masters vouch for the members, practice sessions come from the app (an observed source), help is
//! confirmed by the helped member's own wallet-signed record — and the service's clock follows the
//! replayed weeks day by day (`store::set_clock`), because v2 refuses back-filled records.
use std::collections::HashMap;

use anyhow::{bail, Context};
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};
use solana_sdk::signature::Keypair;

use super::activity::Member;
use crate::store::set_clock;

/// The committed v2 rules.
const RULES_V2: &str = include_str!("../../../../rules/rules.v2.toml");

/// While alive, the service's clock is the replay's; dropped (also on an error), it is the wall
/// clock again.
pub(super) struct Replay;

impl Drop for Replay {
    fn drop(&mut self) {
        set_clock(None);
    }
}

/// Masters of the demo community: every 10th steady member, at least one.
pub(super) fn masters(steady: &[String]) -> Vec<String> {
    steady.iter().step_by(10).cloned().collect()
}

/// `rules/rules.v2.toml` with the demo's masters as trust seeds. The demo's community is young —
/// everyone joins the same day — so the masters' sponsorship budget (new members a member can vouch
/// for or confirm per epoch) is raised from 2 to 1,000 to onboard it at once, and members confirm
/// from their first epoch (`min_confirmer_tenure_epochs` 2 → 0); every other value is the committed
/// file's.
pub(super) fn rules_text(masters: &[String]) -> anyhow::Result<String> {
    let start = RULES_V2
        .find("seeds = [")
        .context("rules.v2.toml has seeds")?;
    let end = start + RULES_V2[start..].find(']').context("seeds end")? + 1;
    let seeds: Vec<String> = masters.iter().map(|m| format!("{m:?}")).collect();
    let text = format!(
        "{}seeds = [{}]{}",
        &RULES_V2[..start],
        seeds.join(", "),
        &RULES_V2[end..]
    );
    let mut text = text;
    for (from, to) in [
        (
            "max_new_members_per_epoch = 2\n",
            "max_new_members_per_epoch = 1_000\n",
        ),
        (
            "min_confirmer_tenure_epochs = 2 ",
            "min_confirmer_tenure_epochs = 0 ",
        ),
    ] {
        if !text.contains(from) {
            bail!("rules.v2.toml changed: no {from:?}");
        }
        text = text.replacen(from, to, 1);
    }
    Ok(text)
}

fn signing_key(wallet: &Keypair) -> SigningKey {
    SigningKey::from_bytes(
        wallet.secret_bytes()[..32]
            .try_into()
            .expect("32-byte secret"),
    )
}

async fn send(req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let r = req.send().await?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("API answered {status}: {body}");
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The platform's side of v2 at the community's start: subscriptions until `paid_until`, and each
/// member vouched for by two masters (signed by the masters' wallets).
pub(super) async fn onboard(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    members: &[Member],
    masters: &[String],
    paid_until: i64,
) -> anyhow::Result<()> {
    let by_id: HashMap<&str, &Member> = members.iter().map(|m| (m.id.as_str(), m)).collect();
    for m in members {
        send(
            http.put(format!("{base}/v1/members/{}/subscription", m.id))
                .bearer_auth(key)
                .json(&json!({"active_until": crate::wallet::rfc3339(paid_until)})),
        )
        .await?;
    }
    for (i, m) in members.iter().enumerate() {
        for k in 0..2 {
            let master = &masters[(i + k) % masters.len()];
            if *master == m.id {
                continue;
            }
            let issued_at = crate::wallet::rfc3339(crate::store::now_unix());
            let message = crate::evidence::vouch_message(false, master, &m.id, &issued_at);
            let sk = signing_key(&by_id[master.as_str()].wallet);
            let signature = bs58::encode(sk.sign(message.as_bytes()).to_bytes()).into_string();
            send(http.post(format!("{base}/v1/vouches")).bearer_auth(key).json(&json!({
                "voucher": master, "member": m.id, "issued_at": issued_at, "signature": signature
            })))
            .await?;
        }
    }
    Ok(())
}

/// Posts one epoch's activity day by day (days counted from the epoch's `start`) with the service's
/// clock a minute after the day's last event:
/// practice sessions through the app's key (observed), everything else through the platform's key
/// (members' reports), and each helped member's confirmation signed by that member's wallet.
pub(super) async fn post_epoch(
    http: &reqwest::Client,
    base: &str,
    platform_key: &str,
    app_key: &str,
    members: &[Member],
    start: i64,
    events: Vec<Value>,
) -> anyhow::Result<()> {
    const DAY: i64 = 86_400;
    let by_id: HashMap<&str, &Member> = members.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut days: std::collections::BTreeMap<i64, Vec<(i64, Value)>> = Default::default();
    for mut e in events {
        let at = crate::ingest::parse_timestamp(e["occurred_at"].as_str().unwrap_or_default())
            .context("demo events carry RFC 3339 times")?;
        // v2 ignores confirmations inside an event: they become the confirmers' own records below.
        let peer = e["confirmations"].get(0).cloned().unwrap_or(Value::Null);
        e.as_object_mut()
            .expect("an event object")
            .remove("confirmations");
        e["_peer"] = peer;
        days.entry((at - start).div_euclid(DAY))
            .or_default()
            .push((at, e));
    }
    for events in days.into_values() {
        let last = events.iter().map(|(at, _)| *at).max().unwrap_or(start);
        set_clock(Some(last + 60));
        let (mut observed, mut reported): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
        let mut confirmations = Vec::new();
        for (_, mut e) in events {
            if let Some(peer) = e["_peer"].as_str() {
                confirmations.push((
                    e["id"].as_str().unwrap_or_default().to_owned(),
                    e["member"].as_str().unwrap_or_default().to_owned(),
                    e["kind"].as_str().unwrap_or_default().to_owned(),
                    peer.to_owned(),
                ));
            }
            e.as_object_mut().expect("an event object").remove("_peer");
            if e["kind"] == "practice_session" {
                observed.push(e);
            } else {
                reported.push(e);
            }
        }
        for (key, batch) in [(app_key, observed), (platform_key, reported)] {
            for chunk in batch.chunks(1_000) {
                let r = send(
                    http.post(format!("{base}/v1/activities"))
                        .bearer_auth(key)
                        .json(&json!({ "events": chunk })),
                )
                .await?;
                if r["rejected"].as_u64().unwrap_or(0) > 0 {
                    bail!("the API rejected demo events: {r}");
                }
            }
        }
        for (event, claimant, kind, peer) in confirmations {
            let id = format!("{event}-c");
            let message =
                crate::evidence::confirmation_message(&id, &peer, &claimant, &kind, &event);
            let sk = signing_key(&by_id[peer.as_str()].wallet);
            let signature = bs58::encode(sk.sign(message.as_bytes()).to_bytes()).into_string();
            send(
                http.post(format!("{base}/v1/confirmations"))
                    .bearer_auth(platform_key)
                    .json(&json!({"id": id, "confirmer": peer, "event": event, "signature": signature})),
            )
            .await?;
        }
    }
    Ok(())
}
