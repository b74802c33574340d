//! Amounts for people: the CLI's tables and the demo's.

/// Base units as a decimal amount with 6 decimals, thousands separated.
pub fn fmt_units(v: u64) -> String {
    let whole = v / 1_000_000;
    let frac = v % 1_000_000;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{frac:06}")
}
