//! policy-controller's image globs: `*` is any run of characters other than `/`, `**` any run
//! at all; the tag's `:` is not a separator (any tag is `…:**`); only `[a-zA-Z0-9-_:/*.@]` may
//! appear. The image is normalised first — Docker Hub names become `index.docker.io/library/…`,
//! an untagged reference gets `:latest` — and a glob that does not match the normalised name is
//! tried against the name as written (policy-controller's deprecated fallback). The bare globs
//! `*` and `*/*` mean Docker Hub's `index.docker.io/library/*` and `index.docker.io/*/*`.

use regex::Regex;
use sigil_formats::reference::{DOCKER_HUB, DOCKER_HUB_API, Reference};

/// Why a glob or an image cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// A character outside `[a-zA-Z0-9-_:/*.@]`, or an empty glob.
    #[error("invalid glob {0:?}: only letters, digits and - _ : / * . @ may appear")]
    Invalid(String),
    /// The image is not a reference.
    #[error("{image} is not an image reference: {reason}")]
    Image {
        /// The image.
        image: String,
        /// Why.
        reason: String,
    },
}

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    re: Regex,
}

impl Glob {
    /// Compiles `glob`.
    pub fn new(glob: &str) -> Result<Self, GlobError> {
        let g = match glob {
            "*/*" => "index.docker.io/*/*",
            "*" => "index.docker.io/library/*",
            g => g,
        };
        let valid = !g.is_empty()
            && g.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'-' | b'_' | b':' | b'/' | b'*' | b'.' | b'@')
            });
        if !valid {
            return Err(GlobError::Invalid(glob.to_owned()));
        }
        let mut re = String::with_capacity(g.len() * 2 + 2);
        re.push('^');
        let mut rest = g;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("**") {
                re.push_str(".*");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('*') {
                re.push_str("[^/]*");
                rest = r;
            } else {
                let c = rest.chars().next().unwrap_or('.');
                if c == '.' {
                    re.push_str("\\.");
                } else {
                    re.push(c);
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        re.push('$');
        let re = Regex::new(&re).map_err(|_| GlobError::Invalid(glob.to_owned()))?;
        Ok(Self {
            source: glob.to_owned(),
            re,
        })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `image` matches: its normalised name, else the name as written.
    pub fn matches(&self, image: &str) -> Result<bool, GlobError> {
        let name = normalise(image)?;
        Ok(self.re.is_match(&name) || (name != image && self.re.is_match(image)))
    }
}

/// An image's name as policy-controller matches it: `index.docker.io/library/busybox:latest`,
/// `ghcr.io/org/app@sha256:…` (a digest reference keeps its digest, not its tag).
pub fn normalise(image: &str) -> Result<String, GlobError> {
    let r = Reference::parse(image).map_err(|e| GlobError::Image {
        image: image.to_owned(),
        reason: e.to_string(),
    })?;
    let host = if r.domain() == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        r.domain()
    };
    Ok(match (r.digest(), r.tag()) {
        (Some(d), _) => format!("{host}/{}@{d}", r.path()),
        (None, Some(t)) => format!("{host}/{}:{t}", r.path()),
        (None, None) => format!("{host}/{}:latest", r.path()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// policy-controller's own table (pkg/apis/glob/glob_test.go).
    #[test]
    fn policy_controllers_cases() {
        let digest =
            "ghcr.io/foo@sha256:5504f2a95018e3d8a52d80d9e1a128c6ea337581808ff9fe96f5628ce2336350";
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("foo", "index.docker.io/library/foo:latest", Some(true)),
            ("foo", "index.docker.io/library/foo:*", Some(true)),
            ("foo", "index.docker.io/library/*", Some(true)),
            ("foo", "index.docker.io/library/*:latest", Some(true)),
            ("foo", "index.docker.io/*/*", Some(true)),
            ("foo", "index.docker.io/**", Some(true)),
            ("foo", "index.docker.**", Some(true)),
            ("foo", "inde**", Some(true)),
            ("foo", "**", Some(true)),
            ("foo", "foo", Some(true)),
            ("foo", "foo*", Some(true)),
            ("foo", "foo**", Some(true)),
            (
                "myuser/myapp",
                "index.docker.io/myuser/myapp:latest",
                Some(true),
            ),
            ("myuser/myapp", "index.docker.io/myuser/myapp:*", Some(true)),
            ("myuser/myapp", "index.docker.io/myuser/*", Some(true)),
            (
                "myuser/myapp",
                "index.docker.io/myuser/*:latest",
                Some(true),
            ),
            ("myuser/myapp", "index.docker.io/*/*", Some(true)),
            ("myuser/myapp", "index.docker.io/**", Some(true)),
            ("myuser/myapp", "myuser/myapp", Some(true)),
            ("myuser/myapp", "myuser/myapp*", Some(true)),
            ("ghcr.io/foo/bar", "ghcr.io/*/*", Some(true)),
            ("ghcr.io/foo/bar", "ghcr.io/**", Some(true)),
            ("ghcr.io/foo", "ghcr.io/*/*", Some(false)),
            ("ghcr.io/foo", "ghcr.io/**", Some(true)),
            ("ghcr.io/foo", "ghc**", Some(true)),
            ("ghcr.io/foo", "**", Some(true)),
            ("ghcr.io/foo", "*/**", Some(true)),
            ("ghcr.io/foo", "ghcr.io/foo*", Some(true)),
            ("ghcr.io/foo", "ghcr.io/foo**", Some(true)),
            ("prefix-ghcr.io/foo", "ghcr.io/foo", Some(false)),
            ("ghcr.io/foo-suffix", "ghcr.io/foo", Some(false)),
            ("ghcrxio/foo", "ghcr.io/**", Some(false)),
            ("invalid&name", "**", None),
            ("invalid-glob", ".+", None),
            ("invalid-glob", "[a-z]*", None),
            ("foo", "*", Some(true)),
            ("myuser/myapp", "*/*", Some(true)),
            (digest, digest, Some(true)),
        ];
        for (image, glob, want) in cases {
            let got = Glob::new(glob).and_then(|g| g.matches(image)).ok();
            assert_eq!(got, *want, "{image} ~ {glob}");
        }
    }

    #[test]
    fn a_tag_and_a_digest_normalise_as_policy_controller_does() {
        assert_eq!(
            normalise("busybox").unwrap(),
            "index.docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalise("docker.io/org/app:v1").unwrap(),
            "index.docker.io/org/app:v1"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            normalise(&format!("127.0.0.1:5000/team/app:v1@{d}")).unwrap(),
            format!("127.0.0.1:5000/team/app@{d}")
        );
        // `*` does not cross `/`, and `:` is not a separator.
        let g = Glob::new("registry.example/team/*").unwrap();
        assert!(g.matches("registry.example/team/app:v1").unwrap());
        assert!(!g.matches("registry.example/team/sub/app:v1").unwrap());
    }
}
