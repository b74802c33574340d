//! UTC calendar helpers used for caps and the spread multiplier.

/// Seconds in a UTC day (Unix time ignores leap seconds).
pub const SECS_PER_DAY: i64 = 86_400;

/// UTC day number of a Unix timestamp: day 0 is 1970-01-01. Correct for negative timestamps too.
pub fn day_index(ts: i64) -> i64 {
    ts.div_euclid(SECS_PER_DAY)
}

/// Monday-based UTC week number: week `w` covers the days `7w - 3 ..= 7w + 3`.
///
/// 1970-01-01 (day 0) was a Thursday, so shifting by 3 days makes every week start on a Monday;
/// week 0 runs from Monday 1969-12-29 to Sunday 1970-01-04.
pub fn week_index(ts: i64) -> i64 {
    // day_index(ts) + 3 cannot overflow: |day_index| <= i64::MAX / 86_400.
    (day_index(ts) + 3).div_euclid(7)
}

/// Calendar month number of a Unix timestamp in UTC: `year * 12 + (month - 1)`
/// (2024-01 is `2024 * 12`). Uses the proleptic Gregorian calendar (civil-from-days).
pub fn month_index(ts: i64) -> i64 {
    // Howard Hinnant's civil_from_days, integer only.
    let z = day_index(ts) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    y * 12 + (m - 1)
}

/// Number of UTC days that the half-open window `[starts_at, ends_at)` touches (>= 1), or `None`
/// if the window is empty.
pub fn epoch_days(starts_at: i64, ends_at: i64) -> Option<u64> {
    if ends_at <= starts_at {
        return None;
    }
    let first = day_index(starts_at);
    let last = day_index(ends_at - 1);
    u64::try_from(last - first + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_floor_for_negative_times() {
        assert_eq!(day_index(0), 0);
        assert_eq!(day_index(86_399), 0);
        assert_eq!(day_index(86_400), 1);
        assert_eq!(day_index(-1), -1);
        assert_eq!(day_index(-86_400), -1);
        assert_eq!(day_index(-86_401), -2);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2024-01-01 was a Monday (1704067200), 2023-12-31 a Sunday.
        let monday = 1_704_067_200;
        assert_eq!(
            week_index(monday),
            week_index(monday + 6 * SECS_PER_DAY + 86_399)
        );
        assert_eq!(week_index(monday - 1) + 1, week_index(monday));
        assert_eq!(
            week_index(monday + 7 * SECS_PER_DAY),
            week_index(monday) + 1
        );
        // 1970-01-04 (Sunday, day 3) is in week 0, Monday 1970-01-05 (day 4) starts week 1.
        assert_eq!(week_index(3 * SECS_PER_DAY), 0);
        assert_eq!(week_index(4 * SECS_PER_DAY), 1);
        assert_eq!(week_index(-1), 0);
        // Monday 1969-12-29 (day -3) starts week 0; Sunday 1969-12-28 is in week -1.
        assert_eq!(week_index(-3 * SECS_PER_DAY), 0);
        assert_eq!(week_index(-3 * SECS_PER_DAY - 1), -1);
    }

    #[test]
    fn months_follow_the_calendar() {
        // 2024-01-01, 2024-01-31 23:59:59, 2024-02-01, 2024-02-29 (leap), 2024-03-01.
        assert_eq!(month_index(1_704_067_200), 2024 * 12);
        assert_eq!(month_index(1_706_745_599), 2024 * 12);
        assert_eq!(month_index(1_706_745_600), 2024 * 12 + 1);
        assert_eq!(month_index(1_709_164_800), 2024 * 12 + 1);
        assert_eq!(month_index(1_709_251_200), 2024 * 12 + 2);
        assert_eq!(month_index(0), 1970 * 12);
        assert_eq!(month_index(-1), 1969 * 12 + 11);
        // 2000-03-01 and 2100-03-01 (non-leap century).
        assert_eq!(month_index(951_868_800), 2000 * 12 + 2);
        assert_eq!(month_index(4_107_542_400), 2100 * 12 + 2);
        assert_eq!(month_index(4_107_542_399), 2100 * 12 + 1);
    }

    #[test]
    fn epoch_days_counts_touched_days() {
        assert_eq!(epoch_days(0, 0), None);
        assert_eq!(epoch_days(10, 5), None);
        assert_eq!(epoch_days(0, 1), Some(1));
        assert_eq!(epoch_days(0, 7 * SECS_PER_DAY), Some(7));
        assert_eq!(epoch_days(43_200, 7 * SECS_PER_DAY + 1), Some(8));
    }
}
