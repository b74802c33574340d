//! Re-checking forum activity against the forum itself (rules v2, issue 9 item 10): Discourse does
//! not sign what it sends, but its posts are public, so an oracle can fetch each one and check that
//! it exists, is not deleted or hidden, was written by the forum user the service maps to the
//! event's member (the map is published with the epoch's evidence), at the time the log says, and
//! (for a solution) is the accepted answer.
//!
//! Activity ids of a forum source (`crate::discourse`): `discourse:<source>:topic:<topic_id>` (the
//! topic's first post, `GET /posts/by_number/<topic_id>/1.json`), `discourse:<source>:post:<id>` and
//! `discourse:<source>:solution:<id>` (`GET /posts/<id>.json`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use stk_scoring::AnyInput;

use super::verify::Difference;
use super::wire::EpochLogResponse;
use crate::ingest::parse_timestamp;

/// The largest post document read (bytes).
pub const MAX_POST_BYTES: usize = 256 * 1024;
/// Seconds `occurred_at` may differ from the post's `created_at`.
pub const TIME_TOLERANCE_SECS: i64 = 1;

#[derive(Deserialize)]
struct PostDoc {
    username: String,
    created_at: String,
    #[serde(default)]
    deleted_at: Option<String>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    accepted_answer: bool,
}

/// What one forum event claims and where to fetch it.
struct Claim<'a> {
    id: &'a str,
    member: &'a str,
    occurred_at: i64,
    path: String,
    solution: bool,
}

fn claim_of<'a>(source: &str, id: &'a str, member: &'a str, occurred_at: i64) -> Option<Claim<'a>> {
    let rest = id.strip_prefix("discourse:")?.strip_prefix(source)?;
    let (what, num) = rest.strip_prefix(':')?.split_once(':')?;
    let num: u64 = num.parse().ok()?;
    let (path, solution) = match what {
        "topic" => (format!("/posts/by_number/{num}/1.json"), false),
        "post" => (format!("/posts/{num}.json"), false),
        "solution" => (format!("/posts/{num}.json"), true),
        _ => return None,
    };
    Some(Claim {
        id,
        member,
        occurred_at,
        path,
        solution,
    })
}

async fn fetch_post(http: &reqwest::Client, url: &str) -> Result<PostDoc, String> {
    let mut resp = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("the forum answers {} for {url}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_POST_BYTES {
            return Err(format!("{url} is larger than {MAX_POST_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} is not a post: {e}"))
}

/// Checks every event of the forum sources in `forums` (`(source, base URL)`) against the forum.
/// Each problem is a [`Difference::Evidence`]; a log of format 1 has no forum sources.
pub async fn check_forum(
    served: &EpochLogResponse,
    forums: &[(String, String)],
) -> Result<Vec<Difference>, String> {
    let Ok(AnyInput::V2(input)) = AnyInput::from_canonical_log(served.log.as_bytes()) else {
        return Ok(Vec::new());
    };
    let links: HashMap<(&str, &str), Vec<&str>> = served
        .evidence
        .iter()
        .flat_map(|e| &e.forum_users)
        .fold(HashMap::new(), |mut m, l| {
            m.entry((l.source.as_str(), l.member.as_str()))
                .or_default()
                .push(l.username.as_str());
            m
        });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    for (source, base) in forums {
        let base = base.trim_end_matches('/');
        for e in input.events.iter().filter(|e| e.source == *source) {
            let Some(c) = claim_of(source, &e.id, &e.member, e.occurred_at) else {
                diffs.push(Difference::Evidence(format!(
                    "event {} of forum source {source} is not a forum activity id",
                    e.id
                )));
                continue;
            };
            let problem = match fetch_post(&http, &format!("{base}{}", c.path)).await {
                Err(e) => Some(e),
                Ok(p) => {
                    let names = links.get(&(source.as_str(), c.member));
                    let by_member = names
                        .is_some_and(|n| n.iter().any(|u| u.eq_ignore_ascii_case(&p.username)));
                    let at = parse_timestamp(&p.created_at);
                    if p.deleted_at.is_some() || p.hidden {
                        Some("the post is deleted or hidden on the forum".to_owned())
                    } else if !by_member {
                        Some(format!(
                            "the post is by forum user {:?}, who is not mapped to member {}",
                            p.username, c.member
                        ))
                    } else if c.solution && !p.accepted_answer {
                        Some("the post is not the accepted answer".to_owned())
                    } else if !c.solution
                        && at.is_none_or(|t| (t - c.occurred_at).abs() > TIME_TOLERANCE_SECS)
                    {
                        Some(format!(
                            "the post was written at {}, the log says {}",
                            p.created_at,
                            crate::wallet::rfc3339(c.occurred_at)
                        ))
                    } else {
                        None
                    }
                }
            };
            if let Some(p) = problem {
                diffs.push(Difference::Evidence(format!("forum event {}: {p}", c.id)));
            }
        }
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forum_ids_map_to_post_urls() {
        let c = claim_of("discourse", "discourse:discourse:topic:300", "a", 1).unwrap();
        assert_eq!(c.path, "/posts/by_number/300/1.json");
        let c = claim_of("discourse", "discourse:discourse:solution:7", "a", 1).unwrap();
        assert!(c.solution && c.path == "/posts/7.json");
        assert!(claim_of("discourse", "discourse:other:post:7", "a", 1).is_none());
        assert!(claim_of("discourse", "discourse:discourse:post:../x", "a", 1).is_none());
        assert!(claim_of("discourse", "discourse:discourse:like:7", "a", 1).is_none());
    }
}
