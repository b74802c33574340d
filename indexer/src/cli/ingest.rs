//! `stk-indexer ingest FILE.jsonl [--resume]`: one event per line, batches of 1,000, resumable.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::{self, EventIn, ItemStatus};
use crate::store::Store;

pub(super) async fn run(
    cfg: &Config,
    file: PathBuf,
    resume: bool,
    source: Option<String>,
) -> anyhow::Result<()> {
    let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
    let reporter =
        ingest::Reporter::for_source(&rules, source.as_deref()).map_err(anyhow::Error::msg)?;
    if reporter.pubkey.is_some() {
        eprintln!(
            "source {:?} signs its events: each line needs its signature",
            reporter.source
        );
    }
    let intake = ingest::Intake {
        rules: &rules,
        reporter,
    };
    let store = super::connect(cfg).await?;
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: finishing the current batch, then stopping (re-run with --resume)"
            );
            t.cancel();
        }
    });
    let mut out = std::io::stdout().lock();
    let s = ingest_file(&store, cfg, &intake, &file, resume, &token, &mut out).await;
    store.close().await;
    let s = s?;
    if s.interrupted {
        bail!("interrupted after line {}", s.last_line);
    }
    Ok(())
}

/// Counts of an `ingest` run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub lines: u64,
    pub skipped: u64,
    pub blank: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub last_line: u64,
    pub interrupted: bool,
}

fn progress_path(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".progress");
    PathBuf::from(p)
}

fn write_progress(path: &Path, lines_done: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("progress.tmp");
    std::fs::write(&tmp, format!("{lines_done}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Ingests a JSON Lines file; rejected lines are reported to `out` as `line N: ...`.
///
/// Every 1,000 events are one transaction. After each committed batch the number of lines done
/// is written to `FILE.progress`; `resume` skips those lines. Re-running without `resume` is also
/// safe: ids are idempotency keys, so already stored events come back as duplicates.
pub async fn ingest_file(
    store: &Store,
    cfg: &Config,
    intake: &ingest::Intake<'_>,
    file: &Path,
    resume: bool,
    stop: &CancellationToken,
    out: &mut dyn Write,
) -> anyhow::Result<IngestSummary> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let progress_file = progress_path(file);
    let skip = if resume {
        match std::fs::read_to_string(&progress_file) {
            Ok(s) => s
                .trim()
                .parse::<u64>()
                .with_context(|| format!("corrupt progress file {}", progress_file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).context("reading the progress file"),
        }
    } else {
        0
    };
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .expect("static template"),
    );
    let mut summary = IngestSummary::default();
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    let mut batch: Vec<EventIn> = Vec::with_capacity(ingest::MAX_BATCH);
    let mut batch_lines: Vec<u64> = Vec::with_capacity(ingest::MAX_BATCH);
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).context("reading the input")?;
        let eof = n == 0;
        if !eof {
            line_no += 1;
            bar.inc(n as u64);
            if line_no <= skip {
                summary.skipped += 1;
            } else {
                summary.lines += 1;
                let text = line.trim();
                if text.is_empty() {
                    summary.blank += 1;
                } else {
                    match serde_json::from_str::<EventIn>(text) {
                        Err(e) => {
                            summary.rejected += 1;
                            writeln!(out, "line {line_no}: malformed_json: {e}")?;
                        }
                        Ok(ev) => {
                            let depth = ingest::max_attributes_depth(std::slice::from_ref(&ev));
                            if depth > cfg.ingest.max_attributes_depth {
                                summary.rejected += 1;
                                writeln!(
                                    out,
                                    "line {line_no}: id {:?}: too_deep: attributes nested {depth} levels",
                                    ev.id
                                )?;
                            } else {
                                batch.push(ev);
                                batch_lines.push(line_no);
                            }
                        }
                    }
                }
            }
        }
        if batch.len() == ingest::MAX_BATCH || (eof && !batch.is_empty()) {
            let results = ingest::ingest_batch(store, cfg, intake, &batch).await?;
            for (r, &ln) in results.iter().zip(&batch_lines) {
                match r.status {
                    ItemStatus::Accepted => summary.accepted += 1,
                    ItemStatus::Duplicate => summary.duplicates += 1,
                    ItemStatus::Rejected => {
                        summary.rejected += 1;
                        writeln!(
                            out,
                            "line {ln}: id {:?}: {}: {}",
                            r.id,
                            r.reason.map(|x| x.as_str()).unwrap_or("rejected"),
                            r.detail.as_deref().unwrap_or("")
                        )?;
                    }
                }
            }
            batch.clear();
            batch_lines.clear();
            // Every line up to line_no is now committed, or rejected and reported.
            write_progress(&progress_file, line_no).context("writing the progress file")?;
        }
        if line_no > skip {
            summary.last_line = line_no;
        }
        if eof {
            write_progress(&progress_file, line_no.max(skip))
                .context("writing the progress file")?;
            break;
        }
        if stop.is_cancelled() && batch.is_empty() {
            summary.interrupted = true;
            write_progress(&progress_file, line_no.max(skip))
                .context("writing the progress file")?;
            break;
        }
    }
    bar.finish_and_clear();
    writeln!(
        out,
        "{} lines read ({} skipped by --resume, {} blank): {} accepted, {} duplicate, {} rejected",
        summary.lines + summary.skipped,
        summary.skipped,
        summary.blank,
        summary.accepted,
        summary.duplicates,
        summary.rejected
    )?;
    Ok(summary)
}
