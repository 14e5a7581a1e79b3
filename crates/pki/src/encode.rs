//! A small DER writer for what Sigil issues (certificates, RFC 3161 replies): definite lengths,
//! minimal integers, SET OF sorted as DER requires. Each function returns the complete TLV.

/// Universal tags.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0c;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// SEQUENCE.
    pub const SEQUENCE: u8 = 0x30;
    /// SET.
    pub const SET: u8 = 0x31;
}

/// One TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// A SET OF already-encoded parts, sorted by their encodings (DER).
pub fn set_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = parts.to_vec();
    sorted.sort();
    tlv(tag::SET, &sorted.concat())
}

/// An INTEGER from unsigned big-endian bytes (leading zeros dropped, a zero byte added when the
/// top bit is set).
pub fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut v: Vec<u8> = be[skip.min(be.len())..].to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(tag::INTEGER, &v)
}

/// An INTEGER.
pub fn u64(n: u64) -> Vec<u8> {
    uint(&n.to_be_bytes())
}

/// An OBJECT IDENTIFIER from its dotted form (`1.2.840.10045.4.3.2`).
///
/// # Panics
///
/// Only on a malformed constant written in Sigil's source (never on input).
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| unreachable!("OID constant {dotted}"))
        })
        .collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut rest = a >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(tag::OID, &body)
}

/// An OCTET STRING.
pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, b)
}

/// A BIT STRING with no unused bits.
pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 1);
    v.push(0);
    v.extend_from_slice(b);
    tlv(tag::BIT_STRING, &v)
}

/// A BOOLEAN.
pub fn boolean(b: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if b { 0xff } else { 0 }])
}

/// A UTF8String.
pub fn utf8(s: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, s.as_bytes())
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

/// `[n]` EXPLICIT around an encoded value.
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// `[n]` IMPLICIT for a constructed value (SEQUENCE or SET): its contents under the
/// context tag.
pub fn implicit_constructed(n: u8, contents: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, contents)
}

/// The contents of a TLV this module wrote (its value without tag and length).
pub fn contents(encoded: &[u8]) -> &[u8] {
    let Some(&first) = encoded.get(1) else {
        return &[];
    };
    let start = if first < 0x80 {
        2
    } else {
        2 + (first & 0x7f) as usize
    };
    encoded.get(start..).unwrap_or(&[])
}

/// A time as X.509 wants it: UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
pub fn x509_time(unix: i64) -> Vec<u8> {
    let t = civil(unix);
    if (1950..2050).contains(&t.0) {
        tlv(
            tag::UTC_TIME,
            format!(
                "{:02}{:02}{:02}{:02}{:02}{:02}Z",
                t.0 % 100,
                t.1,
                t.2,
                t.3,
                t.4,
                t.5
            )
            .as_bytes(),
        )
    } else {
        generalized_time(unix)
    }
}

/// GeneralizedTime, whole seconds, `Z`.
pub fn generalized_time(unix: i64) -> Vec<u8> {
    let t = civil(unix);
    tlv(
        tag::GENERALIZED_TIME,
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.0, t.1, t.2, t.3, t.4, t.5
        )
        .as_bytes(),
    )
}

/// Unix seconds as (year, month, day, hour, minute, second), proleptic Gregorian, UTC.
fn civil(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        assert_eq!(
            oid("1.2.840.10045.4.3.2"),
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]
        );
        assert_eq!(
            oid("1.3.6.1.4.1.57264.1.1"),
            [
                0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01
            ]
        );
        assert_eq!(u64(0), [0x02, 0x01, 0x00]);
        assert_eq!(u64(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0, 0, 1]), [0x02, 0x01, 0x01]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(contents(&tlv(0x04, &[7; 300])), &[7u8; 300][..]);
        assert_eq!(
            set_of(&[&[0x02, 0x01, 0x05], &[0x02, 0x01, 0x01]]),
            [0x31, 6, 2, 1, 1, 2, 1, 5]
        );
    }

    #[test]
    fn times() {
        assert_eq!(x509_time(0), b"\x17\x0d700101000000Z");
        assert_eq!(generalized_time(1_733_000_000), b"\x18\x0f20241130205320Z");
        assert_eq!(x509_time(2_524_608_000), b"\x18\x0f20500101000000Z");
        assert_eq!(generalized_time(951_782_400), b"\x18\x0f20000229000000Z");
    }
}
