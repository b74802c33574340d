//! The demo's tables.
use std::fmt::Write as _;

use super::DemoOutcome;
use crate::fmt::fmt_units;

/// The demo's tables.
pub fn report(o: &DemoOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSTK per profile (rewards from {} epochs)",
        o.epochs.len()
    );
    let _ = writeln!(
        s,
        "  {:<8} {:>7} {:>10} {:>18} {:>16} {:>14}",
        "profile", "members", "raw events", "STK received", "STK per member", "STK per event"
    );
    for (p, st) in &o.profiles {
        let _ = writeln!(
            s,
            "  {:<8} {:>7} {:>10} {:>18} {:>16} {:>14}",
            p.name(),
            st.members,
            st.raw_events,
            fmt_units(st.received),
            fmt_units(st.received / st.members.max(1) as u64),
            format!("{:.3}", st.per_event() / 1_000_000.0)
        );
    }
    let _ = writeln!(s, "\nEpochs");
    let _ = writeln!(
        s,
        "  {:>5} {:>8} {:>10} {:>6} {:>18} {:>12}",
        "epoch", "events", "recipients", "chunks", "STK distributed", "fees (lamp.)"
    );
    for e in &o.epochs {
        let _ = writeln!(
            s,
            "  {:>5} {:>8} {:>10} {:>6} {:>18} {:>12}",
            e.epoch,
            e.events,
            e.recipients,
            e.chunks,
            fmt_units(e.total),
            e.fees
        );
    }
    let burned = o.total_burned_sell_back + o.total_burned_access;
    let circulating_value = stk::math::sell_back_quote(o.supply, o.buyback_price).unwrap_or(0);
    let coverage = if circulating_value == 0 {
        0.0
    } else {
        o.vault_balance as f64 * 100.0 / circulating_value as f64
    };
    let _ = writeln!(s, "\nSupply and money (STK and USDC, 6 decimals)");
    let _ = writeln!(
        s,
        "  distributed to members     {:>20} STK",
        fmt_units(o.total_distributed)
    );
    let _ = writeln!(
        s,
        "  minted to investors        {:>20} STK",
        fmt_units(o.total_premium_minted)
    );
    let _ = writeln!(
        s,
        "  burned (sold back)         {:>20} STK",
        fmt_units(o.total_burned_sell_back)
    );
    let _ = writeln!(
        s,
        "  burned (access payments)   {:>20} STK",
        fmt_units(o.total_burned_access)
    );
    let _ = writeln!(
        s,
        "  supply                     {:>20} STK",
        fmt_units(o.supply)
    );
    let _ = writeln!(
        s,
        "  buyback price              {:>20} USDC per STK",
        fmt_units(o.buyback_price)
    );
    let _ = writeln!(
        s,
        "  revenue deposited          {:>20} USDC",
        fmt_units(o.revenue_deposited)
    );
    let _ = writeln!(
        s,
        "  paid to {:>3} sellers        {:>20} USDC",
        o.sellers,
        fmt_units(o.quote_paid_out)
    );
    let _ = writeln!(
        s,
        "  vault balance              {:>20} USDC",
        fmt_units(o.vault_balance)
    );
    let _ = writeln!(
        s,
        "  vault coverage             {:>19.1}% of supply at the buyback price",
        coverage
    );
    let _ = writeln!(
        s,
        "  premium sales paid         {:>20} USDC ({} to the vault)",
        fmt_units(o.premium_quote_in),
        fmt_units(o.premium_to_vault)
    );
    let _ = writeln!(
        s,
        "  treasury (premium sales)   {:>20} USDC",
        fmt_units(o.treasury_balance)
    );
    let _ = writeln!(s, "\nInvariants");
    let mismatched = o.allocated_vs_held.iter().filter(|(a, h)| a != h).count();
    let _ = writeln!(
        s,
        "  balances = allocations           {} ({} recipients, {} mismatched)",
        ok(mismatched == 0),
        o.allocated_vs_held.len(),
        mismatched
    );
    let _ = writeln!(
        s,
        "  supply = distributed + premium − burned   {}",
        ok(o.supply + burned == o.total_distributed + o.total_premium_minted)
    );
    let _ = writeln!(
        s,
        "  vault = deposited + premium share − paid   {}",
        ok(o.quote_paid_out + o.vault_balance == o.revenue_deposited + o.premium_to_vault)
    );
    let _ = writeln!(
        s,
        "  treasury = premium paid − vault share      {}",
        ok(o.treasury_balance == o.premium_quote_in - o.premium_to_vault)
    );
    let _ = writeln!(
        s,
        "  premium sale kept the floor                {}",
        ok(o.premium_floor_kept)
    );
    let order = o
        .profiles
        .iter()
        .map(|(_, p)| p.per_event())
        .collect::<Vec<_>>();
    let _ = writeln!(
        s,
        "  per raw event: steady > bursty > farmer   {}",
        ok(order.len() == 3 && order[0] > order[1] && order[1] > order[2])
    );
    let _ = writeln!(s, "\nfinished in {:.1} s", o.elapsed_secs);
    s
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "VIOLATED"
    }
}
