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
/// digest, as the workspace's one reference parser reads it (Docker Hub's one-word names get
/// `library/`); `None` for what is not a reference, which then matches nothing.
pub fn repository_path(reference: &str) -> Option<String> {
    sigil_formats::reference::Reference::parse(reference)
        .ok()
        .map(|r| r.path().to_owned())
}

fn check_reference(signed: &str, claims: &ImageClaims) -> Result<(), ClaimError> {
    let signed_path = repository_path(signed);
    let ok = signed_path.is_some()
        && (signed_path == repository_path(&claims.repository)
            || claims
                .allowed_references
                .iter()
                .any(|a| a == "*" || repository_path(a) == signed_path));
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
        let path = |r: &str| repository_path(r);
        assert_eq!(path("alpine").as_deref(), Some("library/alpine"));
        assert_eq!(
            path("index.docker.io/library/alpine").as_deref(),
            Some("library/alpine")
        );
        assert_eq!(path("docker.io/org/app:v1").as_deref(), Some("org/app"));
        let pinned = format!("127.0.0.1:5000/team/app@sha256:{}", "0".repeat(64));
        assert_eq!(path(&pinned).as_deref(), Some("team/app"));
        assert_eq!(path("localhost/a/b").as_deref(), Some("a/b"));
        assert_eq!(path("org/app").as_deref(), Some("org/app"));
        // Not a reference: matches nothing, not even itself.
        assert_eq!(path("127.0.0.1:5000/team/app@sha256:00"), None);
        assert_eq!(path("example.com/UPPER/case"), None);
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
