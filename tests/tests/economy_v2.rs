//! The demo community under scoring v2 (its own test binary: the v2 replay moves the process's
//! service clock, which the v1 flow in `economy.rs` must not see): subscriptions, masters' vouches, an
//! observed source, wallet-signed confirmations, day-by-day ingestion, member state carried between
//! epochs, and a second oracle re-checking every epoch's evidence before it attests.
use stk_indexer::demo::{self, DemoOptions, Profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_economy_holds_its_invariants_under_rules_v2() {
    let o = demo::run(DemoOptions {
        members: 90,
        epochs: 3,
        database: None,
        progress: false,
        rules_v2: true,
    })
    .await
    .expect("the v2 demo flow runs");
    assert!(demo::invariants_hold(&o));
    for (allocated, held) in &o.allocated_vs_held {
        assert_eq!(allocated, held);
    }
    assert_eq!(o.epochs.len(), 3);
    for e in &o.epochs {
        assert!(e.recipients > 0, "epoch {} paid nobody", e.epoch);
    }
    let stats = |p: Profile| {
        o.profiles
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s.clone())
            .unwrap()
    };
    // v2 pays at most one practice a day: the farmer's other fifteen posts are worth nothing.
    let (steady, farmer) = (stats(Profile::Steady), stats(Profile::Farmer));
    assert!(farmer.raw_events > 10 * steady.raw_events);
    assert!(
        steady.per_event() > 10.0 * farmer.per_event(),
        "steady {} vs farmer {} per event",
        steady.per_event(),
        farmer.per_event()
    );
}
