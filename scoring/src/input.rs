//! A frozen epoch's activity, its canonical log (JSON Lines) and `activity_digest`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain prefix of [`EpochInput::activity_digest`].
pub const ACTIVITY_DOMAIN: &[u8] = b"stk-activity-v1";
/// Value of the `format` field of the canonical log's header line.
pub const LOG_FORMAT: &str = "stk-activity-v1";

/// One recorded activity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub member: String,
    pub kind: String,
    /// Unix seconds.
    pub occurred_at: i64,
    /// Ids of the members confirming the event.
    pub confirmations: Vec<String>,
}

/// A member as known when the epoch was frozen.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MemberInput {
    pub id: String,
    pub active: bool,
    /// How many of the previous K epochs this member qualified in (0..=K; larger is clamped).
    pub recent_active_epochs: u32,
}

/// Everything scoring needs for one epoch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EpochInput {
    pub epoch: u64,
    pub starts_at: i64,
    /// Exclusive.
    pub ends_at: i64,
    /// STK base units (6 decimals).
    pub budget: u64,
    pub members: Vec<MemberInput>,
    pub events: Vec<Event>,
}

/// Why a canonical log was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("log is empty")]
    Empty,
    #[error("log must end with a newline")]
    MissingFinalNewline,
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("unsupported log format {0:?} (expected {LOG_FORMAT:?})")]
    Format(String),
    #[error("header announces {expected} {what} lines, found {found}")]
    Count {
        what: &'static str,
        expected: u64,
        found: u64,
    },
    #[error("log parses but is not canonical (order, duplicates, spacing or escaping differ)")]
    NotCanonical,
}

/// The body of a canonical log (v1 or v2) without its final newline; an empty or unterminated log
/// is refused.
pub(crate) fn log_body(bytes: &[u8]) -> Result<&[u8], LogError> {
    if bytes.is_empty() {
        return Err(LogError::Empty);
    }
    bytes
        .strip_suffix(b"\n")
        .ok_or(LogError::MissingFinalNewline)
}

/// A log line (1-based) that does not parse.
pub(crate) fn line_error(line: usize, e: serde_json::Error) -> LogError {
    LogError::Line {
        line,
        message: e.to_string(),
    }
}

/// Canonical order of members: by id, then the remaining fields (a total order, so duplicates too
/// end up in a fixed order).
fn member_cmp(a: &MemberInput, b: &MemberInput) -> Ordering {
    a.id.cmp(&b.id)
        .then(a.active.cmp(&b.active))
        .then(a.recent_active_epochs.cmp(&b.recent_active_epochs))
}

/// Sorted, deduplicated confirmations (borrowed).
pub(crate) fn canonical_confirmations<'a>(c: &'a [String], out: &mut Vec<&'a str>) {
    out.clear();
    out.extend(c.iter().map(String::as_str));
    out.sort_unstable();
    out.dedup();
}

/// Canonical order of events: `(occurred_at, id)`, then member, kind, canonical confirmations.
fn event_cmp(a: &Event, b: &Event) -> Ordering {
    a.occurred_at
        .cmp(&b.occurred_at)
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.member.cmp(&b.member))
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| {
            let (mut ca, mut cb) = (Vec::new(), Vec::new());
            canonical_confirmations(&a.confirmations, &mut ca);
            canonical_confirmations(&b.confirmations, &mut cb);
            ca.cmp(&cb)
        })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine<S> {
    format: S,
    epoch: u64,
    starts_at: i64,
    ends_at: i64,
    budget: u64,
    members: u64,
    events: u64,
}

/// Serde mirror of a member line; only used to check the hand-written writer.
#[cfg(test)]
#[derive(Serialize)]
struct MemberLine<'a> {
    id: &'a str,
    active: bool,
    recent_active_epochs: u32,
}

/// Serde mirror of an event line; only used to check the hand-written writer.
#[cfg(test)]
#[derive(Serialize)]
struct EventLine<'a> {
    id: &'a str,
    member: &'a str,
    kind: &'a str,
    occurred_at: i64,
    confirmations: &'a [&'a str],
}

/// Appends `s` as a JSON string exactly as `serde_json` writes it (raw UTF-8; `"`, `\\` and
/// control characters escaped), with a copy-only fast path for strings needing no escape.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

pub(crate) fn push_int(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{v}");
}

fn push_member_line(out: &mut Vec<u8>, m: &MemberInput) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &m.id);
    out.extend_from_slice(if m.active {
        b",\"active\":true,\"recent_active_epochs\":"
    } else {
        b",\"active\":false,\"recent_active_epochs\":"
    });
    push_int(out, m.recent_active_epochs);
    out.extend_from_slice(b"}\n");
}

fn push_event_line(out: &mut Vec<u8>, e: &Event, confirmations: &[&str]) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &e.id);
    out.extend_from_slice(b",\"member\":");
    push_json_str(out, &e.member);
    out.extend_from_slice(b",\"kind\":");
    push_json_str(out, &e.kind);
    out.extend_from_slice(b",\"occurred_at\":");
    push_int(out, e.occurred_at);
    out.extend_from_slice(b",\"confirmations\":[");
    for (i, c) in confirmations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, c);
    }
    out.extend_from_slice(b"]}\n");
}

/// Size at which the log writer hands its buffer to the sink.
const FLUSH_AT: usize = 1 << 16;

impl EpochInput {
    /// Sorts members by id, events by `(occurred_at, id)` (remaining fields break ties) and
    /// sorts + dedups every event's confirmations.
    pub fn canonicalize(&mut self) {
        for e in &mut self.events {
            e.confirmations.sort_unstable();
            e.confirmations.dedup();
        }
        self.members.sort_by(member_cmp);
        self.events.sort_by(event_cmp);
    }

    /// Indices of `members` in canonical order.
    pub(crate) fn member_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_unstable_by(|&a, &b| member_cmp(&self.members[a], &self.members[b]));
        order
    }

    /// Indices of `events` in canonical order (callers ensure `events.len() <= u32::MAX`).
    ///
    /// Sorts compact `(occurred_at, index)` keys first, then only the runs sharing a timestamp
    /// by the full [`event_cmp`]: far fewer string comparisons and cache misses than one sort
    /// with the full comparator.
    pub(crate) fn event_order(&self) -> Vec<u32> {
        let ev = &self.events;
        let mut keys: Vec<(i64, u32)> = ev
            .iter()
            .enumerate()
            .map(|(i, e)| (e.occurred_at, i as u32))
            .collect();
        keys.sort_unstable();
        for run in keys.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| {
                    event_cmp(&ev[a.1 as usize], &ev[b.1 as usize]).then(a.1.cmp(&b.1))
                });
            }
        }
        keys.into_iter().map(|(_, i)| i).collect()
    }

    /// Canonical log of the canonicalized copy of this input (see README "Canonical log"):
    /// JSON Lines, one header line, then one line per member, then one line per event.
    pub fn canonical_log(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 * (self.events.len() + self.members.len() + 1));
        self.write_log(&self.member_order(), &self.event_order(), |b| {
            out.extend_from_slice(b)
        });
        out
    }

    /// `sha256("stk-activity-v1" || canonical_log)`, streamed (the log is never materialised).
    pub fn activity_digest(&self) -> [u8; 32] {
        self.digest_with(&self.member_order(), &self.event_order())
    }

    pub(crate) fn digest_with(&self, members: &[usize], events: &[u32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(ACTIVITY_DOMAIN);
        self.write_log(members, events, |b| h.update(b));
        h.finalize().into()
    }

    /// Writes the canonical log to `sink` in chunks of about [`FLUSH_AT`] bytes, given the
    /// canonical orders.
    fn write_log(&self, members: &[usize], events: &[u32], mut sink: impl FnMut(&[u8])) {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let mut conf: Vec<&str> = Vec::new();
        let header = HeaderLine {
            format: LOG_FORMAT,
            epoch: self.epoch,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            budget: self.budget,
            members: self.members.len() as u64,
            events: self.events.len() as u64,
        };
        // Writing a plain struct of a string and integers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut buf, &header);
        buf.push(b'\n');
        for &i in members {
            push_member_line(&mut buf, &self.members[i]);
            if buf.len() >= FLUSH_AT {
                sink(&buf);
                buf.clear();
            }
        }
        for &i in events {
            let e = &self.events[i as usize];
            canonical_confirmations(&e.confirmations, &mut conf);
            push_event_line(&mut buf, e, &conf);
            if buf.len() >= FLUSH_AT {
                sink(&buf);
                buf.clear();
            }
        }
        sink(&buf);
    }

    /// Parses a canonical log and checks that it is byte-for-byte canonical, so that
    /// `activity_digest` of the result equals `sha256("stk-activity-v1" || bytes)`.
    pub fn from_canonical_log(bytes: &[u8]) -> Result<EpochInput, LogError> {
        let body = log_body(bytes)?;
        let mut lines = body.split(|&b| b == b'\n');

        let header: HeaderLine<String> = serde_json::from_slice(lines.next().unwrap_or_default())
            .map_err(|e| line_error(1, e))?;
        if header.format != LOG_FORMAT {
            return Err(LogError::Format(header.format));
        }
        let line_count = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let expected = header.members.saturating_add(header.events);
        if line_count != expected {
            return Err(LogError::Count {
                what: "member + event",
                expected,
                found: line_count,
            });
        }
        // line_count bounds both counts by the input size, so these capacities are safe.
        let mut members = Vec::with_capacity(header.members as usize);
        let mut events = Vec::with_capacity(header.events as usize);
        for (n, line) in lines.enumerate() {
            let line_no = n + 2;
            if (n as u64) < header.members {
                let m: MemberInput =
                    serde_json::from_slice(line).map_err(|e| line_error(line_no, e))?;
                members.push(m);
            } else {
                let e: Event = serde_json::from_slice(line).map_err(|e| line_error(line_no, e))?;
                events.push(e);
            }
        }
        let input = EpochInput {
            epoch: header.epoch,
            starts_at: header.starts_at,
            ends_at: header.ends_at,
            budget: header.budget,
            members,
            events,
        };
        if input.canonical_log() != bytes {
            return Err(LogError::NotCanonical);
        }
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EpochInput {
        EpochInput {
            epoch: 7,
            starts_at: 1_704_067_200,
            ends_at: 1_704_067_200 + 7 * 86_400,
            budget: 1_000_000,
            members: vec![
                MemberInput {
                    id: "bob".into(),
                    active: true,
                    recent_active_epochs: 2,
                },
                MemberInput {
                    id: "al\"ice\u{e9}".into(),
                    active: false,
                    recent_active_epochs: 0,
                },
            ],
            events: vec![
                Event {
                    id: "e2".into(),
                    member: "bob".into(),
                    kind: "review".into(),
                    occurred_at: 1_704_067_300,
                    confirmations: vec!["z".into(), "al\"ice\u{e9}".into(), "z".into()],
                },
                Event {
                    id: "e1".into(),
                    member: "bob".into(),
                    kind: "help_given".into(),
                    occurred_at: 1_704_067_300,
                    confirmations: vec![],
                },
                Event {
                    id: "e0".into(),
                    member: "al\"ice\u{e9}".into(),
                    kind: "review".into(),
                    occurred_at: 1_704_067_400,
                    confirmations: vec![],
                },
            ],
        }
    }

    #[test]
    fn log_format_is_exact() {
        let log = String::from_utf8(sample().canonical_log()).unwrap();
        let expected = concat!(
            r#"{"format":"stk-activity-v1","epoch":7,"starts_at":1704067200,"ends_at":1704672000,"budget":1000000,"members":2,"events":3}"#,
            "\n",
            r#"{"id":"al\"iceé","active":false,"recent_active_epochs":0}"#,
            "\n",
            r#"{"id":"bob","active":true,"recent_active_epochs":2}"#,
            "\n",
            r#"{"id":"e1","member":"bob","kind":"help_given","occurred_at":1704067300,"confirmations":[]}"#,
            "\n",
            r#"{"id":"e2","member":"bob","kind":"review","occurred_at":1704067300,"confirmations":["al\"iceé","z"]}"#,
            "\n",
            r#"{"id":"e0","member":"al\"iceé","kind":"review","occurred_at":1704067400,"confirmations":[]}"#,
            "\n",
        );
        assert_eq!(log, expected);
    }

    #[test]
    fn hand_written_lines_match_serde_json() {
        let awkward = [
            "plain",
            "",
            "quote\"back\\slash",
            "tab\tnl\nnul\u{0}del\u{7f}",
            "é😀\u{2028}",
        ];
        for s in awkward {
            for active in [true, false] {
                let m = MemberInput {
                    id: s.into(),
                    active,
                    recent_active_epochs: 4_000_000_000,
                };
                let mut ours = Vec::new();
                push_member_line(&mut ours, &m);
                let mut theirs = serde_json::to_vec(&MemberLine {
                    id: &m.id,
                    active: m.active,
                    recent_active_epochs: m.recent_active_epochs,
                })
                .unwrap();
                theirs.push(b'\n');
                assert_eq!(ours, theirs, "{s:?}");
            }
            let e = Event {
                id: s.into(),
                member: format!("{s}m"),
                kind: format!("k{s}"),
                occurred_at: i64::MIN,
                confirmations: vec![],
            };
            let confs = [s, "x", s];
            let mut ours = Vec::new();
            push_event_line(&mut ours, &e, &confs);
            let mut theirs = serde_json::to_vec(&EventLine {
                id: &e.id,
                member: &e.member,
                kind: &e.kind,
                occurred_at: e.occurred_at,
                confirmations: &confs,
            })
            .unwrap();
            theirs.push(b'\n');
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    #[test]
    fn order_does_not_change_log_or_digest() {
        let a = sample();
        let mut b = sample();
        b.members.reverse();
        b.events.rotate_left(1);
        b.events[0].confirmations.reverse();
        assert_eq!(a.canonical_log(), b.canonical_log());
        assert_eq!(a.activity_digest(), b.activity_digest());
        let mut c = b.clone();
        c.canonicalize();
        assert_eq!(c.canonical_log(), a.canonical_log());
        assert_eq!(c.events[0].id, "e1");
        assert_eq!(c.events[1].confirmations, vec!["al\"ice\u{e9}", "z"]);
    }

    #[test]
    fn digest_is_domain_separated_sha256_of_log() {
        let a = sample();
        let mut h = Sha256::new();
        h.update(b"stk-activity-v1");
        h.update(a.canonical_log());
        assert_eq!(a.activity_digest(), <[u8; 32]>::from(h.finalize()));
        let mut b = sample();
        b.events[0].occurred_at += 1;
        assert_ne!(a.activity_digest(), b.activity_digest());
        let mut c = sample();
        c.budget += 1;
        assert_ne!(a.activity_digest(), c.activity_digest());
    }

    #[test]
    fn canonical_log_round_trips() {
        let mut a = sample();
        let log = a.canonical_log();
        let parsed = EpochInput::from_canonical_log(&log).unwrap();
        a.canonicalize();
        assert_eq!(parsed, a);
        assert_eq!(parsed.canonical_log(), log);
        assert_eq!(parsed.activity_digest(), a.activity_digest());
    }

    #[test]
    fn empty_epoch_round_trips() {
        let a = EpochInput {
            epoch: 0,
            starts_at: -5,
            ends_at: 5,
            budget: 0,
            members: vec![],
            events: vec![],
        };
        let log = a.canonical_log();
        assert_eq!(EpochInput::from_canonical_log(&log).unwrap(), a);
    }

    #[test]
    fn non_canonical_logs_are_rejected() {
        let log = String::from_utf8(sample().canonical_log()).unwrap();
        let lines: Vec<&str> = log.lines().collect();

        assert_eq!(EpochInput::from_canonical_log(b""), Err(LogError::Empty));
        assert_eq!(
            EpochInput::from_canonical_log(log.trim_end().as_bytes()),
            Err(LogError::MissingFinalNewline)
        );
        // Events out of order.
        let swapped = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            lines[0], lines[1], lines[2], lines[4], lines[3], lines[5]
        );
        assert_eq!(
            EpochInput::from_canonical_log(swapped.as_bytes()),
            Err(LogError::NotCanonical)
        );
        // Extra whitespace.
        let spaced = log.replacen("\"epoch\":7", "\"epoch\": 7", 1);
        assert_eq!(
            EpochInput::from_canonical_log(spaced.as_bytes()),
            Err(LogError::NotCanonical)
        );
        // Escaped instead of raw UTF-8.
        let escaped = log.replacen("é", "\\u00e9", 1);
        assert_eq!(
            EpochInput::from_canonical_log(escaped.as_bytes()),
            Err(LogError::NotCanonical)
        );
        // Missing line.
        let short = format!("{}\n", lines[..5].join("\n"));
        assert!(matches!(
            EpochInput::from_canonical_log(short.as_bytes()),
            Err(LogError::Count { .. })
        ));
        // Unknown field.
        let extra = log.replacen("\"active\":true", "\"active\":true,\"x\":1", 1);
        assert!(matches!(
            EpochInput::from_canonical_log(extra.as_bytes()),
            Err(LogError::Line { line: 3, .. }) | Err(LogError::NotCanonical)
        ));
        // Wrong format tag.
        let fmt = log.replacen("stk-activity-v1", "stk-activity-v2", 1);
        assert!(matches!(
            EpochInput::from_canonical_log(fmt.as_bytes()),
            Err(LogError::Format(_))
        ));
        // Garbage line.
        let bad = log.replacen("{\"id\":\"bob\"", "{\"id\":bob", 1);
        assert!(matches!(
            EpochInput::from_canonical_log(bad.as_bytes()),
            Err(LogError::Line { line: 3, .. })
        ));
    }
}
