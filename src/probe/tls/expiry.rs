//! Time left before a certificate expires, as JSON and as people read it.
//! Never rounded up: 29 days 22 hours is `29 days 22 hours left` and
//! `days_left: 29`, so the wording never crosses a threshold the check did not.

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Seconds in an hour.
const HOUR: i64 = 3_600;

/// Seconds from `now` until `not_after` (negative once past).
pub(super) fn seconds_left(not_after: i64, now: i64) -> i64 {
    not_after.saturating_sub(now)
}

/// Whole days from `now` until `not_after`, rounded down: 29 days 22 hours
/// is 29, and a certificate that expired a minute ago is at -1, so
/// `days_left >= N` holds exactly when at least N days are left.
pub(super) fn days_left(not_after: i64, now: i64) -> i64 {
    seconds_left(not_after, now).div_euclid(DAY)
}

/// `29 days 22 hours`, `1 day`, `5 hours`, `12 minutes`: a length of time in
/// its two largest units, each rounded down.
pub(super) fn span_text(seconds: i64) -> String {
    let seconds = seconds.saturating_abs();
    let (days, hours) = (seconds / DAY, seconds % DAY / HOUR);
    let unit = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    match (days, hours) {
        (0, 0) => unit(seconds / 60, "minute"),
        (0, h) => unit(h, "hour"),
        (d, 0) => unit(d, "day"),
        (d, h) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

/// `29 days 22 hours left` before expiry, `expired 3 days 2 hours ago` after.
pub(super) fn left_text(not_after: i64, now: i64) -> String {
    let left = seconds_left(not_after, now);
    if left < 0 {
        format!("expired {} ago", span_text(left))
    } else {
        format!("{} left", span_text(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_rounded_down_never_up() {
        let now = 1_000_000_000;
        let almost_30 = now + 29 * DAY + 22 * HOUR;
        assert_eq!(days_left(almost_30, now), 29);
        assert_eq!(left_text(almost_30, now), "29 days 22 hours left");
        assert_eq!(days_left(now + 10 * DAY - 5, now), 9);
        assert_eq!(left_text(now + 10 * DAY - 5, now), "9 days 23 hours left");
        assert_eq!(days_left(now + 10 * DAY, now), 10);
        assert_eq!(left_text(now + 10 * DAY, now), "10 days left");
    }

    #[test]
    fn past_expiry_is_negative_from_the_first_second() {
        let now = 1_000_000_000;
        assert_eq!(days_left(now - 60, now), -1);
        assert_eq!(left_text(now - 60, now), "expired 1 minute ago");
        assert_eq!(days_left(now - 3 * DAY - 2 * HOUR, now), -4);
        assert_eq!(
            left_text(now - 3 * DAY - 2 * HOUR, now),
            "expired 3 days 2 hours ago"
        );
        assert_eq!(left_text(now + DAY + HOUR, now), "1 day 1 hour left");
        assert_eq!(left_text(now + 5 * HOUR + 59, now), "5 hours left");
    }
}
