//! Image references in the distribution grammar — the one parser of the workspace (the
//! registry client, the claim checks of image signatures and the commands all use it) (`[domain/]path[:tag][@digest]`), normalised as
//! Docker does: no domain means Docker Hub, and a one-component path there gets `library/`.
//!
//! Parsed by hand: the grammar is small, and the regular expression other crates compile for it
//! costs ~40 ms per process, more than a whole cached verification.

use std::fmt;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host.
pub const DOCKER_HUB_API: &str = "index.docker.io";

/// Why a reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Empty input.
    #[error("the reference is empty")]
    Empty,
    /// Longer than 255 characters for the name.
    #[error("the repository name is longer than 255 characters")]
    TooLong,
    /// A bad domain.
    #[error("invalid registry host {0:?}")]
    Domain(String),
    /// A bad path component.
    #[error(
        "invalid repository path component {0:?} (lower-case letters, digits and . _ - separators)"
    )]
    Path(String),
    /// A bad tag.
    #[error("invalid tag {0:?} (up to 128 of [A-Za-z0-9_.-], not starting with . or -)")]
    Tag(String),
    /// A bad digest.
    #[error("invalid digest {0:?} (expected sha256:<64 lower-case hex>)")]
    Digest(String),
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn is_domain_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !c.starts_with('-')
        && !c.ends_with('-')
}

fn check_domain(d: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Domain(d.to_owned());
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(bad());
        }
        (
            None,
            after
                .strip_prefix(':')
                .map(Some)
                .unwrap_or_else(|| (!after.is_empty()).then_some("")),
        )
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(h) = host
        && !h.split('.').all(is_domain_component)
    {
        return Err(bad());
    }
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok(())
}

/// Whether `path` is a repository name as a registry takes it (`team/app`: lowercase
/// components joined by `.`, `_`, `__` or runs of `-`, separated by `/`, at most 255
/// characters), without a registry host.
pub fn is_repository_path(path: &str) -> bool {
    path.len() <= 255 && path.split('/').all(|c| check_path_component(c).is_ok())
}

fn check_path_component(c: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Path(c.to_owned());
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(bad());
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__", or any run of "-".
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return Err(bad()),
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_tag(t: &str) -> Result<(), ReferenceError> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !t.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::Tag(t.to_owned()))
    }
}

/// Whether `d` is `sha256:<64 lower-case hex>`, the only digest Sigil follows.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_digest(d: &str) -> Result<(), ReferenceError> {
    if is_sha256_digest(d) {
        Ok(())
    } else {
        Err(ReferenceError::Digest(d.to_owned()))
    }
}

impl Reference {
    /// Parses and normalises a reference.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                check_digest(d)?;
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                check_tag(t)?;
                (&rest[..last_slash + i], Some(t.to_owned()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.starts_with('[')
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                check_domain(first)?;
                (first.to_owned(), path.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if domain.len() + 1 + path.len() > 255 {
            return Err(ReferenceError::TooLong);
        }
        for c in path.split('/') {
            check_path_component(c)?;
        }
        Ok(Self {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry as written (`docker.io` for Docker Hub).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The host to send API requests to (`index.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.domain
        }
    }

    /// The repository path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if written.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if written.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository at another tag or digest (unchecked: callers pass digests they
    /// read or tags they derived).
    pub fn at(&self, reference: &str) -> Self {
        let mut r = self.clone();
        if reference.contains(':') {
            r.tag = None;
            r.digest = Some(reference.to_owned());
        } else {
            r.tag = Some(reference.to_owned());
            r.digest = None;
        }
        r
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_normalisation_and_the_grammar() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.api_host()),
            ("docker.io", "library/alpine", "index.docker.io")
        );
        let r = Reference::parse("org/app:v1.2").unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("docker.io", "org/app", Some("v1.2"))
        );
        let r = Reference::parse("localhost:5000/a/b_c__d-e--f.g:latest").unwrap();
        assert_eq!(
            (r.domain(), r.path()),
            ("localhost:5000", "a/b_c__d-e--f.g")
        );
        let d = format!("sha256:{}", "0".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/o/app:v1@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("v1"), Some(d.as_str())));
        assert_eq!(r.to_string(), format!("ghcr.io/o/app:v1@{d}"));
        let r = Reference::parse("[::1]:5000/app").unwrap();
        assert_eq!(r.domain(), "[::1]:5000");
        for (bad, want) in [
            ("", ReferenceError::Empty),
            ("app:bad tag", ReferenceError::Tag("bad tag".into())),
            (
                "app@sha256:not-hex",
                ReferenceError::Digest("sha256:not-hex".into()),
            ),
            ("repo/UPPER", ReferenceError::Path("UPPER".into())),
            ("r.io/a//b", ReferenceError::Path(String::new())),
            ("r.io/a_-b", ReferenceError::Path("a_-b".into())),
            ("r.io/a___b", ReferenceError::Path("a___b".into())),
            ("r.io/-a", ReferenceError::Path("-a".into())),
            (
                "bad_host.io/a",
                ReferenceError::Domain("bad_host.io".into()),
            ),
            (
                "r.io:99999x/a",
                ReferenceError::Domain("r.io:99999x".into()),
            ),
            ("app:.x", ReferenceError::Tag(".x".into())),
        ] {
            assert_eq!(Reference::parse(bad), Err(want), "{bad:?}");
        }
        assert_eq!(
            Reference::parse(&format!("r.io/{}", "a".repeat(260))),
            Err(ReferenceError::TooLong)
        );
    }
}
