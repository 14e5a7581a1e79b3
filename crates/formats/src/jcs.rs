//! RFC 8785 JSON Canonicalization Scheme, as Rekor uses it for Signed Entry Timestamps.
//!
//! Object members are sorted by their names' UTF-16 code units, no whitespace is written,
//! strings use the shortest JSON escapes (`\b \t \n \f \r \" \\`, other control characters as
//! `\u00xx`, everything else literal), and numbers are written as ECMAScript does. Only integers
//! up to 2^53 in magnitude are accepted: Sigstore's canonical documents hold no fractions, and
//! refusing them avoids re-implementing ECMAScript's float printing.

use serde_json::Value;

/// A value that cannot be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// A non-integer or out-of-range number.
    #[error("number {0} cannot be canonicalized (only integers up to 2^53 are supported)")]
    Number(String),
}

/// Canonical JSON text of `value`.
pub fn canonicalize(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut String) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            const MAX: u64 = 1 << 53;
            if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX) {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64().filter(|u| *u <= MAX) {
                out.push_str(&u.to_string());
            } else if let Some(f) = n
                .as_f64()
                // Integers beyond 2^53 would round here: only numbers parsed as floats.
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() <= MAX as f64)
            {
                out.push_str(&(f as i64).to_string());
            } else {
                return Err(JcsError::Number(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(&map[k], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Appends `s` as RFC 8785 writes a string: in double quotes, `"` and `\` escaped, control
/// characters as the short escapes or `\u00xx`, everything else verbatim.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Most strings (base64, hex, names) need no escape: copied whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_by_utf16_and_escapes_minimally() {
        // RFC 8785 §3.2.3 sorting example: U+20AC sorts before U+1F600's surrogates... and
        // code points above the BMP sort by surrogate, not by scalar value.
        let v = json!({"\u{20ac}": 1, "\u{1f600}": 2, "\u{fb33}": 3, "a": 4, "\r": 5, "1": 6});
        assert_eq!(
            canonicalize(&v).unwrap(),
            "{\"\\r\":5,\"1\":6,\"a\":4,\"\u{20ac}\":1,\"\u{1f600}\":2,\"\u{fb33}\":3}"
        );
        assert_eq!(canonicalize(&json!("a/b\u{1}")).unwrap(), "\"a/b\\u0001\"");
    }

    #[test]
    fn rekor_set_payload_shape() {
        let v =
            json!({"logIndex": 5, "body": "e30=", "logID": "ab", "integratedTime": 1_700_000_000});
        assert_eq!(
            canonicalize(&v).unwrap(),
            r#"{"body":"e30=","integratedTime":1700000000,"logID":"ab","logIndex":5}"#
        );
    }

    #[test]
    fn refuses_fractions() {
        assert!(canonicalize(&json!(1.5)).is_err());
        assert_eq!(canonicalize(&json!(2.0)).unwrap(), "2");
    }

    #[test]
    fn refuses_integers_that_would_round() {
        let max = 1u64 << 53;
        assert_eq!(canonicalize(&json!(max)).unwrap(), max.to_string());
        assert_eq!(
            canonicalize(&json!(-(max as i64))).unwrap(),
            format!("-{max}")
        );
        for n in [
            json!(max + 1),
            json!(-(max as i64) - 1),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            assert!(matches!(canonicalize(&n), Err(JcsError::Number(_))), "{n}");
        }
    }
}
