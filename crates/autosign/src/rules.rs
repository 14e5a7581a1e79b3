//! Per-repository signing rules (`sigil serve --sign-on-push-config F`, YAML or JSON):
//!
//! ```yaml
//! repositories:
//!   - match: "team/**"          # `*` one path segment's characters, `**` anything
//!     key: team                 # one key for the namespace (default: each repository its own)
//!     annotations: {tenant: acme, app: widget}
//!     labels:                   # image config labels signed as annotations
//!       org.opencontainers.image.revision: commit
//!       com.example.build-id: build-id
//!     sbom: true                # also attest the image's CycloneDX SBOM
//!     tlog: true                # upload the signatures to the transparency log
//! ```
//!
//! The first rule that matches applies; a repository no rule matches is signed with its own
//! key and no annotations. Unknown keys are refused.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The largest rules file read.
pub const MAX_RULES: usize = 256 * 1024;

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    source: String,
    pattern: regex::Regex,
    /// The key's name (a repository-like name), when the rule shares one key.
    pub key: Option<String>,
    /// Annotations signed into every signature.
    pub annotations: BTreeMap<String, String>,
    /// Image config labels signed as annotations: label → annotation name.
    pub labels: BTreeMap<String, String>,
    /// Also attest the image's CycloneDX SBOM (`--type cyclonedx`).
    pub sbom: bool,
    /// Upload the signatures (and attestations) to the transparency log (off by default:
    /// private repositories are not logged).
    pub tlog: bool,
}

impl Rule {
    /// The glob as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// All rules, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    repositories: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    sbom: bool,
    #[serde(default)]
    tlog: bool,
}

fn glob(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.is_empty()
        || !pattern
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/*".contains(c))
    {
        return Err(format!(
            "match {pattern:?}: a repository glob of lowercase letters, digits, . _ - / and *"
        ));
    }
    let mut re = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            re.push_str(".*");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            re.push_str("[^/]*");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| e.to_string())
}

impl Rules {
    /// Reads rules from YAML or JSON text.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_RULES {
            return Err(format!("over {MAX_RULES} bytes"));
        }
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| format!("not YAML or JSON: {e}"))?;
        let raw: RawRules = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let mut rules = Vec::new();
        for (i, r) in raw.repositories.into_iter().enumerate() {
            let here = |e: String| format!("repositories[{i}]: {e}");
            if let Some(k) = &r.key
                && !sigil_formats::reference::is_repository_path(k)
            {
                return Err(here(format!(
                    "key {k:?} is not a name of lowercase letters, digits and . _ - /"
                )));
            }
            rules.push(Rule {
                pattern: glob(&r.pattern).map_err(here)?,
                source: r.pattern,
                key: r.key,
                annotations: r.annotations,
                labels: r.labels,
                sbom: r.sbom,
                tlog: r.tlog,
            });
        }
        Ok(Self { rules })
    }

    /// The rule for `repository`.
    pub fn find(&self, repository: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.pattern.is_match(repository))
    }

    /// The key name for `repository`: the rule's shared key, else the repository's own.
    pub fn key_name(&self, repository: &str) -> String {
        self.find(repository)
            .and_then(|r| r.key.clone())
            .unwrap_or_else(|| repository.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_globs_stop_at_slashes() {
        let r = Rules::parse(
            "repositories:\n  - match: team/*\n    key: team\n    annotations: {tenant: acme}\n  - match: '**'\n    labels: {org.opencontainers.image.revision: commit}\n",
        )
        .unwrap();
        assert_eq!(r.key_name("team/app"), "team");
        assert_eq!(r.key_name("team/app/sub"), "team/app/sub");
        assert_eq!(r.find("team/app").unwrap().annotations["tenant"], "acme");
        assert_eq!(r.find("other/x").unwrap().source(), "**");
        assert!(Rules::parse("repositories:\n  - match: team/*\n    keys: x\n").is_err());
        assert!(Rules::parse("repositories:\n  - match: Team/*\n").is_err());
        assert!(Rules::parse("repositories:\n  - match: a\n    key: ../x\n").is_err());
        assert_eq!(Rules::default().key_name("a/b"), "a/b");
    }
}
