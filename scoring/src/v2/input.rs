//! Epoch input of format 2 and its canonical log (`stk-activity-v2`).

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::input::{line_error, log_body, push_int, push_json_str, LogError};

/// Domain prefix of [`EpochInputV2::activity_digest`] and `format` of the log header.
pub const ACTIVITY_V2_DOMAIN: &[u8] = b"stk-activity-v2";
pub const LOG_V2_FORMAT: &str = "stk-activity-v2";

/// How a confirmation or vouch was authenticated (checked by the indexer before scoring).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Auth {
    /// Signed by the confirmer's bound wallet over the canonical confirmation message.
    Wallet,
    /// Posted by this platform source, which authenticated the confirmer.
    Source(String),
    /// Not authenticated (e.g. a member id inside the claimant's payload): never counts.
    None,
}

impl Auth {
    fn encode(&self) -> String {
        match self {
            Auth::Wallet => "wallet".to_owned(),
            Auth::Source(s) => format!("source:{s}"),
            Auth::None => "none".to_owned(),
        }
    }
}

impl Serialize for Auth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "wallet" => Ok(Auth::Wallet),
            "none" => Ok(Auth::None),
            _ => match s.strip_prefix("source:") {
                Some(src) => Ok(Auth::Source(src.to_owned())),
                None => Err(serde::de::Error::custom(format!("bad auth {s:?}"))),
            },
        }
    }
}

/// Per-kind counters carried from earlier epochs (calendar caps, cooldown, diminishing).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct KindCarry {
    pub kind: String,
    /// UTC day index and counted events of the kind that day.
    pub day: i64,
    pub day_count: u32,
    /// Monday-based week index and count.
    pub week: i64,
    pub week_count: u32,
    /// Calendar month index (`year * 12 + month - 1`) and count.
    pub month: i64,
    pub month_count: u32,
    /// `occurred_at` of the last counted event of the kind.
    pub last_at: i64,
}

/// A member's state from earlier epochs: the previous epoch's [`EpochScoreV2::next_states`]
/// entry (default for a new member).
///
/// [`EpochScoreV2::next_states`]: crate::EpochScoreV2::next_states
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct MemberState {
    /// Lifetime paid epochs with at least `tenure.min_active_days` active days.
    pub tenure_epochs: u32,
    /// Trust at the end of the previous epoch ([`crate::TRUST_ONE`] = mean).
    pub trust: u64,
    /// Counters per kind, sorted by kind.
    pub carry: Vec<KindCarry>,
}

/// A member as known when the epoch was frozen.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct MemberV2 {
    pub id: String,
    pub active: bool,
    /// An active subscription reported by the platform during the epoch (eligibility).
    pub subscribed: bool,
    pub state: MemberState,
}

/// One recorded activity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct EventV2 {
    pub id: String,
    pub member: String,
    pub kind: String,
    /// Unix seconds, as claimed by the reporter.
    pub occurred_at: i64,
    /// Unix seconds when the platform received it (set by the indexer, not the reporter).
    pub received_at: i64,
    /// Source id that delivered it (`sources.<id>` in the rules), or `"member"` for a self-report.
    pub source: String,
}

/// A confirmation: the confirmer's own record about one event of the claimant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub id: String,
    pub confirmer: String,
    pub claimant: String,
    pub kind: String,
    /// Id of the confirmed event.
    pub event: String,
    pub confirmed_at: i64,
    pub auth: Auth,
}

/// A standing vouch: `voucher` vouches that `member` is a real, known person. The indexer passes
/// every unrevoked vouch in every epoch. Vouches are edges of the trust graph and give eligibility.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct Vouch {
    pub voucher: String,
    pub member: String,
    pub auth: Auth,
}

/// Everything v2 scoring needs for one epoch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EpochInputV2 {
    pub epoch: u64,
    pub starts_at: i64,
    /// Exclusive.
    pub ends_at: i64,
    pub budget: u64,
    pub members: Vec<MemberV2>,
    pub events: Vec<EventV2>,
    pub confirmations: Vec<Confirmation>,
    pub vouches: Vec<Vouch>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<S> {
    format: S,
    epoch: u64,
    starts_at: i64,
    ends_at: i64,
    budget: u64,
    members: u64,
    events: u64,
    confirmations: u64,
    vouches: u64,
}

pub(crate) fn event_cmp(a: &EventV2, b: &EventV2) -> Ordering {
    a.occurred_at
        .cmp(&b.occurred_at)
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.cmp(b))
}

pub(crate) fn confirmation_cmp(a: &Confirmation, b: &Confirmation) -> Ordering {
    a.confirmed_at
        .cmp(&b.confirmed_at)
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.cmp(b))
}

fn sorted_idx<T>(v: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..v.len() as u32).collect();
    // Fast path: input already in canonical order (what the indexer's ORDER BY gives).
    if v.windows(2).all(|w| cmp(&w[0], &w[1]) != Ordering::Greater) {
        return idx;
    }
    idx.sort_unstable_by(|&a, &b| cmp(&v[a as usize], &v[b as usize]).then(a.cmp(&b)));
    idx
}

const FLUSH_AT: usize = 1 << 16;

impl EpochInputV2 {
    /// Sorts members by id (and each member's carry by kind), events by `(occurred_at, id)`,
    /// confirmations by `(confirmed_at, id)`, vouches by `(voucher, member, auth)`; remaining
    /// fields break ties.
    pub fn canonicalize(&mut self) {
        for m in &mut self.members {
            m.state.carry.sort();
        }
        self.members.sort();
        self.events.sort_by(event_cmp);
        self.confirmations.sort_by(confirmation_cmp);
        self.vouches.sort();
    }

    pub(crate) fn orders(&self) -> Orders {
        Orders {
            members: sorted_idx(&self.members, |a, b| a.id.cmp(&b.id).then_with(|| a.cmp(b))),
            events: if self
                .events
                .windows(2)
                .all(|w| event_cmp(&w[0], &w[1]) != Ordering::Greater)
            {
                (0..self.events.len() as u32).collect()
            } else {
                let mut keys: Vec<(i64, u32)> = self
                    .events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.occurred_at, i as u32))
                    .collect();
                keys.sort_unstable();
                let ev = &self.events;
                for run in keys.chunk_by_mut(|a, b| a.0 == b.0) {
                    if run.len() > 1 {
                        run.sort_unstable_by(|a, b| {
                            event_cmp(&ev[a.1 as usize], &ev[b.1 as usize]).then(a.1.cmp(&b.1))
                        });
                    }
                }
                keys.into_iter().map(|(_, i)| i).collect()
            },
            confirmations: sorted_idx(&self.confirmations, confirmation_cmp),
            vouches: sorted_idx(&self.vouches, Ord::cmp),
        }
    }

    /// Canonical log v2 (JSON Lines; see README "Canonical log v2").
    pub fn canonical_log(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_log(&self.orders(), |b| out.extend_from_slice(b));
        out
    }

    /// `sha256("stk-activity-v2" || canonical_log)`, streamed.
    pub fn activity_digest(&self) -> [u8; 32] {
        self.digest_with(&self.orders())
    }

    pub(crate) fn digest_with(&self, o: &Orders) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(ACTIVITY_V2_DOMAIN);
        self.write_log(o, |b| h.update(b));
        h.finalize().into()
    }

    fn write_log(&self, o: &Orders, mut sink: impl FnMut(&[u8])) {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let header = Header {
            format: LOG_V2_FORMAT,
            epoch: self.epoch,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            budget: self.budget,
            members: self.members.len() as u64,
            events: self.events.len() as u64,
            confirmations: self.confirmations.len() as u64,
            vouches: self.vouches.len() as u64,
        };
        // Serializing plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut buf, &header);
        buf.push(b'\n');
        let line = |buf: &mut Vec<u8>, sink: &mut dyn FnMut(&[u8])| {
            buf.push(b'\n');
            if buf.len() >= FLUSH_AT {
                sink(buf);
                buf.clear();
            }
        };
        for &i in &o.members {
            push_member(&mut buf, &self.members[i as usize]);
            line(&mut buf, &mut sink);
        }
        for &i in &o.events {
            push_event(&mut buf, &self.events[i as usize]);
            line(&mut buf, &mut sink);
        }
        for &i in &o.confirmations {
            push_confirmation(&mut buf, &self.confirmations[i as usize]);
            line(&mut buf, &mut sink);
        }
        for &i in &o.vouches {
            push_vouch(&mut buf, &self.vouches[i as usize]);
            line(&mut buf, &mut sink);
        }
        sink(&buf);
    }

    /// Parses a canonical v2 log; rejects anything that does not re-serialize byte for byte.
    pub fn from_canonical_log(bytes: &[u8]) -> Result<EpochInputV2, LogError> {
        let body = log_body(bytes)?;
        let mut lines = body.split(|&b| b == b'\n');
        let header: Header<String> = serde_json::from_slice(lines.next().unwrap_or_default())
            .map_err(|e| line_error(1, e))?;
        if header.format != LOG_V2_FORMAT {
            return Err(LogError::Format(header.format));
        }
        let found = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let expected = header
            .members
            .saturating_add(header.events)
            .saturating_add(header.confirmations)
            .saturating_add(header.vouches);
        if found != expected {
            return Err(LogError::Count {
                what: "member + event + confirmation + vouch",
                expected,
                found,
            });
        }
        let mut input = EpochInputV2 {
            epoch: header.epoch,
            starts_at: header.starts_at,
            ends_at: header.ends_at,
            budget: header.budget,
            members: Vec::with_capacity(header.members as usize),
            events: Vec::with_capacity(header.events as usize),
            confirmations: Vec::with_capacity(header.confirmations as usize),
            vouches: Vec::with_capacity(header.vouches as usize),
        };
        let (m, e, c) = (
            header.members,
            header.members + header.events,
            header.members + header.events + header.confirmations,
        );
        for (n, line) in lines.enumerate() {
            let no = n + 2;
            let n = n as u64;
            if n < m {
                input
                    .members
                    .push(serde_json::from_slice(line).map_err(|x| line_error(no, x))?);
            } else if n < e {
                input
                    .events
                    .push(serde_json::from_slice(line).map_err(|x| line_error(no, x))?);
            } else if n < c {
                input
                    .confirmations
                    .push(serde_json::from_slice(line).map_err(|x| line_error(no, x))?);
            } else {
                input
                    .vouches
                    .push(serde_json::from_slice(line).map_err(|x| line_error(no, x))?);
            }
        }
        if input.canonical_log() != bytes {
            return Err(LogError::NotCanonical);
        }
        Ok(input)
    }
}

/// The hand-written writers below produce exactly what `serde_json::to_writer` writes for these
/// structs (field order = declaration order; checked by a test), without its per-string escaping
/// pass for strings that need no escape.
fn push_auth(out: &mut Vec<u8>, a: &Auth) {
    match a {
        Auth::Wallet => out.extend_from_slice(b"\"wallet\""),
        Auth::None => out.extend_from_slice(b"\"none\""),
        Auth::Source(s) => push_json_str(out, &format!("source:{s}")),
    }
}

fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_member(out: &mut Vec<u8>, m: &MemberV2) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &m.id);
    out.extend_from_slice(b",\"active\":");
    push_bool(out, m.active);
    out.extend_from_slice(b",\"subscribed\":");
    push_bool(out, m.subscribed);
    out.extend_from_slice(b",\"state\":{\"tenure_epochs\":");
    push_int(out, m.state.tenure_epochs);
    out.extend_from_slice(b",\"trust\":");
    push_int(out, m.state.trust);
    out.extend_from_slice(b",\"carry\":[");
    let mut sorted: Vec<&KindCarry> = m.state.carry.iter().collect();
    sorted.sort();
    for (i, c) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"kind\":");
        push_json_str(out, &c.kind);
        for (k, v) in [
            (&b",\"day\":"[..], c.day),
            (b",\"day_count\":", i64::from(c.day_count)),
            (b",\"week\":", c.week),
            (b",\"week_count\":", i64::from(c.week_count)),
            (b",\"month\":", c.month),
            (b",\"month_count\":", i64::from(c.month_count)),
            (b",\"last_at\":", c.last_at),
        ] {
            out.extend_from_slice(k);
            push_int(out, v);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}");
}

fn push_event(out: &mut Vec<u8>, e: &EventV2) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &e.id);
    out.extend_from_slice(b",\"member\":");
    push_json_str(out, &e.member);
    out.extend_from_slice(b",\"kind\":");
    push_json_str(out, &e.kind);
    out.extend_from_slice(b",\"occurred_at\":");
    push_int(out, e.occurred_at);
    out.extend_from_slice(b",\"received_at\":");
    push_int(out, e.received_at);
    out.extend_from_slice(b",\"source\":");
    push_json_str(out, &e.source);
    out.push(b'}');
}

fn push_confirmation(out: &mut Vec<u8>, c: &Confirmation) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &c.id);
    out.extend_from_slice(b",\"confirmer\":");
    push_json_str(out, &c.confirmer);
    out.extend_from_slice(b",\"claimant\":");
    push_json_str(out, &c.claimant);
    out.extend_from_slice(b",\"kind\":");
    push_json_str(out, &c.kind);
    out.extend_from_slice(b",\"event\":");
    push_json_str(out, &c.event);
    out.extend_from_slice(b",\"confirmed_at\":");
    push_int(out, c.confirmed_at);
    out.extend_from_slice(b",\"auth\":");
    push_auth(out, &c.auth);
    out.push(b'}');
}

fn push_vouch(out: &mut Vec<u8>, v: &Vouch) {
    out.extend_from_slice(b"{\"voucher\":");
    push_json_str(out, &v.voucher);
    out.extend_from_slice(b",\"member\":");
    push_json_str(out, &v.member);
    out.extend_from_slice(b",\"auth\":");
    push_auth(out, &v.auth);
    out.push(b'}');
}

pub(crate) struct Orders {
    pub members: Vec<u32>,
    pub events: Vec<u32>,
    pub confirmations: Vec<u32>,
    pub vouches: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_lines_match_serde_json() {
        let awkward = [
            "plain",
            "",
            "q\"b\\s",
            "tab\tnl\nnul\u{0}del\u{7f}",
            "é😀\u{2028}",
        ];
        for s in awkward {
            let m = MemberV2 {
                id: s.into(),
                active: true,
                subscribed: false,
                state: MemberState {
                    tenure_epochs: u32::MAX,
                    trust: u64::MAX,
                    carry: vec![
                        KindCarry {
                            kind: format!("z{s}"),
                            day: i64::MIN,
                            day_count: 1,
                            week: -1,
                            week_count: 2,
                            month: 3,
                            month_count: u32::MAX,
                            last_at: i64::MAX,
                        },
                        KindCarry {
                            kind: s.into(),
                            day: 0,
                            day_count: 0,
                            week: 0,
                            week_count: 0,
                            month: 0,
                            month_count: 0,
                            last_at: 0,
                        },
                    ],
                },
            };
            let mut sorted = m.clone();
            sorted.state.carry.sort();
            let mut ours = Vec::new();
            push_member(&mut ours, &m);
            assert_eq!(ours, serde_json::to_vec(&sorted).unwrap(), "{s:?}");
            let e = EventV2 {
                id: s.into(),
                member: format!("{s}m"),
                kind: format!("k{s}"),
                occurred_at: i64::MIN,
                received_at: -7,
                source: s.into(),
            };
            let mut ours = Vec::new();
            push_event(&mut ours, &e);
            assert_eq!(ours, serde_json::to_vec(&e).unwrap(), "{s:?}");
            for auth in [Auth::Wallet, Auth::None, Auth::Source(s.into())] {
                let c = Confirmation {
                    id: s.into(),
                    confirmer: "a".into(),
                    claimant: s.into(),
                    kind: "k".into(),
                    event: s.into(),
                    confirmed_at: 5,
                    auth: auth.clone(),
                };
                let mut ours = Vec::new();
                push_confirmation(&mut ours, &c);
                assert_eq!(ours, serde_json::to_vec(&c).unwrap(), "{s:?}");
                let v = Vouch {
                    voucher: s.into(),
                    member: "m".into(),
                    auth,
                };
                let mut ours = Vec::new();
                push_vouch(&mut ours, &v);
                assert_eq!(ours, serde_json::to_vec(&v).unwrap(), "{s:?}");
            }
        }
    }
}
