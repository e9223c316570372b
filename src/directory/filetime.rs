//! Windows FILETIME, as AD's Large Integer time attributes hold it
//! (`msDS-ApproximateLastLogonTimeStamp`, `lastLogonTimestamp`): 100-ns
//! intervals since 1601-01-01 UTC, written as a decimal string. And the ISO
//! 8601 timestamps Graph sends (`approximateLastSignInDateTime`:
//! "ISO 8601 format and is always in UTC", e.g. `2014-01-01T00:00:00Z`),
//! parsed by hand: dwb needs exactly this one format.

use std::fmt;

/// Seconds from 1601-01-01 to 1970-01-01 (369 years, 89 of them leap years).
const UNIX_EPOCH_AS_FILETIME_SECS: i64 = 11_644_473_600;
const TICKS_PER_SEC: i64 = 10_000_000;

/// A point in time as a FILETIME (never negative: 1601-01-01 is the first one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime(i64);

impl FileTime {
    /// The FILETIME of a Unix time plus `nanos` (truncated to 100 ns); `None`
    /// before 1601 or beyond what a Large Integer holds.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<FileTime> {
        let ticks = secs
            .checked_add(UNIX_EPOCH_AS_FILETIME_SECS)?
            .checked_mul(TICKS_PER_SEC)?
            .checked_add(i64::from(nanos / 100))?;
        (ticks >= 0).then_some(FileTime(ticks))
    }

    /// Now, from the system clock.
    pub fn now() -> FileTime {
        let d =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        FileTime::from_unix(d.as_secs() as i64, d.subsec_nanos()).unwrap_or(FileTime(0))
    }

    /// The raw tick count.
    pub fn ticks(self) -> i64 {
        self.0
    }

    /// Whole seconds since 1970-01-01 UTC.
    pub fn unix_secs(self) -> i64 {
        self.0.div_euclid(TICKS_PER_SEC) - UNIX_EPOCH_AS_FILETIME_SECS
    }

    /// The decimal text AD stores (`133497936000000000`).
    pub fn to_decimal(self) -> String {
        self.0.to_string()
    }

    /// Reads the decimal text of a Large Integer time; `None` for anything else
    /// (including 0, which AD uses for "never").
    pub fn from_decimal(text: &str) -> Option<FileTime> {
        text.trim().parse::<i64>().ok().filter(|t| *t > 0).map(FileTime)
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: FileTime) -> i64 {
        (later.0 - self.0).div_euclid(TICKS_PER_SEC * 86_400)
    }

    /// `self` minus `days` days.
    pub fn minus_days(self, days: i64) -> FileTime {
        FileTime(self.0.saturating_sub(days.saturating_mul(TICKS_PER_SEC * 86_400)).max(0))
    }

    /// An ISO 8601 / RFC 3339 date-time: `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`.
    /// `Ok(None)` for a well-formed time before 1601 (Graph's `0001-01-01T00:00:00Z`
    /// means "no value"); `Err` says what is wrong.
    pub fn parse_iso8601(text: &str) -> Result<Option<FileTime>, String> {
        let bad = |why: &str| format!("{text:?} is not an ISO 8601 UTC time ({why})");
        let b = text.trim().as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            let part = b.get(r).ok_or_else(|| bad("too short"))?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(bad("a date or time field is not a number"));
            }
            Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return Err(bad("expected YYYY-MM-DDThh:mm:ss"));
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return Err(bad("no such date"));
        }
        // 60 is a leap second; FILETIME has none, so it counts as the next second.
        if h > 23 || mi > 59 || s > 60 {
            return Err(bad("no such time of day"));
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if sep(i, b".,") {
            let start = i + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start {
                return Err(bad("an empty fraction of a second"));
            }
            for (k, digit) in b[start..end].iter().take(9).enumerate() {
                nanos += u32::from(digit - b'0') * 10u32.pow(8 - k as u32);
            }
            i = end;
        }
        let offset = match b.get(i..) {
            Some(b"Z" | b"z") => 0,
            Some([sign @ (b'+' | b'-'), ..]) if b.len() == i + 6 && sep(i + 3, b":") => {
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return Err(bad("no such UTC offset"));
                }
                let o = oh * 3600 + om * 60;
                if *sign == b'+' { o } else { -o }
            }
            Some([]) => return Err(bad("no time zone: Graph sends UTC with a Z")),
            _ => return Err(bad("unexpected text after the time")),
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
        Ok(FileTime::from_unix(secs, nanos))
    }

    /// `YYYY-MM-DDThh:mm:ssZ` (whole seconds), for reports.
    pub fn to_iso8601(self) -> String {
        let secs = self.unix_secs();
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

impl fmt::Display for FileTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> FileTime {
        FileTime::parse_iso8601(s).unwrap().unwrap()
    }

    #[test]
    fn known_values() {
        // The lab's sample device (samba.md §6) and the Unix epoch.
        assert_eq!(FileTime::from_unix(0, 0).unwrap().ticks(), 116_444_736_000_000_000);
        assert_eq!(parse("1970-01-01T00:00:00Z").ticks(), 116_444_736_000_000_000);
        assert_eq!(parse("1601-01-01T00:00:00Z").ticks(), 0);
        assert_eq!(parse("2024-01-01T00:00:00Z").to_decimal(), "133485408000000000");
        assert_eq!(parse("2024-01-01T00:00:00.1234567Z").ticks(), 133_485_408_001_234_567);
        assert_eq!(parse("2024-01-01T00:00:00.123456789Z").ticks(), 133_485_408_001_234_567);
        assert_eq!(parse("2024-01-01T01:30:00+01:30"), parse("2024-01-01T00:00:00Z"));
        assert_eq!(parse("2023-12-31T23:00:00-01:00"), parse("2024-01-01T00:00:00Z"));
        assert_eq!(parse("2000-02-29T12:00:00Z").to_iso8601(), "2000-02-29T12:00:00Z");
        assert_eq!(
            FileTime::from_decimal(" 133485408000000000 "),
            Some(parse("2024-01-01T00:00:00Z"))
        );
        assert_eq!(FileTime::from_decimal("0"), None);
        assert_eq!(FileTime::from_decimal("x"), None);
    }

    #[test]
    fn before_1601_is_no_value_and_nonsense_is_an_error() {
        assert_eq!(FileTime::parse_iso8601("0001-01-01T00:00:00Z"), Ok(None));
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+25:00",
            "２０２４-01-01T00:00:00Z",
            "2024-01-01T0a:00:00Z",
        ] {
            assert!(FileTime::parse_iso8601(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn days() {
        let t = parse("2026-11-01T00:00:00Z");
        assert_eq!(t.minus_days(90).to_iso8601(), "2026-08-03T00:00:00Z");
        assert_eq!(t.minus_days(90).days_until(t), 90);
        assert_eq!(t.days_until(t.minus_days(1)), -1);
        assert_eq!(parse("2026-10-31T00:00:01Z").days_until(t), 0);
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        for days in (-135_000..300_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
