//! cosign's simple-signing payload: what a legacy image signature signs.
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"ghcr.io/org/app"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":{"k":"v"}}
//! ```
//!
//! Written byte for byte as cosign writes it with Go's `encoding/json`: compact, fields in struct
//! order, annotation keys sorted, `"optional":null` without annotations, and Go's string
//! escaping (`<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`; other control characters short or
//! `\u00XX`). Read in any JSON order, strictly: the type must be cosign's.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `critical.type` cosign writes and verifiers require.
pub const COSIGN_TYPE: &str = "cosign container image signature";
/// The media type of a simple-signing layer.
pub const MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Largest payload accepted.
pub const MAX_PAYLOAD_LEN: usize = 1024 * 1024;

/// A parsed simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference`: the repository, without tag.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`: the signed manifest digest.
    pub manifest_digest: String,
    /// `optional`: the annotations (`-a k=v`); `None` is written as `null`.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What was wrong with a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimpleSigningError {
    /// Too large.
    #[error("simple-signing payload is {0} bytes, over the {MAX_PAYLOAD_LEN}-byte limit")]
    TooLarge(usize),
    /// Not the expected JSON.
    #[error("malformed simple-signing payload: {0}")]
    Json(String),
    /// Another type of payload.
    #[error("the payload's critical.type is {0:?}, not {COSIGN_TYPE:?}")]
    Type(String),
}

#[derive(Deserialize)]
struct Doc {
    critical: Critical,
    #[serde(default)]
    optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    type_: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl SimpleSigning {
    /// Parses a payload. Annotation values that are not strings are kept as their JSON text.
    pub fn parse(payload: &[u8]) -> Result<Self, SimpleSigningError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(SimpleSigningError::TooLarge(payload.len()));
        }
        let doc: Doc =
            serde_json::from_slice(payload).map_err(|e| SimpleSigningError::Json(e.to_string()))?;
        if doc.critical.type_ != COSIGN_TYPE {
            return Err(SimpleSigningError::Type(doc.critical.type_));
        }
        let annotations = doc.optional.map(|m| {
            m.into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect()
        });
        Ok(Self {
            docker_reference: doc.critical.identity.docker_reference,
            manifest_digest: doc.critical.image.docker_manifest_digest,
            annotations,
        })
    }

    /// The payload bytes exactly as cosign writes them.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
        go_string(&self.docker_reference, &mut out);
        out.push_str(r#"},"image":{"docker-manifest-digest":"#);
        go_string(&self.manifest_digest, &mut out);
        out.push_str(r#"},"type":"#);
        go_string(COSIGN_TYPE, &mut out);
        out.push_str(r#"},"optional":"#);
        match &self.annotations {
            None => out.push_str("null"),
            Some(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_string(k, &mut out);
                    out.push(':');
                    go_string(v, &mut out);
                }
                out.push('}');
            }
        }
        out.push('}');
        out.into_bytes()
    }
}

/// A JSON string as Go's `encoding/json` (with HTML escaping, its default) writes it.
fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn bytes_match_cosign_without_and_with_annotations() {
        let p = SimpleSigning {
            docker_reference: "ghcr.io/org/app".into(),
            manifest_digest: D.into(),
            annotations: None,
        };
        assert_eq!(
            String::from_utf8(p.to_json()).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"ghcr.io/org/app"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let mut a = BTreeMap::new();
        a.insert("z".to_owned(), "last".to_owned());
        a.insert("commit".to_owned(), "a&b <c>".to_owned());
        let p = SimpleSigning {
            annotations: Some(a),
            ..p
        };
        let text = String::from_utf8(p.to_json()).unwrap();
        assert!(
            text.ends_with(r#""optional":{"commit":"a\u0026b \u003cc\u003e","z":"last"}}"#),
            "{text}"
        );
        assert_eq!(SimpleSigning::parse(text.as_bytes()).unwrap(), p);
    }

    #[test]
    fn reproduces_a_payload_cosign_printed() {
        // As `cosign verify` printed it in a public walkthrough (registry names filled in).
        let printed = r#"{"critical":{"identity":{"docker-reference":"default-route-openshift-image-registry.apps.example.com/team-test/pet-battle-api"},"image":{"docker-manifest-digest":"sha256:1545e1d2cf0afe5df99fe5f1d39eef8429a2018c3734dd3bdfcac5a068189e39"},"type":"cosign container image signature"},"optional":null}"#;
        let p = SimpleSigning::parse(printed.as_bytes()).unwrap();
        assert_eq!(p.annotations, None);
        assert_eq!(String::from_utf8(p.to_json()).unwrap(), printed);
    }

    #[test]
    fn parse_checks_the_type_and_shape() {
        let other = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"something else"}}}}"#
        );
        assert_eq!(
            SimpleSigning::parse(other.as_bytes()),
            Err(SimpleSigningError::Type("something else".into()))
        );
        assert!(matches!(
            SimpleSigning::parse(br#"{"critical":{}}"#),
            Err(SimpleSigningError::Json(_))
        ));
        // The spec example's capitalised key is not what cosign writes, and is refused.
        let wrong = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"Docker-manifest-digest":"{D}"}},"type":"{COSIGN_TYPE}"}}}}"#
        );
        assert!(matches!(
            SimpleSigning::parse(wrong.as_bytes()),
            Err(SimpleSigningError::Json(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn round_trips(reference in "\\PC{0,40}", k in "\\PC{1,10}", v in "\\PC{0,20}") {
            let p = SimpleSigning { docker_reference: reference, manifest_digest: D.into(), annotations: Some(BTreeMap::from([(k, v)])) };
            proptest::prop_assert_eq!(SimpleSigning::parse(&p.to_json()).unwrap(), p);
        }
    }
}
