//! RFC 3339 timestamps as protobuf JSON writes them (`2021-01-12T11:53:27Z`,
//! `2022-04-13T20:06:15.000Z`, `2023-01-01T00:00:00+01:00`), to and from Unix time.

/// A point in time: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// A malformed RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {0:?}")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// Whole seconds since the epoch.
    pub fn from_unix(seconds: i64) -> Self {
        Self { seconds, nanos: 0 }
    }

    /// Parses an RFC 3339 date-time.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError(s.to_owned());
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let part = s.get(r).ok_or_else(err)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(err());
        }
        let mut rest = &s[19..];
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return Err(err());
            }
            let value: u32 = frac[..digits].parse().map_err(|_| err())?;
            nanos = value * 10u32.pow(9 - digits as u32);
            rest = &frac[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let rb = rest.as_bytes();
                if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                    return Err(err());
                }
                let oh: i64 = rest[1..3].parse().map_err(|_| err())?;
                let om: i64 = rest[4..6].parse().map_err(|_| err())?;
                if oh > 23 || om > 59 {
                    return Err(err());
                }
                let o = oh * 3600 + om * 60;
                if rb[0] == b'-' { -o } else { o }
            }
        };
        // A leap second is folded into the next second, as protobuf's Timestamp does.
        let seconds =
            days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
        Ok(Self { seconds, nanos })
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SSZ` (with `.nnnnnnnnn` when there are nanoseconds).
    pub fn to_rfc3339(self) -> String {
        let days = self.seconds.div_euclid(86400);
        let secs = self.seconds.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        let base = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if self.nanos == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{:09}Z", self.nanos)
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z")
                .unwrap()
                .seconds,
            0
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2023-07-12T15:56:36Z")
                .unwrap()
                .seconds,
            1_689_177_396
        );
        let t = Timestamp::parse_rfc3339("2022-04-13T20:06:15.000Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_649_880_375, 0));
        let t = Timestamp::parse_rfc3339("2024-02-29T01:00:00.5+01:00").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_709_164_800, 500_000_000));
        assert_eq!(
            Timestamp::from_unix(1_689_177_396).to_rfc3339(),
            "2023-07-12T15:56:36Z"
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "2023-07-12",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-07-12T15:56:36",
            "2023-07-12T15:56:36.Z",
            "2023-07-12T25:00:00Z",
            "+023-07-12T15:56:36Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trip(secs in -62_135_596_800i64..253_402_300_799i64) {
            let t = Timestamp::from_unix(secs);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        }
    }
}
