//! The CA's OIDC configuration in Fulcio's format, so an existing Fulcio configuration loads
//! unchanged: YAML (`oidc-issuers`, `meta-issuers`, `ci-issuer-metadata`, with anchors) or
//! JSON (`OIDCIssuers`, `MetaIssuers`, `CIIssuerMetadata`). Sigil's additions are extra keys
//! per issuer: `jwks` (a JWK set inline) or `jwks-file`, `bearer-token-file` (sent with
//! discovery, as an in-cluster service account's token), and `issuance-rules` (which identities
//! may get certificates). Unknown keys are refused: a misspelt rule must not silently allow
//! everyone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::template::Template;

/// The largest configuration file read.
pub const MAX_CONFIG: usize = 1024 * 1024;

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OIDC configuration {source_name}: {what}")]
pub struct ConfigError {
    /// The file.
    pub source_name: String,
    /// What is wrong.
    pub what: String,
}

/// How an issuer's tokens become a certificate identity (Fulcio's issuer types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerType {
    /// An email SAN from `email` (with `email_verified` true).
    Email,
    /// A URI SAN `https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}`.
    Kubernetes,
    /// A SPIFFE ID (`sub`) in the configured trust domain.
    Spiffe,
    /// A URI (`sub`) whose scheme and host are the subject domain's.
    Uri,
    /// An OtherName SAN (1.3.6.1.4.1.57264.1.7) `sub!subject-domain`.
    Username,
    /// The SAN and extensions from claim templates (GitHub Actions, GitLab CI and the others).
    CiProvider,
}

impl IssuerType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => Self::Email,
            "kubernetes" => Self::Kubernetes,
            "spiffe" => Self::Spiffe,
            "uri" => Self::Uri,
            "username" => Self::Username,
            "ci-provider" | "github-workflow" | "gitlab-pipeline" => Self::CiProvider,
            _ => return None,
        })
    }

    /// Fulcio's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Kubernetes => "kubernetes",
            Self::Spiffe => "spiffe",
            Self::Uri => "uri",
            Self::Username => "username",
            Self::CiProvider => "ci-provider",
        }
    }
}

/// A CI provider's templates (`ci-issuer-metadata`).
#[derive(Debug, Clone)]
pub struct CiMetadata {
    /// Values used when the token lacks the claim (`url`, optional claims set to "").
    pub defaults: BTreeMap<String, String>,
    /// (OID, raw bytes rather than UTF8String, template), in OID order.
    pub extensions: Vec<(&'static str, bool, Template)>,
    /// The SAN (a URI).
    pub san: Template,
}

/// Matches one value: exactly, or by a regular expression anchored at both ends.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Exactly this value.
    Exact(String),
    /// `regexp:…`, anchored at both ends.
    Pattern(regex::Regex),
}

impl Matcher {
    fn parse(s: &str) -> Result<Self, String> {
        match s.strip_prefix("regexp:") {
            Some(re) => regex::Regex::new(&format!("^(?:{re})$"))
                .map(Self::Pattern)
                .map_err(|e| format!("regexp {re:?}: {e}")),
            None => Ok(Self::Exact(s.to_owned())),
        }
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(e) => e == value,
            Self::Pattern(re) => re.is_match(value),
        }
    }
}

/// One issuance rule: every field must match (a field takes one matcher or a list, any of which
/// may match). Fields: `san` (the certificate identity), `subject` (the token's `sub`), or a
/// claim path (`kubernetes.io.namespace`, `repository`, `ref`, `email`).
#[derive(Debug, Clone)]
pub struct Rule {
    /// (field, matchers).
    pub fields: Vec<(String, Vec<Matcher>)>,
}

/// One configured issuer (or meta-issuer).
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The issuer URL, or a meta-issuer pattern.
    pub url: String,
    /// Whether `url` is a meta-issuer pattern.
    pub meta: bool,
    /// A meta-issuer's pattern, compiled.
    meta_re: Option<regex::Regex>,
    /// The audience (`client-id`).
    pub client_id: String,
    /// How tokens become identities.
    pub kind: IssuerType,
    /// `uri` and `username` issuers: the subject domain.
    pub subject_domain: Option<String>,
    /// `spiffe` issuers: the trust domain.
    pub spiffe_trust_domain: Option<String>,
    /// The claim the proof of possession signs (`email` for email issuers, `sub` otherwise).
    pub challenge_claim: Option<String>,
    /// A claim whose value is recorded as the issuer instead of `iss` (`$.a.b` or `a.b`).
    pub issuer_claim: Option<String>,
    /// Email issuers that omit `email_verified`.
    pub skip_email_verification: bool,
    /// CI providers' templates.
    pub ci: Option<CiMetadata>,
    /// The issuance rules; none means every identity of the issuer.
    pub rules: Vec<Rule>,
    /// The verification settings for sigil-oidc.
    pub oidc: sigil_oidc::Issuer,
}

/// The whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Exact issuers first, then meta-issuers (as Fulcio looks them up).
    pub issuers: Vec<IssuerConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "oidc-issuers", alias = "OIDCIssuers")]
    oidc_issuers: BTreeMap<String, RawIssuer>,
    #[serde(default, rename = "meta-issuers", alias = "MetaIssuers")]
    meta_issuers: BTreeMap<String, RawIssuer>,
    #[serde(default, rename = "ci-issuer-metadata", alias = "CIIssuerMetadata")]
    ci_issuer_metadata: BTreeMap<String, RawMetadata>,
    /// YAML anchors' home in Fulcio's own configuration.
    #[serde(default)]
    #[allow(dead_code)]
    define: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    #[serde(default, rename = "issuer-url", alias = "IssuerURL")]
    issuer_url: Option<String>,
    #[serde(default, rename = "client-id", alias = "ClientID")]
    client_id: Option<String>,
    #[serde(rename = "type", alias = "Type")]
    kind: String,
    #[serde(default, rename = "ci-provider", alias = "CIProvider")]
    ci_provider: Option<String>,
    #[serde(default, rename = "issuer-claim", alias = "IssuerClaim")]
    issuer_claim: Option<String>,
    #[serde(default, rename = "subject-domain", alias = "SubjectDomain")]
    subject_domain: Option<String>,
    #[serde(default, rename = "spiffe-trust-domain", alias = "SPIFFETrustDomain")]
    spiffe_trust_domain: Option<String>,
    #[serde(default, rename = "challenge-claim", alias = "ChallengeClaim")]
    challenge_claim: Option<String>,
    #[serde(default, alias = "Description")]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default, alias = "Contact")]
    #[allow(dead_code)]
    contact: Option<String>,
    #[serde(default, alias = "Environment")]
    #[allow(dead_code)]
    environment: Option<String>,
    #[serde(default, rename = "ca-cert", alias = "CACert")]
    ca_cert: Option<String>,
    #[serde(
        default,
        rename = "skip-email-verification",
        alias = "SkipEmailVerification"
    )]
    skip_email_verification: bool,
    // Sigil's additions.
    #[serde(default, alias = "JWKS")]
    jwks: Option<Value>,
    #[serde(default, rename = "jwks-file", alias = "JWKSFile")]
    jwks_file: Option<PathBuf>,
    #[serde(default, rename = "bearer-token-file", alias = "BearerTokenFile")]
    bearer_token_file: Option<PathBuf>,
    #[serde(default, rename = "issuance-rules", alias = "IssuanceRules")]
    issuance_rules: Vec<BTreeMap<String, OneOrMany>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    #[serde(
        default,
        rename = "default-template-values",
        alias = "DefaultTemplateValues"
    )]
    default_template_values: BTreeMap<String, String>,
    #[serde(default, rename = "extension-templates", alias = "ExtensionTemplates")]
    extension_templates: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "subject-alternative-name-template",
        alias = "SubjectAlternativeNameTemplate"
    )]
    subject_alternative_name_template: Option<String>,
}

/// The certificate extensions a CI template may fill: (YAML name, JSON name, OID, raw bytes).
pub const CI_EXTENSIONS: &[(&str, &str, &str, bool)] = &[
    (
        "github-workflow-trigger",
        "GithubWorkflowTrigger",
        "1.3.6.1.4.1.57264.1.2",
        true,
    ),
    (
        "github-workflow-sha",
        "GithubWorkflowSHA",
        "1.3.6.1.4.1.57264.1.3",
        true,
    ),
    (
        "github-workflow-name",
        "GithubWorkflowName",
        "1.3.6.1.4.1.57264.1.4",
        true,
    ),
    (
        "github-workflow-repository",
        "GithubWorkflowRepository",
        "1.3.6.1.4.1.57264.1.5",
        true,
    ),
    (
        "github-workflow-ref",
        "GithubWorkflowRef",
        "1.3.6.1.4.1.57264.1.6",
        true,
    ),
    (
        "build-signer-uri",
        "BuildSignerURI",
        "1.3.6.1.4.1.57264.1.9",
        false,
    ),
    (
        "build-signer-digest",
        "BuildSignerDigest",
        "1.3.6.1.4.1.57264.1.10",
        false,
    ),
    (
        "runner-environment",
        "RunnerEnvironment",
        "1.3.6.1.4.1.57264.1.11",
        false,
    ),
    (
        "source-repository-uri",
        "SourceRepositoryURI",
        "1.3.6.1.4.1.57264.1.12",
        false,
    ),
    (
        "source-repository-digest",
        "SourceRepositoryDigest",
        "1.3.6.1.4.1.57264.1.13",
        false,
    ),
    (
        "source-repository-ref",
        "SourceRepositoryRef",
        "1.3.6.1.4.1.57264.1.14",
        false,
    ),
    (
        "source-repository-identifier",
        "SourceRepositoryIdentifier",
        "1.3.6.1.4.1.57264.1.15",
        false,
    ),
    (
        "source-repository-owner-uri",
        "SourceRepositoryOwnerURI",
        "1.3.6.1.4.1.57264.1.16",
        false,
    ),
    (
        "source-repository-owner-identifier",
        "SourceRepositoryOwnerIdentifier",
        "1.3.6.1.4.1.57264.1.17",
        false,
    ),
    (
        "build-config-uri",
        "BuildConfigURI",
        "1.3.6.1.4.1.57264.1.18",
        false,
    ),
    (
        "build-config-digest",
        "BuildConfigDigest",
        "1.3.6.1.4.1.57264.1.19",
        false,
    ),
    (
        "build-trigger",
        "BuildTrigger",
        "1.3.6.1.4.1.57264.1.20",
        false,
    ),
    (
        "run-invocation-uri",
        "RunInvocationURI",
        "1.3.6.1.4.1.57264.1.21",
        false,
    ),
    (
        "source-repository-visibility-at-signing",
        "SourceRepositoryVisibilityAtSigning",
        "1.3.6.1.4.1.57264.1.22",
        false,
    ),
    (
        "deployment-environment",
        "DeploymentEnvironment",
        "1.3.6.1.4.1.57264.1.23",
        false,
    ),
];

/// GitHub Actions' and GitLab CI's claim mappings, used for the `github-workflow` and
/// `gitlab-pipeline` types (and as the `ci-provider` metadata of those names) unless the
/// configuration gives its own.
fn builtin_metadata(name: &str) -> Option<RawMetadata> {
    let pairs = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    match name {
        "github-workflow" => Some(RawMetadata {
            default_template_values: pairs(&[("url", "https://github.com"), ("environment", "")]),
            extension_templates: pairs(&[
                ("github-workflow-trigger", "event_name"),
                ("github-workflow-sha", "sha"),
                ("github-workflow-name", "workflow"),
                ("github-workflow-repository", "repository"),
                ("github-workflow-ref", "ref"),
                ("build-signer-uri", "{{ .url }}/{{ .job_workflow_ref }}"),
                ("build-signer-digest", "job_workflow_sha"),
                ("runner-environment", "runner_environment"),
                ("source-repository-uri", "{{ .url }}/{{ .repository }}"),
                ("source-repository-digest", "sha"),
                ("source-repository-ref", "ref"),
                ("source-repository-identifier", "repository_id"),
                (
                    "source-repository-owner-uri",
                    "{{ .url }}/{{ .repository_owner }}",
                ),
                ("source-repository-owner-identifier", "repository_owner_id"),
                ("build-config-uri", "{{ .url }}/{{ .workflow_ref }}"),
                ("build-config-digest", "workflow_sha"),
                ("build-trigger", "event_name"),
                (
                    "run-invocation-uri",
                    "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
                ),
                (
                    "source-repository-visibility-at-signing",
                    "repository_visibility",
                ),
                ("deployment-environment", "environment"),
            ]),
            subject_alternative_name_template: Some("{{ .url }}/{{ .job_workflow_ref }}".into()),
        }),
        "gitlab-pipeline" => Some(RawMetadata {
            default_template_values: pairs(&[("url", "https://gitlab.com"), ("environment", "")]),
            extension_templates: pairs(&[
                ("build-signer-uri", "https://{{ .ci_config_ref_uri }}"),
                ("build-signer-digest", "ci_config_sha"),
                ("runner-environment", "runner_environment"),
                ("source-repository-uri", "{{ .url }}/{{ .project_path }}"),
                ("source-repository-digest", "sha"),
                (
                    "source-repository-ref",
                    r#"refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}"#,
                ),
                ("source-repository-identifier", "project_id"),
                (
                    "source-repository-owner-uri",
                    "{{ .url }}/{{ .namespace_path }}",
                ),
                ("source-repository-owner-identifier", "namespace_id"),
                ("build-config-uri", "https://{{ .ci_config_ref_uri }}"),
                ("build-config-digest", "ci_config_sha"),
                ("build-trigger", "pipeline_source"),
                (
                    "run-invocation-uri",
                    "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}",
                ),
                (
                    "source-repository-visibility-at-signing",
                    "project_visibility",
                ),
                ("deployment-environment", "environment"),
            ]),
            subject_alternative_name_template: Some("https://{{ .ci_config_ref_uri }}".into()),
        }),
        _ => None,
    }
}

fn metadata(raw: &RawMetadata) -> Result<CiMetadata, String> {
    let mut extensions = Vec::new();
    for (name, source) in &raw.extension_templates {
        let (_, _, oid, is_raw) = CI_EXTENSIONS
            .iter()
            .find(|(yaml, json, _, _)| yaml == name || json == name)
            .ok_or_else(|| format!("extension template {name:?} names no certificate extension"))?;
        extensions.push((
            *oid,
            *is_raw,
            Template::parse(source).map_err(|e| e.to_string())?,
        ));
    }
    extensions.sort_by_key(|(oid, _, _)| {
        oid.rsplit('.')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    let san = raw
        .subject_alternative_name_template
        .as_deref()
        .ok_or("no subject-alternative-name-template")?;
    Ok(CiMetadata {
        defaults: raw.default_template_values.clone(),
        extensions,
        san: Template::parse(san).map_err(|e| e.to_string())?,
    })
}

/// Reads a configuration file's text (`base` resolves `jwks-file` and `bearer-token-file`).
pub fn parse(text: &str, source_name: &str, base: &Path) -> Result<Config, ConfigError> {
    let err = |what: String| ConfigError {
        source_name: source_name.to_owned(),
        what,
    };
    if text.len() > MAX_CONFIG {
        return Err(err(format!("over {MAX_CONFIG} bytes")));
    }
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| err(e.to_string()))?
    } else {
        let options = serde_saphyr::Options {
            budget: Some(serde_saphyr::Budget {
                max_depth: 32,
                ..Default::default()
            }),
            ..Default::default()
        };
        serde_saphyr::from_str_with_options(&alias_keys_spaced(text), options)
            .map_err(|e| err(e.to_string()))?
    };
    let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| err(e.to_string()))?;
    let mut issuers = Vec::new();
    for (meta, map) in [(false, &raw.oidc_issuers), (true, &raw.meta_issuers)] {
        for (key, i) in map {
            let here = |what: String| err(format!("issuer {key}: {what}"));
            issuers.push(issuer(key, meta, i, &raw.ci_issuer_metadata, base).map_err(here)?);
        }
    }
    if issuers.is_empty() {
        return Err(err(
            "no issuers (oidc-issuers or meta-issuers): no token could be accepted".into(),
        ));
    }
    Ok(Config { issuers })
}

/// Fulcio's configuration uses aliases as mapping keys written `*github-type:`. YAML lets an
/// anchor name hold `:`, so a strict parser reads the alias `github-type:`; go-yaml, which
/// Fulcio uses, ends the name at the colon. The colon is spaced off so both read the same.
fn alias_keys_spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let key = body.strip_prefix('*').and_then(|rest| {
            let end = rest.find(|c: char| c.is_whitespace() || c == ':')?;
            let after = &rest[end..];
            let tail = after.strip_prefix(':')?;
            (end > 0 && (tail.is_empty() || tail.starts_with(char::is_whitespace)))
                .then(|| (&rest[..end], tail))
        });
        match key {
            Some((name, tail)) => {
                out.push_str(indent);
                out.push('*');
                out.push_str(name);
                out.push_str(" :");
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Reads a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let err = |what: String| ConfigError {
        source_name: path.display().to_string(),
        what,
    };
    let bytes = read_limited(path, MAX_CONFIG).map_err(err)?;
    let text = String::from_utf8(bytes).map_err(|_| err("not UTF-8".into()))?;
    parse(
        &text,
        &path.display().to_string(),
        path.parent().unwrap_or(Path::new(".")),
    )
}

fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut out))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if out.len() > limit {
        return Err(format!("{} is over {limit} bytes", path.display()));
    }
    Ok(out)
}

fn issuer(
    key: &str,
    meta: bool,
    i: &RawIssuer,
    ci_metadata: &BTreeMap<String, RawMetadata>,
    base: &Path,
) -> Result<IssuerConfig, String> {
    let url = if meta {
        key.to_owned()
    } else {
        let url = i.issuer_url.clone().unwrap_or_else(|| key.to_owned());
        if url != key {
            return Err(format!("issuer-url {url} differs from its key"));
        }
        url
    };
    let kind = IssuerType::parse(&i.kind).ok_or_else(|| {
        format!(
            "type {:?} is not one of email, kubernetes, spiffe, uri, username, ci-provider, github-workflow, gitlab-pipeline",
            i.kind
        )
    })?;
    let ci = if kind == IssuerType::CiProvider {
        let provider = match i.kind.as_str() {
            "ci-provider" => i
                .ci_provider
                .clone()
                .ok_or("type ci-provider needs ci-provider (a ci-issuer-metadata name)")?,
            other => other.to_owned(),
        };
        let builtin = builtin_metadata(&provider);
        let raw = ci_metadata
            .get(&provider)
            .or(builtin.as_ref())
            .ok_or_else(|| format!("ci-issuer-metadata has no {provider:?}"))?;
        Some(metadata(raw).map_err(|e| format!("ci-issuer-metadata {provider}: {e}"))?)
    } else {
        None
    };
    match kind {
        IssuerType::Spiffe if i.spiffe_trust_domain.is_none() => {
            return Err("type spiffe needs spiffe-trust-domain".into());
        }
        IssuerType::Uri | IssuerType::Username if i.subject_domain.is_none() => {
            return Err(format!("type {} needs subject-domain", i.kind));
        }
        _ => {}
    }
    let mut oidc = sigil_oidc::Issuer::new(&url);
    oidc.audience = i.client_id.clone().unwrap_or_else(|| "sigstore".into());
    if let Some(pem) = &i.ca_cert {
        oidc.ca_bundle = Some(pem.as_bytes().to_vec());
    }
    let jwks_value = match (&i.jwks, &i.jwks_file) {
        (Some(_), Some(_)) => return Err("jwks and jwks-file are exclusive".into()),
        (Some(v), None) => Some(v.clone()),
        (None, Some(f)) => {
            let bytes = read_limited(&base.join(f), sigil_oidc::MAX_DOCUMENT as usize)?;
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("jwks-file: {e}"))?)
        }
        (None, None) => None,
    };
    if let Some(v) = jwks_value {
        oidc.jwks = Some(serde_json::from_value(v).map_err(|e| format!("jwks: {e}"))?);
    }
    if let Some(f) = &i.bearer_token_file {
        let t = read_limited(&base.join(f), 64 * 1024)?;
        let t = String::from_utf8(t).map_err(|_| "bearer-token-file is not UTF-8")?;
        oidc.bearer_token = Some(t.trim().to_owned());
    }
    let mut rules = Vec::new();
    for (n, r) in i.issuance_rules.iter().enumerate() {
        if r.is_empty() {
            return Err(format!("issuance rule {} has no field", n + 1));
        }
        let mut fields = Vec::new();
        for (field, m) in r {
            let list = match m {
                OneOrMany::One(s) => vec![s.clone()],
                OneOrMany::Many(v) if !v.is_empty() => v.clone(),
                OneOrMany::Many(_) => {
                    return Err(format!("issuance rule {}: {field} lists nothing", n + 1));
                }
            };
            let ms = list
                .iter()
                .map(|s| Matcher::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("issuance rule {}: {field}: {e}", n + 1))?;
            fields.push((field.clone(), ms));
        }
        rules.push(Rule { fields });
    }
    let meta_re = if meta {
        Some(sigil_oidc::meta_regex(&url).map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok(IssuerConfig {
        url,
        meta,
        meta_re,
        client_id: oidc.audience.clone(),
        kind,
        subject_domain: i.subject_domain.clone(),
        spiffe_trust_domain: i.spiffe_trust_domain.clone(),
        challenge_claim: i.challenge_claim.clone(),
        issuer_claim: i.issuer_claim.clone(),
        skip_email_verification: i.skip_email_verification,
        ci,
        rules,
        oidc,
    })
}

impl Config {
    /// The issuer configuration for a token's `iss` (exact issuers first, then meta-issuers).
    pub fn find(&self, iss: &str) -> Option<&IssuerConfig> {
        let iss = iss.trim_end_matches('/');
        self.issuers
            .iter()
            .find(|i| !i.meta && i.url.trim_end_matches('/') == iss)
            .or_else(|| {
                self.issuers
                    .iter()
                    .find(|i| i.meta_re.as_ref().is_some_and(|re| re.is_match(iss)))
            })
    }

    /// The settings sigil-oidc verifies tokens with.
    pub fn oidc_issuers(&self) -> Vec<sigil_oidc::Issuer> {
        self.issuers.iter().map(|i| i.oidc.clone()).collect()
    }
}
