//! `stk-indexer demo`: the whole economy locally (the `local` feature; see `crate::dev::demo`).

#[cfg(feature = "local")]
pub(super) async fn run(
    members: usize,
    epochs: u64,
    database: Option<String>,
    rules_v2: bool,
) -> anyhow::Result<()> {
    use anyhow::bail;

    use crate::dev::demo;

    if members < 3 || epochs == 0 {
        bail!("the demo needs at least 3 members and 1 epoch");
    }
    let outcome = demo::run(demo::DemoOptions {
        members,
        epochs,
        database,
        progress: true,
        rules_v2,
    })
    .await?;
    println!("{}", demo::report(&outcome));
    if !demo::invariants_hold(&outcome) {
        bail!("an invariant of the economy does not hold (see above)");
    }
    Ok(())
}

#[cfg(not(feature = "local"))]
pub(super) async fn run(
    _members: usize,
    _epochs: u64,
    _database: Option<String>,
    _rules_v2: bool,
) -> anyhow::Result<()> {
    anyhow::bail!("demo: {}", super::NO_LOCAL)
}
