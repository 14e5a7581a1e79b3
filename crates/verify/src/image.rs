//! What an image signature claims, checked against the image being verified: the signed payload
//! names the image's manifest digest, its repository, and carries the annotations the verifier
//! requires (cosign's `-a k=v`). The signature itself is checked by [`crate::verify_bundle`].
//!
//! Repositories are compared by path, ignoring the registry host (a mirror or a copy to another
//! registry keeps verifying; a copy to another repository name does not unless the verifier
//! allows the signed name). Docker Hub names compare as Docker expands them (`alpine` is
//! `library/alpine`).

use std::collections::BTreeMap;

use sigil_formats::dsse::Statement;
use sigil_formats::simple_signing::{SimpleSigning, SimpleSigningError};

/// What the verifier expects of a signature's claims.
#[derive(Debug, Clone, Default)]
pub struct ImageClaims {
    /// The image's manifest digest (`sha256:<hex>`).
    pub digest: String,
    /// The repository being verified (`registry/path`).
    pub repository: String,
    /// Other repositories whose signatures are accepted for it (`*` for any).
    pub allowed_references: Vec<String>,
    /// Annotations the signature must carry with these values.
    pub annotations: BTreeMap<String, String>,
}

/// A claim that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The payload is not cosign's simple-signing document.
    #[error(transparent)]
    Payload(#[from] SimpleSigningError),
    /// The payload signs another manifest.
    #[error("the payload signs {signed}, not this image ({image})")]
    Digest {
        /// What the payload names.
        signed: String,
        /// The image's digest.
        image: String,
    },
    /// The payload names another repository.
    #[error(
        "the payload names repository {signed:?}, not {image:?} (allow it with --allow-reference)"
    )]
    Reference {
        /// What the payload names.
        signed: String,
        /// The repository verified.
        image: String,
    },
    /// A required annotation is missing or different.
    #[error("annotation {key:?}: required {want:?}, {}", match got {
        Some(g) => format!("the signature carries {g:?}"),
        None => "the signature does not carry it".to_owned(),
    })]
    Annotation {
        /// The key.
        key: String,
        /// The required value.
        want: String,
        /// What the signature carries.
        got: Option<String>,
    },
}

/// The repository path of a reference (`registry/path[:tag][@digest]`), without host, tag or
/// digest; Docker Hub's one-word names get `library/`.
pub fn repository_path(reference: &str) -> String {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let no_tag = match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    };
    let path = match no_tag.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => no_tag,
    };
    if path.contains('/') {
        path.to_owned()
    } else {
        format!("library/{path}")
    }
}

fn check_reference(signed: &str, claims: &ImageClaims) -> Result<(), ClaimError> {
    let signed_path = repository_path(signed);
    let ok = signed_path == repository_path(&claims.repository)
        || claims
            .allowed_references
            .iter()
            .any(|a| a == "*" || repository_path(a) == signed_path);
    if ok {
        Ok(())
    } else {
        Err(ClaimError::Reference {
            signed: signed.to_owned(),
            image: claims.repository.clone(),
        })
    }
}

fn check_annotations(
    carried: Option<&BTreeMap<String, String>>,
    claims: &ImageClaims,
) -> Result<(), ClaimError> {
    for (key, want) in &claims.annotations {
        let got = carried.and_then(|m| m.get(key));
        if got != Some(want) {
            return Err(ClaimError::Annotation {
                key: key.clone(),
                want: want.clone(),
                got: got.cloned(),
            });
        }
    }
    Ok(())
}

/// Checks a legacy simple-signing payload (whose signature verified) against the image.
pub fn check_simple_signing(
    payload: &[u8],
    claims: &ImageClaims,
) -> Result<SimpleSigning, ClaimError> {
    let p = SimpleSigning::parse(payload)?;
    if p.manifest_digest != claims.digest {
        return Err(ClaimError::Digest {
            signed: p.manifest_digest,
            image: claims.digest.clone(),
        });
    }
    check_reference(&p.docker_reference, claims)?;
    check_annotations(p.annotations.as_ref(), claims)?;
    Ok(p)
}

/// Checks the statement of a Sigstore-bundle image signature (cosign's
/// `https://sigstore.dev/cosign/sign/v1` predicate; its signature and subject digest verified by
/// the engine): the subject naming the image carries the required annotations.
pub fn check_statement(statement: &Statement, claims: &ImageClaims) -> Result<(), ClaimError> {
    let hex = claims
        .digest
        .strip_prefix("sha256:")
        .unwrap_or(&claims.digest);
    let subject = statement
        .subject
        .iter()
        .find(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
        .ok_or_else(|| ClaimError::Digest {
            signed: statement
                .subject
                .first()
                .and_then(|s| s.digest.get("sha256"))
                .map_or_else(|| "no sha256 subject".into(), |d| format!("sha256:{d}")),
            image: claims.digest.clone(),
        })?;
    if !subject.name.is_empty() {
        check_reference(&subject.name, claims)?;
    }
    let carried: Option<BTreeMap<String, String>> = subject
        .annotations
        .as_ref()
        .and_then(|v| v.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        });
    check_annotations(carried.as_ref(), claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_messages_name_values_not_options() {
        let missing = ClaimError::Annotation {
            key: "env".into(),
            want: "prod".into(),
            got: None,
        }
        .to_string();
        assert_eq!(
            missing,
            "annotation \"env\": required \"prod\", the signature does not carry it"
        );
        let other = ClaimError::Annotation {
            key: "env".into(),
            want: "prod".into(),
            got: Some("dev".into()),
        }
        .to_string();
        assert!(!other.contains("Some("), "{other}");
        assert!(other.ends_with("the signature carries \"dev\""), "{other}");
    }

    fn claims() -> ImageClaims {
        ImageClaims {
            digest: format!("sha256:{}", "a".repeat(64)),
            repository: "127.0.0.1:5000/team/app".into(),
            allowed_references: vec![],
            annotations: BTreeMap::from([("env".into(), "prod".into())]),
        }
    }

    fn payload(reference: &str, digest: &str, ann: Option<(&str, &str)>) -> Vec<u8> {
        SimpleSigning {
            docker_reference: reference.into(),
            manifest_digest: digest.into(),
            annotations: ann.map(|(k, v)| BTreeMap::from([(k.into(), v.into())])),
        }
        .to_json()
    }

    #[test]
    fn repository_paths() {
        assert_eq!(repository_path("alpine"), "library/alpine");
        assert_eq!(
            repository_path("index.docker.io/library/alpine"),
            "library/alpine"
        );
        assert_eq!(repository_path("docker.io/org/app:v1"), "org/app");
        assert_eq!(
            repository_path("127.0.0.1:5000/team/app@sha256:00"),
            "team/app"
        );
        assert_eq!(repository_path("localhost/a/b"), "a/b");
        assert_eq!(repository_path("org/app"), "org/app");
    }

    #[test]
    fn each_claim_is_checked() {
        let c = claims();
        let d = c.digest.clone();
        assert!(
            check_simple_signing(
                &payload("127.0.0.1:5000/team/app", &d, Some(("env", "prod"))),
                &c
            )
            .is_ok()
        );
        // A mirror on another host keeps verifying.
        assert!(
            check_simple_signing(
                &payload("mirror.example/team/app", &d, Some(("env", "prod"))),
                &c
            )
            .is_ok()
        );
        let other = format!("sha256:{}", "b".repeat(64));
        assert!(matches!(
            check_simple_signing(
                &payload("127.0.0.1:5000/team/app", &other, Some(("env", "prod"))),
                &c
            ),
            Err(ClaimError::Digest { .. })
        ));
        assert!(matches!(
            check_simple_signing(
                &payload("127.0.0.1:5000/team/other", &d, Some(("env", "prod"))),
                &c
            ),
            Err(ClaimError::Reference { .. })
        ));
        let mut allowed = c.clone();
        allowed.allowed_references = vec!["team/other".into()];
        assert!(
            check_simple_signing(
                &payload("127.0.0.1:5000/team/other", &d, Some(("env", "prod"))),
                &allowed
            )
            .is_ok()
        );
        assert_eq!(
            check_simple_signing(
                &payload("127.0.0.1:5000/team/app", &d, Some(("env", "dev"))),
                &c
            )
            .unwrap_err(),
            ClaimError::Annotation {
                key: "env".into(),
                want: "prod".into(),
                got: Some("dev".into())
            }
        );
        assert!(matches!(
            check_simple_signing(&payload("127.0.0.1:5000/team/app", &d, None), &c),
            Err(ClaimError::Annotation { got: None, .. })
        ));
        assert!(matches!(
            check_simple_signing(b"{}", &c),
            Err(ClaimError::Payload(_))
        ));
    }
}
