//! A client's last-used day: days since the Unix epoch (UTC), and the ISO 8601 date the
//! admin representation shows it as (`attributes."client.last.used"`).

use crate::Millis;

/// The admin representation's attribute holding the last-used date (`YYYY-MM-DD`).
pub const LAST_USED_ATTRIBUTE: &str = "client.last.used";

const DAY_MILLIS: Millis = 86_400_000;

/// The day `now` falls on (days since 1970-01-01, UTC).
pub fn day(now: Millis) -> i64 {
    now.div_euclid(DAY_MILLIS)
}

/// `day` as an ISO 8601 calendar date, `YYYY-MM-DD` (the proleptic Gregorian calendar,
/// Howard Hinnant's `civil_from_days`).
pub fn iso_date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_iso_dates() {
        for (day, date) in [
            (0, "1970-01-01"),
            (59, "1970-03-01"),
            (11_016, "2000-02-29"),
            (20_793, "2026-12-06"),
            (-1, "1969-12-31"),
        ] {
            assert_eq!(iso_date(day), date, "day {day}");
        }
        assert_eq!(day(DAY_MILLIS - 1), 0);
        assert_eq!(day(DAY_MILLIS), 1);
    }
}
