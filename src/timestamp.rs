//! Wall-clock times as the API writes them and `meridian ctl` reads them: RFC 3339 in UTC,
//! `2026-12-02T14:26:26Z`, or `2026-12-02T14:26:26.123Z` where the source has milliseconds.
//!
//! Pure: times come in as counts since the Unix epoch from an edge that read the clock. The
//! calendar is Howard Hinnant's `civil_from_days` and `days_from_civil`
//! (<https://howardhinnant.github.io/date_algorithms.html>), in unsigned arithmetic since every
//! day here is on or after 1970-01-01: days are counted in 400-year eras of 146097 days from
//! 0000-03-01, so that February, with its leap day, ends each year.

/// The last second RFC 3339's four-digit year can write, 9999-12-31T23:59:59Z; later times are
/// written as this one.
const LAST_SECOND: u64 = 253_402_300_799;

/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_DAYS: u64 = 719_468;

/// Seconds since the Unix epoch as `1970-01-01T00:00:00Z`.
pub fn rfc3339(unix_secs: u64) -> String {
    let (date, time) = civil(unix_secs.min(LAST_SECOND));
    format!("{date}T{time}Z")
}

/// Milliseconds since the Unix epoch as `1970-01-01T00:00:00.000Z`.
pub fn rfc3339_millis(unix_millis: u64) -> String {
    let secs = unix_millis / 1000;
    let millis = if secs > LAST_SECOND { 999 } else { unix_millis % 1000 };
    let (date, time) = civil(secs.min(LAST_SECOND));
    format!("{date}T{time}.{millis:03}Z")
}

/// Reads an RFC 3339 timestamp (section 5.6: a `T` or space between date and time, any number
/// of fraction digits, `Z` or an offset such as `+02:00`) as milliseconds since the Unix epoch,
/// fraction digits past the millisecond dropped. `None` for anything else, and for times
/// before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let number = |from: usize, len: usize| -> Option<u64> {
        let digits = bytes.get(from..from + len)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| bytes.get(i).is_some_and(|b| allowed.contains(b));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    // A leap second (60) is read as the last second of its minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<u64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_secs: i64 = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from((a - b'0') * 10 + (b - b'0')))
            };
            let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let local = i64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second.min(59)).ok()?;
    let utc = u64::try_from(local - offset_secs).ok()?;
    Some(utc * 1000 + millis)
}

/// The date and time of day of a second since the Unix epoch: `1970-01-01` and `00:00:00`.
fn civil(unix_secs: u64) -> (String, String) {
    let (days, secs) = (unix_secs / 86_400, unix_secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
    (format!("{year:04}-{month:02}-{day:02}"), format!("{hour:02}:{minute:02}:{second:02}"))
}

/// Year, month (1 to 12) and day (1 to 31) of a day counted from 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + EPOCH_DAYS;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    (era * 400 + year_of_era + u64::from(month <= 2), month, day)
}

/// The day counted from 1970-01-01 of a date; `None` for a date that does not exist (a 30
/// February, a 29 February of a common year) or is before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let is_leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days_in_month = match month {
        2 if is_leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || year < 1970 {
        return None;
    }
    let year = year - u64::from(month <= 2);
    let (era, year_of_era) = (year / 400, year % 400);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - EPOCH_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_rfc3339_in_utc_at_known_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (59, "1970-01-01T00:00:59Z"),
            (86_399, "1970-01-01T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"), // a leap day of a year divisible by 400
            (951_868_800, "2000-03-01T00:00:00Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_709_251_200, "2024-03-01T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (1_796_221_586, "2026-12-02T14:26:26Z"),
            (2_147_483_647, "2038-01-19T03:14:07Z"), // the last second of a signed 32-bit time_t
            (2_147_483_648, "2038-01-19T03:14:08Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"), // 2100 is not a leap year: no 29 February
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (u64::MAX, "9999-12-31T23:59:59Z"), // past what four digits of year can write
        ];
        for (secs, expected) in cases {
            assert_eq!(rfc3339(secs), expected, "{secs}");
            assert_eq!(parse_rfc3339(expected), Some(secs.min(LAST_SECOND) * 1000), "{expected}");
        }
    }

    #[test]
    fn milliseconds_are_written_with_three_digits() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_796_221_586_007), "2026-12-02T14:26:26.007Z");
        assert_eq!(rfc3339_millis(1_709_164_800_999), "2024-02-29T00:00:00.999Z");
        assert_eq!(rfc3339_millis(2_147_483_648_120), "2038-01-19T03:14:08.120Z");
        assert_eq!(rfc3339_millis(u64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(parse_rfc3339("2026-12-02T14:26:26.007Z"), Some(1_796_221_586_007));
    }

    #[test]
    fn every_day_follows_the_one_before_and_reads_back() {
        let days_in = |year: u64, month: u64| match month {
            2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut year, mut month, mut day) = (1970, 1, 1);
        for days in 0..(250 * 366) {
            let text = rfc3339(days * 86_400 + 3723);
            assert_eq!(text, format!("{year:04}-{month:02}-{day:02}T01:02:03Z"));
            assert_eq!(parse_rfc3339(&text), Some((days * 86_400 + 3723) * 1000), "{text}");
            day += 1;
            if day > days_in(year, month) {
                (month, day) = (month % 12 + 1, 1);
                year += u64::from(month == 1);
            }
        }
    }

    #[test]
    fn other_forms_of_rfc3339_read_as_the_same_instant() {
        let instant = Some(1_796_221_586_000);
        for text in [
            "2026-12-02T14:26:26Z",
            "2026-12-02t14:26:26z",
            "2026-12-02 14:26:26Z",
            "2026-12-02T15:26:26+01:00",
            "2026-12-02T09:56:26-04:30",
            "2026-12-02T14:26:26.0000001Z",
        ] {
            assert_eq!(parse_rfc3339(text), instant, "{text}");
        }
        assert_eq!(parse_rfc3339("2026-12-02T14:26:26.5Z"), Some(1_796_221_586_500));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2016-12-31T23:59:59Z"), "a leap second");
    }

    #[test]
    fn what_is_not_rfc3339_is_refused() {
        for text in [
            "",
            "1796221586",
            "2026-12-02",
            "2026-12-02T14:26:26",   // no offset
            "2026-12-02T14:26Z",     // no seconds
            "2026-12-02T14:26:26.Z", // a point without digits
            "2026-13-02T14:26:26Z",
            "2026-02-29T00:00:00Z", // 2026 is not a leap year
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-12-00T00:00:00Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T14:60:00Z",
            "2026-12-02T14:26:26+24:00",
            "2026-12-02T14:26:26+0100",
            "1969-12-31T23:59:59Z", // before the epoch
            "1970-01-01T00:00:00+00:01",
            "2026-12-02T14:26:26Z trailing",
            "２026-12-02T14:26:26Z",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }
}
