//! Checking the evidence behind a rules-v2 log (`crate::evidence` has the byte formats): what makes
//! an invented, altered or omitted record visible to an oracle that does not trust the service.
use std::collections::HashMap;

use super::verify::{check_binding, Difference};
use super::wire::EpochEvidence;
use crate::wallet;

/// Rules v2: every event of a signing source is signed by it and covered by its manifest, whose
/// count and digest match the log (so an invented, altered or omitted event is caught), and every
/// wallet-authenticated confirmation and vouch is signed, over its canonical message, by a wallet
/// proven to be its author's.
pub fn check_evidence(
    rules: &stk_scoring::RulesV2,
    input: &stk_scoring::EpochInputV2,
    ev: &EpochEvidence,
    diffs: &mut Vec<Difference>,
) {
    use crate::evidence::{self as evd, SourceEvent};
    let mut push = |m: String| diffs.push(Difference::Evidence(m));
    let sigs: HashMap<&str, &str> = ev
        .event_signatures
        .iter()
        .map(|s| (s.id.as_str(), s.signature.as_str()))
        .collect();
    for (name, src) in &rules.sources {
        let Some(pk) = src.pubkey.as_deref() else {
            continue;
        };
        let Ok(key) = evd::parse_pubkey(pk) else {
            push(format!("sources.{name}.pubkey is not a key"));
            continue;
        };
        let events: Vec<SourceEvent<'_>> = input
            .events
            .iter()
            .filter(|e| e.source == *name)
            .map(|e| SourceEvent {
                source: name,
                id: &e.id,
                member: &e.member,
                kind: &e.kind,
                occurred_at: e.occurred_at,
            })
            .collect();
        for e in &events {
            match sigs.get(e.id) {
                None => push(format!(
                    "event {} of source {name} has no source signature",
                    e.id
                )),
                Some(sig) => {
                    if let Err(err) = evd::verify(&key, &evd::source_event_message(e), sig) {
                        push(format!(
                            "event {} of source {name}: {err} (altered or invented)",
                            e.id
                        ));
                    }
                }
            }
        }
        let manifest = ev
            .manifests
            .iter()
            .find(|m| m.source == *name && m.epoch == input.epoch);
        match manifest {
            None if events.is_empty() => {}
            None => push(format!(
                "source {name} reported {} events but signed no manifest for epoch {}",
                events.len(),
                input.epoch
            )),
            Some(m) => {
                let message = evd::manifest_message(name, m.epoch, m.events, &m.digest);
                if let Err(err) = evd::verify(&key, &message, &m.signature) {
                    push(format!("manifest of source {name}: {err}"));
                }
                let mut evs = events.clone();
                let digest = hex::encode(evd::manifest_digest(&mut evs));
                if m.events != events.len() as u64 || m.digest != digest {
                    push(format!(
                        "source {name} signed {} events (digest {}), the log holds {} of its events (digest {digest}): an event was omitted, added or changed",
                        m.events,
                        m.digest,
                        events.len()
                    ));
                }
            }
        }
    }
    let relayed: HashMap<&str, &str> = ev
        .source_confirmations
        .iter()
        .map(|s| (s.id.as_str(), s.signature.as_str()))
        .collect();
    for c in &input.confirmations {
        if let stk_scoring::Auth::Source(name) = &c.auth {
            let Some(pk) = rules.sources.get(name).and_then(|s| s.pubkey.as_deref()) else {
                continue;
            };
            let bytes = evd::source_confirmation_message(&evd::SourceConfirmation {
                source: name,
                id: &c.id,
                confirmer: &c.confirmer,
                claimant: &c.claimant,
                kind: &c.kind,
                event: &c.event,
            });
            let checked = match (evd::parse_pubkey(pk), relayed.get(c.id.as_str())) {
                (_, None) => Err("has no source signature".to_owned()),
                (Err(e), _) => Err(e.to_string()),
                (Ok(key), Some(sig)) => {
                    evd::verify(&key, &bytes, sig).map_err(|e| format!("{e} (altered or invented)"))
                }
            };
            if let Err(e) = checked {
                push(format!(
                    "confirmation {} relayed by source {name} {e}",
                    c.id
                ));
            }
        }
    }
    let proven: HashMap<(&str, &str), ()> = ev
        .bindings
        .iter()
        .filter(|b| check_binding(b).is_ok())
        .map(|b| ((b.member.as_str(), b.wallet.as_str()), ()))
        .collect();
    let records: HashMap<(&str, &str), &super::wire::SignedRecord> = ev
        .signed_records
        .iter()
        .map(|r| ((r.kind.as_str(), r.id.as_str()), r))
        .collect();
    let mut check = |kind: &str, id: String, signer: &str, expected: &dyn Fn(&str) -> bool| {
        let Some(r) = records.get(&(kind, id.as_str())) else {
            push(format!(
                "{kind} {id} is wallet-authenticated but no signed record is served"
            ));
            return;
        };
        if r.signer != signer || !expected(&r.message) {
            push(format!(
                "{kind} {id}: the signed message is not this record's"
            ));
        } else if !proven.contains_key(&(r.signer.as_str(), r.wallet.as_str())) {
            push(format!(
                "{kind} {id}: no valid proof that {} belongs to {signer}",
                r.wallet
            ));
        } else if let Err(e) = wallet::verify(&r.wallet, &r.message, &r.signature) {
            push(format!("{kind} {id}: {e}"));
        }
    };
    for c in &input.confirmations {
        if c.auth != stk_scoring::Auth::Wallet {
            continue;
        }
        let want = evd::confirmation_message(&c.id, &c.confirmer, &c.claimant, &c.kind, &c.event);
        check("confirmation", c.id.clone(), &c.confirmer, &|m| m == want);
    }
    for v in &input.vouches {
        if v.auth != stk_scoring::Auth::Wallet {
            continue;
        }
        // Any vouch (not a revocation) this voucher signed for this member.
        let head = format!(
            "SysTok vouch\naction: vouch\nvoucher: {}\nmember: {}\nissued_at: ",
            v.voucher, v.member
        );
        check(
            "vouch",
            format!("{}/{}", v.voucher, v.member),
            &v.voucher,
            &|m| m.starts_with(&head) && !m[head.len()..].contains('\n'),
        );
    }
}
