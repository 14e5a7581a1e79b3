//! Command-line definitions. Names and flags follow cosign where cosign has the command.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "sigil",
    version,
    about = "Sign and verify everything you ship; wire-compatible with Sigstore and cosign",
    after_help = "Exit codes: 0 success; 1 verification failed; 2 usage error; 3 bad input or I/O error;\n\
                  4 partial result (sbom: some inputs skipped); 10 no signatures; 11 no such image;\n\
                  12 no matching signature; 13 no signature carries a certificate (identity\n\
                  required); 14 registry unreachable.\n\
                  Passwords come from COSIGN_PASSWORD or SIGIL_PASSWORD, else a terminal prompt."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Adds a subcommand's arguments to a `clap::Command` (clap's `Args::augment_args`).
type AddArgs = fn(clap::Command) -> clap::Command;

impl Cli {
    /// Parses the process's arguments. A one-shot verification command is first parsed against
    /// a tree holding only that subcommand: building clap's whole tree (every command, every
    /// flag) costs a cold process more than verifying a bundle does. Anything else, and any
    /// error or help request, goes through the whole tree, so messages and help are the same.
    pub fn parse_args() -> Self {
        let args: Vec<OsString> = std::env::args_os().collect();
        Self::parse_one(&args).unwrap_or_else(|| Self::parse_from(args))
    }

    /// The commands parsed alone by [`parse_args`](Self::parse_args), with the function that
    /// adds each one's arguments.
    const ONE_SHOT: [(&'static str, AddArgs); 5] = [
        ("verify-bundle", VerifyBundle::augment_args),
        ("verify-blob", VerifyBlob::augment_args),
        (
            "verify-blob-attestation",
            VerifyBlobAttestation::augment_args,
        ),
        ("verify", VerifyImage::augment_args),
        ("version", VersionCmd::augment_args),
    ];

    /// The subcommand `name` alone, when it is a one-shot verification command.
    pub fn one_shot(name: &str) -> Option<clap::Command> {
        let (name, augment) = Self::ONE_SHOT.iter().find(|(n, _)| *n == name)?;
        Some(augment(clap::Command::new(*name)))
    }

    /// `args` parsed against a tree with only the subcommand `args[1]`, when that is a one-shot
    /// verification command and the arguments parse; `None` otherwise.
    pub fn parse_one(args: &[OsString]) -> Option<Self> {
        let sub = Self::one_shot(args.get(1)?.to_str()?)?;
        let matches = clap::Command::new("sigil")
            .subcommand(sub)
            .try_get_matches_from(args)
            .ok()?;
        Self::from_arg_matches(&matches).ok()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate an SBOM (SPDX 2.3 / CycloneDX 1.5, 1.6) from a directory, root filesystem or image.
    Sbom(Sbom),
    /// Generate a key pair: an encrypted private key (P.key) and a public key (P.pub).
    GenerateKeyPair(GenerateKeyPair),
    /// Import a PEM private key (PKCS#1, SEC1 or PKCS#8) into cosign's encrypted format.
    ImportKeyPair(ImportKeyPair),
    /// Print (or write) the public key of a key reference.
    PublicKey(PublicKeyCmd),
    /// Sign a file (or standard input): prints the base64 signature, optionally writes a bundle.
    SignBlob(SignBlob),
    /// Verify a file's signature or bundle with a public key.
    VerifyBlob(VerifyBlob),
    /// Verify a Sigstore bundle offline against a trust root (the Sigstore conformance CLI).
    VerifyBundle(VerifyBundle),
    /// Sign a file into a Sigstore bundle, keyless (the Sigstore conformance CLI): a
    /// certificate from the signing config's CA, the log entry, a timestamp when the signing
    /// config names a timestamp authority; with --trusted-root, the certificate's SCT is
    /// checked against its CT logs before the bundle is written.
    SignBundle(SignBundle),
    /// Attest to a file: a DSSE envelope over an in-toto v1 statement naming the file's digest.
    AttestBlob(AttestBlob),
    /// Verify a file's attestation (DSSE envelope or bundle) with a key.
    VerifyBlobAttestation(VerifyBlobAttestation),
    /// Print the digest reference a tag points to now: `registry/repo@sha256:…`.
    Resolve(Resolve),
    /// Print where cosign keeps an image's signatures, attestations or SBOM.
    Triangulate(Triangulate),
    /// Sign container images (by digest) in their registry.
    Sign(SignImage),
    /// Verify container image signatures; prints the verified payloads.
    Verify(VerifyImage),
    /// Attest to container images: a DSSE in-toto statement attached to the image.
    Attest(AttestImage),
    /// Verify container image attestations; prints the verified envelopes.
    VerifyAttestation(VerifyAttestation),
    /// Show an image's signatures, attestations, SBOMs and referrers.
    Tree(Tree),
    /// Print what is attached to an image.
    #[command(subcommand)]
    Download(DownloadCmd),
    /// Delete an image's signatures, attestations and SBOMs.
    Clean(Clean),
    /// Copy an image with its signatures, attestations, SBOMs and referrers.
    Copy(CopyImage),
    /// Save what verifying images reads (manifests, signatures, attestations, SBOMs,
    /// referrers) into an evidence directory, for offline decisions (`policy test --evidence`).
    Save(Save),
    /// The transparency log: run it (`serve`) and use it (`get`, `search`, `verify`, `monitor`).
    #[command(subcommand)]
    Log(LogCmd),
    /// The RFC 3161 timestamp authority: run it (`serve`).
    #[command(subcommand)]
    Tsa(TsaCmd),
    /// Write a Sigstore SigningConfig.
    #[command(subcommand, name = "signing-config")]
    SigningConfig(SigningConfigCmd),
    /// Write a Sigstore ClientTrustConfig.
    #[command(subcommand, name = "trust-config")]
    TrustConfig(TrustConfigCmd),
    /// The keyless certificate authority: create its root and intermediate (`init`).
    #[command(subcommand)]
    Ca(CaCmd),
    /// Signing on push's repository keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Run the transparency log (with its CT log), the keyless CA and the timestamp authority
    /// in one process at one origin, on an embedded store in one data directory; writes
    /// DIR/trusted_root.json and DIR/trust-config.json for clients.
    Serve(Serve),
    /// Trusted roots for your own infrastructure.
    #[command(subcommand)]
    TrustedRoot(TrustedRootCmd),
    /// Image policies (policy-controller's ClusterImagePolicy): test images against them.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// The Kubernetes admission webhook that enforces the policies.
    #[command(subcommand)]
    Admission(AdmissionCmd),
    /// Signed checksum files (SHA256SUMS and its .sig).
    #[command(subcommand)]
    Checksums(ChecksumsCmd),
    /// Print version information.
    Version(VersionCmd),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct GenerateKeyPair {
    /// Prefix of the output files: PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: String,
    /// Key algorithm.
    #[arg(long, default_value = "ecdsa-p256", value_parser = clap::builder::PossibleValuesParser::new(sigil_crypto::keys::GENERATE_ALGORITHMS))]
    pub algorithm: String,
    /// Overwrite existing key files.
    #[arg(long, short = 'f')]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ImportKeyPair {
    /// The PEM private key to import.
    #[arg(long, short = 'k')]
    pub key: PathBuf,
    /// Prefix of the output files: PREFIX.key and PREFIX.pub.
    #[arg(long, short = 'o', default_value = "import-cosign")]
    pub output_key_prefix: String,
    /// Overwrite existing key files (cosign: --yes).
    #[arg(long, short = 'f', visible_alias = "yes", short_alias = 'y')]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct PublicKeyCmd {
    /// Key reference: a private key file, a public key, env://VAR or https://...
    #[arg(long)]
    pub key: String,
    /// Write the public key here instead of standard output.
    #[arg(long)]
    pub outfile: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SignBlob {
    /// Private key reference: a cosign key file or env://VAR. Without it, signing is keyless
    /// (--identity-token).
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// Write the base64 signature to this file instead of standard output.
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
    /// Also write a Sigstore bundle (v0.3) to this file.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub tlog: TlogUploadArgs,
    /// Skip confirmation prompts (accepted for cosign compatibility; Sigil does not prompt).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The file to sign, or - for standard input.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct VerifyBlob {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// A detached base64 signature: a file, or the signature text itself (as cosign takes it).
    #[arg(long, conflicts_with = "bundle", required_unless_present = "bundle")]
    pub signature: Option<PathBuf>,
    /// A Sigstore bundle or a cosign --bundle file.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Accepted for cosign compatibility: Sigil verifies offline always.
    #[arg(long)]
    pub offline: bool,
    /// Output format of the result.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The file whose signature is checked, or - for standard input.
    pub file: PathBuf,
}

/// A certificate for the signing key (cosign's `--certificate` and `--certificate-chain`):
/// signatures then carry it, and the log records it instead of the bare key.
#[derive(Args, Debug, Clone, Default)]
pub struct CertificateArgs {
    /// The signing key's certificate (PEM or DER), e.g. from a private CA.
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// The certificate's chain (PEM): its intermediates, up to and including the root (the
    /// root is left out of signatures: verifiers take roots from their trust root).
    #[arg(long, requires = "certificate")]
    pub certificate_chain: Option<PathBuf>,
    /// Keyless signing: an OIDC identity token (or a file holding one) for which the CA at
    /// --fulcio-url certifies an ephemeral key; the signature always goes to the log. Used when
    /// no --key is given.
    #[arg(long, env = "SIGSTORE_ID_TOKEN", hide_env_values = true)]
    pub identity_token: Option<String>,
    /// The keyless CA (Fulcio API: `sigil serve`, `sigil ca serve`, Fulcio).
    #[arg(long, env = "SIGIL_FULCIO_URL")]
    pub fulcio_url: Option<String>,
    /// A SigningConfig (v0.2) naming the CA, the log and the timestamp authority to sign with
    /// (the first valid of each; --fulcio-url, --rekor-url and --timestamp-server-url win).
    #[arg(long, conflicts_with = "trust_config")]
    pub signing_config: Option<PathBuf>,
    /// A ClientTrustConfig (`sigil trust-config create`, or `sigil serve`'s
    /// trust-config.json): its signing config is used as --signing-config's.
    #[arg(long)]
    pub trust_config: Option<PathBuf>,
}

impl SignerArgs {
    /// The certificate extensions the `--certificate-github-workflow-*` flags require.
    pub fn certificate_extensions(&self) -> Vec<(String, String)> {
        [
            (
                "1.3.6.1.4.1.57264.1.2",
                &self.certificate_github_workflow_trigger,
            ),
            (
                "1.3.6.1.4.1.57264.1.3",
                &self.certificate_github_workflow_sha,
            ),
            (
                "1.3.6.1.4.1.57264.1.4",
                &self.certificate_github_workflow_name,
            ),
            (
                "1.3.6.1.4.1.57264.1.5",
                &self.certificate_github_workflow_repository,
            ),
            (
                "1.3.6.1.4.1.57264.1.6",
                &self.certificate_github_workflow_ref,
            ),
        ]
        .into_iter()
        .filter_map(|(oid, v)| v.as_ref().map(|v| (oid.to_owned(), v.clone())))
        .collect()
    }
}

/// Who must have signed a bundle: a key, or a certificate identity and issuer (cosign's flags).
#[derive(Args, Debug, Clone, Default)]
pub struct SignerArgs {
    /// Public key reference: a file, env://VAR or https://...
    #[arg(long)]
    pub key: Option<String>,
    /// The certificate's identity (SAN: email or URI), exactly.
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// The certificate's identity, as a regular expression (unanchored, as in cosign).
    #[arg(long, conflicts_with = "certificate_identity")]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer recorded in the certificate, exactly.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer, as a regular expression.
    #[arg(long, conflicts_with = "certificate_oidc_issuer")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// A trusted_root.json [default: Sigstore public-good, embedded; nothing is fetched].
    #[arg(long)]
    pub trusted_root: Option<std::path::PathBuf>,
    /// Use the embedded Sigstore staging trust root.
    #[arg(long, conflicts_with = "trusted_root")]
    pub staging: bool,
    /// Accept a signing certificate without a verified SCT (cosign's flag; for CAs that log
    /// to no certificate transparency log).
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// The certificate's GitHub workflow trigger (1.3.6.1.4.1.57264.1.2), e.g. `push`.
    #[arg(long)]
    pub certificate_github_workflow_trigger: Option<String>,
    /// The certificate's GitHub workflow commit (1.3.6.1.4.1.57264.1.3).
    #[arg(long)]
    pub certificate_github_workflow_sha: Option<String>,
    /// The certificate's GitHub workflow name (1.3.6.1.4.1.57264.1.4).
    #[arg(long)]
    pub certificate_github_workflow_name: Option<String>,
    /// The certificate's GitHub workflow repository (1.3.6.1.4.1.57264.1.5), e.g. `org/repo`.
    #[arg(long)]
    pub certificate_github_workflow_repository: Option<String>,
    /// The certificate's GitHub workflow ref (1.3.6.1.4.1.57264.1.6), e.g. `refs/heads/main`.
    #[arg(long)]
    pub certificate_github_workflow_ref: Option<String>,
    /// Require an RFC 3161 timestamp from a timestamp authority of the trust root (cosign's
    /// flag); without it, image signatures' timestamps are not read.
    #[arg(long)]
    pub use_signed_timestamps: bool,
    #[command(flatten)]
    pub tlog: TlogArgs,
}

/// What a verifier requires of the transparency log (cosign's flags).
#[derive(Args, Debug, Clone, Default)]
pub struct TlogArgs {
    /// Do not require a transparency log entry.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// The signatures were made on private infrastructure without a public log: do not require
    /// a transparency log entry (cosign's flag).
    #[arg(long)]
    pub private_infrastructure: bool,
    /// The transparency log in which a signature that carries no entry (a detached signature,
    /// a bare DSSE envelope, an image signature without cosign's bundle annotation) is looked
    /// up, by the artefact's digest and the key.
    #[arg(
        long,
        env = "SIGIL_REKOR_URL",
        default_value = "https://rekor.sigstore.dev"
    )]
    pub rekor_url: String,
}

impl TlogArgs {
    /// Whether a transparency log entry is required (unless waived by the verifier).
    pub fn required(&self) -> bool {
        crate::logreq::required(self.insecure_ignore_tlog, self.private_infrastructure)
    }
}

/// Uploading to the transparency log when signing (cosign's flags).
pub const DEFAULT_REKOR_URL: &str = "https://rekor.sigstore.dev";

#[derive(Args, Debug, Clone, Default)]
pub struct TlogUploadArgs {
    /// Upload the signature to the transparency log at --rekor-url; the entry and its proof go
    /// into the bundle (or cosign's `dev.sigstore.cosign/bundle` annotation for images). Off by
    /// default: Sigil signs offline unless asked. A plain flag; `--tlog-upload=false` is
    /// accepted too.
    #[arg(long, default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tlog_upload: bool,
    /// The transparency log (Rekor v1 API: `sigil log serve`, or Rekor).
    #[arg(long, env = "SIGIL_REKOR_URL", default_value = DEFAULT_REKOR_URL)]
    pub rekor_url: String,
    /// An RFC 3161 timestamp authority (its `/api/v1/timestamp` URL, e.g. `sigil tsa serve`):
    /// the signature is timestamped and the reply goes into the bundle (cosign's flag).
    #[arg(long, env = "SIGIL_TIMESTAMP_SERVER_URL")]
    pub timestamp_server_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct SignBundle {
    /// Use Sigstore's staging services (when no --signing-config is given).
    #[arg(long)]
    pub staging: bool,
    /// FILE is an in-toto statement, signed as a DSSE envelope.
    #[arg(long)]
    pub in_toto: bool,
    /// The OIDC identity token (or a file holding it).
    #[arg(long, env = "SIGSTORE_ID_TOKEN", hide_env_values = true)]
    pub identity_token: String,
    /// Where the bundle is written.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The trusted root the certificate's SCT is checked against.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// The SigningConfig (v0.2) or ClientTrustConfig naming the CA, the log and the timestamp
    /// authority.
    #[arg(long)]
    pub signing_config: Option<PathBuf>,
    /// The file to sign.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct VerifyBundle {
    /// The Sigstore bundle.
    #[arg(long)]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Output format of the result.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The artefact: a file, or `sha256:<64 hex>` when no such file exists.
    pub file_or_digest: String,
}

#[derive(Args, Debug)]
pub struct AttestBlob {
    /// Private key reference: a cosign key file or env://VAR. Without it, signing is keyless
    /// (--identity-token).
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// The predicate file (JSON; for --type custom, any text).
    #[arg(long)]
    pub predicate: PathBuf,
    /// Predicate type: a URI, or one of cosign's shortcuts (custom, slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex).
    #[arg(long = "type", default_value = "custom")]
    pub type_: String,
    /// Write the DSSE envelope here instead of standard output.
    #[arg(long)]
    pub output_attestation: Option<PathBuf>,
    /// Also write a Sigstore bundle (v0.3).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub tlog: TlogUploadArgs,
    /// Skip confirmation prompts (accepted for cosign compatibility).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The file attested to.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct VerifyBlobAttestation {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Predicate type the attestation must have (URI or cosign shortcut).
    #[arg(long = "type", default_value = "custom")]
    pub type_: String,
    /// A Sigstore bundle holding the attestation.
    #[arg(
        long,
        conflicts_with = "signature",
        required_unless_present = "signature"
    )]
    pub bundle: Option<PathBuf>,
    /// A DSSE envelope file (as `attest-blob` prints it).
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Output format of the result.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The file the attestation is about.
    pub file: PathBuf,
}

/// Registry access flags (cosign's).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// The Docker config.json to read registry credentials from (for example a mounted
    /// imagePullSecret's .dockerconfigjson) [default: $DOCKER_CONFIG/config.json, else
    /// ~/.docker/config.json].
    #[arg(long, env = "SIGIL_DOCKER_CONFIG")]
    pub docker_config: Option<std::path::PathBuf>,
    /// Talk plain HTTP to the registry.
    #[arg(long)]
    pub allow_http_registry: bool,
    /// Accept invalid TLS certificates from the registry.
    #[arg(long)]
    pub allow_insecure_registry: bool,
    /// Registry user name (basic auth).
    #[arg(long, env = "SIGIL_REGISTRY_USERNAME")]
    pub registry_username: Option<String>,
    /// Registry password (basic auth).
    #[arg(long, env = "SIGIL_REGISTRY_PASSWORD", hide_env_values = true)]
    pub registry_password: Option<String>,
    /// Registry bearer token.
    #[arg(long, env = "SIGIL_REGISTRY_TOKEN", hide_env_values = true)]
    pub registry_token: Option<String>,
    /// Largest attachment (signature, attestation, SBOM) read, in bytes or with a KiB/MiB/GiB
    /// suffix; larger ones are refused before download.
    #[arg(long, env = "COSIGN_MAX_ATTACHMENT_SIZE", default_value = "128MiB", value_parser = parse_size)]
    pub max_attachment_size: u64,
    /// Longest one registry request may take, connecting to the end of its answer (cosign's
    /// flag; Go duration units s, m, h, or seconds): a registry that accepts connections and
    /// never answers fails with the host named.
    #[arg(long, env = "SIGIL_REGISTRY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Most attachments (signatures, attestations, SBOMs) read for one manifest; a manifest
    /// listing more is refused. Repeats of one layer count once and are fetched once.
    #[arg(long, env = "SIGIL_MAX_ATTACHMENTS", default_value_t = sigil_oci::client::DEFAULT_MAX_ATTACHMENTS)]
    pub max_attachments: usize,
    /// Most attachment bytes read for one manifest, all together.
    #[arg(long, env = "SIGIL_MAX_ATTACHMENTS_TOTAL_SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub max_attachments_total_size: u64,
    /// Largest manifest read.
    #[arg(long, env = "SIGIL_MAX_MANIFEST_SIZE", default_value = "4MiB", value_parser = parse_size)]
    pub max_manifest_size: u64,
    /// Do not use the signature cache (SIGIL_NO_CACHE=1 does the same).
    #[arg(long)]
    pub no_cache: bool,
}

/// A duration: digits with an optional `ms`, `s`, `m` or `h` suffix (seconds when none), or
/// several (`1m30s`).
/// A duration that may be zero (`0s`), as `--overlap` takes it.
pub fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    if s.trim()
        .trim_end_matches(['s', 'm', 'h'])
        .trim_end_matches('m')
        == "0"
    {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(s)
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(n));
    }
    let not = || format!("{s:?} is not a duration (like 500ms, 30s, 2m)");
    let mut total_ms = 0u64;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().map_err(|_| not())?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.chars().next() {
                Some('s') => (1_000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                Some(c) => {
                    return Err(format!(
                        "{s:?}: unknown duration unit {c:?} (ms, s, m or h)"
                    ));
                }
                None => return Err(not()),
            }
        };
        rest = &rest[len..];
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(not)?;
    }
    if total_ms == 0 {
        return Err(format!(
            "{s:?} is not a positive duration (like 500ms, 30s, 2m)"
        ));
    }
    Ok(std::time::Duration::from_millis(total_ms))
}

/// A byte size: digits with an optional K/KB/KiB, M/MB/MiB or G/GB/GiB suffix (all binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown size unit {unit:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Where signatures and attestations are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReferrersMode {
    /// cosign's tag scheme: `sha256-<hex>.sig` / `.att`.
    #[default]
    Legacy,
    /// An OCI 1.1 referrer holding a Sigstore bundle (with the tag-schema fallback index on
    /// registries without the referrers API).
    #[value(name = "oci-1-1")]
    Oci11,
}

#[derive(Args, Debug)]
pub struct SignImage {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Private key reference: a cosign key file or env://VAR. Without it, signing is keyless
    /// (--identity-token).
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// Annotation to sign (k=v), repeatable; verifiers can require it.
    #[arg(long = "annotations", short = 'a', value_parser = parse_annotation)]
    pub annotations: Vec<(String, String)>,
    /// Sign an index and every manifest it lists.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Where the signature goes.
    #[arg(
        long,
        value_enum,
        env = "COSIGN_REGISTRY_REFERRERS_MODE",
        default_value_t
    )]
    pub registry_referrers_mode: ReferrersMode,
    #[command(flatten)]
    pub tlog: TlogUploadArgs,
    /// The docker-reference to sign instead of the image's repository.
    #[arg(long)]
    pub sign_container_identity: Option<String>,
    /// Skip confirmation prompts (accepted for cosign compatibility).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to sign; tags are resolved to digests first.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VerifyImage {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Who must have signed (a key, or a certificate identity and issuer) and the trust root.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Annotation the signature must carry (k=v), repeatable.
    #[arg(long = "annotations", short = 'a', value_parser = parse_annotation)]
    pub annotations: Vec<(String, String)>,
    /// Verify every platform an index lists as well (each must verify).
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Accept signatures naming this repository too (for images copied to a new name; `*` for
    /// any), repeatable.
    #[arg(long)]
    pub allow_reference: Vec<String>,
    /// Images verified at once.
    #[arg(long, default_value_t = 8)]
    pub max_workers: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to verify.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttestImage {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Private key reference: a cosign key file or env://VAR. Without it, signing is keyless
    /// (--identity-token).
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// The predicate file (JSON; for --type custom, any text).
    #[arg(long)]
    pub predicate: PathBuf,
    /// Predicate type: a URI or one of cosign's shortcuts.
    #[arg(long = "type", default_value = "custom")]
    pub type_: String,
    /// Attest to an index and every manifest it lists.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Where the attestation goes.
    #[arg(
        long,
        value_enum,
        env = "COSIGN_REGISTRY_REFERRERS_MODE",
        default_value_t
    )]
    pub registry_referrers_mode: ReferrersMode,
    #[command(flatten)]
    pub tlog: TlogUploadArgs,
    /// Skip confirmation prompts (accepted for cosign compatibility).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to attest to.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VerifyAttestation {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Who must have signed (a key, or a certificate identity and issuer) and the trust root.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Predicate type the attestation must have (URI or cosign shortcut).
    #[arg(long = "type", default_value = "custom")]
    pub type_: String,
    /// Verify every platform an index lists as well.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Accept statements naming this repository too (`*` for any), repeatable.
    #[arg(long)]
    pub allow_reference: Vec<String>,
    /// Images verified at once.
    #[arg(long, default_value_t = 8)]
    pub max_workers: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to verify.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Tree {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The image.
    pub image: String,
}

#[derive(Subcommand, Debug)]
pub enum DownloadCmd {
    /// The signatures, one JSON object per line (cosign's format).
    Signature(Download),
    /// The attestations' DSSE envelopes, one per line.
    Attestation(DownloadAttestation),
    /// The attached SBOMs.
    Sbom(Download),
}

#[derive(Args, Debug)]
pub struct Download {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The image.
    pub image: String,
}

#[derive(Args, Debug)]
pub struct DownloadAttestation {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Only attestations of this predicate type (URI or cosign shortcut).
    #[arg(long)]
    pub predicate_type: Option<String>,
    /// The image.
    pub image: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CleanType {
    Signature,
    Attestation,
    Sbom,
    All,
}

#[derive(Args, Debug)]
pub struct Clean {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// What to delete.
    #[arg(long = "type", value_enum, default_value = "all")]
    pub type_: CleanType,
    /// Do not ask (Sigil never asks; accepted for cosign compatibility).
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The image.
    pub image: String,
}

#[derive(Args, Debug)]
pub struct CopyImage {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Copy only these attachments (comma-separated: sig, att, sbom).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Copy only the image's signatures (with the image).
    #[arg(long, conflicts_with = "only")]
    pub sig_only: bool,
    /// Overwrite the destination tag when it points elsewhere.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Source image.
    pub source: String,
    /// Destination (a repository, or repository:tag).
    pub destination: String,
}

fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("annotation {s:?} is not key=value")),
    }
}
#[derive(Args, Debug)]
pub struct Resolve {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The image, e.g. ghcr.io/org/app:v1.
    pub image: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TriangulateType {
    Signature,
    Attestation,
    Sbom,
    Digest,
}

#[derive(Args, Debug)]
pub struct Triangulate {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Which location to print.
    #[arg(long = "type", value_enum, default_value = "signature")]
    pub type_: TriangulateType,
    /// The image.
    pub image: String,
}

#[derive(Subcommand, Debug)]
pub enum ChecksumsCmd {
    /// Hash files into a GNU coreutils checksum file and sign it (SHA256SUMS + SHA256SUMS.sig).
    Sign(ChecksumsSign),
    /// Verify a signed checksum file, then every file it lists.
    Verify(ChecksumsVerify),
}

#[derive(Args, Debug)]
pub struct ChecksumsSign {
    /// Private key reference: a cosign key file or env://VAR.
    #[arg(long)]
    pub key: String,
    /// Hash algorithm.
    #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha384", "sha512"])]
    pub algorithm: String,
    /// The checksum file to write [default: SHA256SUMS, SHA384SUMS or SHA512SUMS].
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The signature file to write [default: OUTPUT.sig].
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
    /// Hashing threads [default: all cores].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub tlog: TlogUploadArgs,
    /// Files to list, as relative paths (they are written as given).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChecksumsVerify {
    /// Public key reference: a file, env://VAR or https://...
    #[arg(long)]
    pub key: String,
    /// The signature of the checksum file: a file, or the base64 text itself
    /// [default: CHECKSUMFILE.sig].
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Directory the listed paths are relative to [default: the checksum file's directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A trusted_root.json naming the transparency logs the signature must be recorded in
    /// [default: Sigstore public-good, embedded].
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub tlog: TlogArgs,
    /// Hashing threads [default: all cores].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// The checksum file.
    pub checksum_file: PathBuf,
}

#[derive(Args, Debug)]
pub struct VersionCmd {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum LogCmd {
    /// Run the transparency log service (Rekor v1 API and C2SP tiles).
    Serve(LogServe),
    /// Fetch an entry by index or UUID, with its inclusion proof verified.
    Get(LogGet),
    /// Find entries by artefact hash, public key, email or subject.
    Search(LogSearch),
    /// Verify an entry's inclusion, or the consistency between two checkpoints.
    Verify(LogVerify),
    /// Fetch the newest checkpoint and prove it consistent with the one stored in a state file.
    Monitor(LogMonitor),
    /// Copy a log between stores (embedded to PostgreSQL, or back) while it is stopped.
    Migrate(LogMigrate),
}

#[derive(Args, Debug)]
pub struct LogMigrate {
    /// Source: an embedded store's data directory.
    #[arg(
        long,
        conflicts_with = "from_database_url",
        required_unless_present = "from_database_url"
    )]
    pub from_data: Option<PathBuf>,
    /// Source: a PostgreSQL database.
    #[arg(long)]
    pub from_database_url: Option<String>,
    /// Target: an embedded store's data directory (must hold no log yet).
    #[arg(
        long,
        conflicts_with = "to_database_url",
        required_unless_present = "to_database_url"
    )]
    pub to_data: Option<PathBuf>,
    /// Target: a PostgreSQL database (must hold no log yet).
    #[arg(long)]
    pub to_database_url: Option<String>,
    /// Entries per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub chunk: u64,
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// Create the CA's root and intermediate in a data directory, their keys encrypted with
    /// the password (COSIGN_PASSWORD or SIGIL_PASSWORD, else asked twice); refuses to
    /// overwrite an existing CA.
    Init(CaInit),
    /// Serve the Fulcio API (POST /api/v2/signingCert, GET /api/v2/trustBundle and
    /// /api/v2/configuration, the legacy /api/v1 routes): ten-minute certificates for OIDC
    /// identities, each logged to a CT log first (no SCT, no certificate).
    Serve(CaServe),
}

#[derive(Args, Debug)]
pub struct CaServe {
    /// Data directory of `sigil ca init` (the key's password: COSIGN_PASSWORD or SIGIL_PASSWORD).
    #[arg(long, default_value = "sigil-ca")]
    pub data: PathBuf,
    /// The OIDC issuers, in Fulcio's configuration format (YAML or JSON: oidc-issuers,
    /// meta-issuers, ci-issuer-metadata), with Sigil's jwks, jwks-file, bearer-token-file and
    /// issuance-rules keys.
    #[arg(long, alias = "config-path")]
    pub oidc_config: PathBuf,
    /// The CT log that logs every certificate (`sigil log serve --ct`).
    #[arg(long)]
    pub ct_log_url: String,
    /// Answer with a detached SCT (the final certificate logged with add-chain) instead of
    /// embedding it.
    #[arg(long)]
    pub detached_sct: bool,
    /// The clock skew allowed on tokens' exp, nbf and iat.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub clock_skew: std::time::Duration,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5555")]
    pub listen: String,
    #[command(flatten)]
    pub tls: ServeTls,
    /// Write the base URL to this file once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create the key a repository's pushes are signed with (or show it when it exists), in
    /// `sigil serve`'s data directory, encrypted with COSIGN_PASSWORD or SIGIL_PASSWORD; prints
    /// the public key.
    Create(KeysCreate),
}

#[derive(Args, Debug)]
pub struct KeysCreate {
    /// `sigil serve`'s data directory.
    #[arg(long, default_value = "sigil-data")]
    pub data: PathBuf,
    /// The signing-on-push rules (a rule's shared key is the one created).
    #[arg(long)]
    pub sign_on_push_config: Option<PathBuf>,
    /// The repository (`team/app`), or `_default` for the platform's default key.
    pub repository: String,
}

#[derive(Args, Debug)]
pub struct Serve {
    /// Data directory: log/, ct/, ca/ and tsa/ (each created on first start) and the trust
    /// files for clients. Keys are encrypted with COSIGN_PASSWORD or SIGIL_PASSWORD.
    #[arg(long, default_value = "sigil-data")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL clients reach this server at (the services' URLs in trust-config.json, the
    /// log's origin on first start); by default http(s)://LISTEN-ADDRESS.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The CA's OIDC issuers (Fulcio's configuration format, as `ca serve --oidc-config`).
    /// Without it the CA refuses every token.
    #[arg(long)]
    pub oidc_config: Option<PathBuf>,
    /// The CA keys' algorithm when the CA is created.
    #[arg(long, value_parser = ["ecdsa-p384", "ecdsa-p256"], default_value = "ecdsa-p384")]
    pub ca_key_algorithm: String,
    /// The clock skew allowed on tokens' exp, nbf and iat.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub clock_skew: std::time::Duration,
    #[command(flatten)]
    pub tls: ServeTls,
    /// Write the base URL to this file once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Sign on push: the bearer token registry notifications must carry
    /// (POST /api/v1/registry/events; the registry's `notifications.endpoints[].headers`).
    #[arg(
        long,
        env = "SIGIL_REGISTRY_EVENTS_TOKEN",
        hide_env_values = true,
        requires = "sign_on_push_registry"
    )]
    pub registry_events_token: Option<String>,
    /// Sign on push: the registry (`host:port`) whose pushes are signed, and where the
    /// signatures are written (never a host a notification names).
    #[arg(long, requires = "registry_events_token")]
    pub sign_on_push_registry: Option<String>,
    /// Sign on push: per-repository rules (YAML or JSON: `repositories: [{match, key,
    /// annotations, labels}]`; see docs/serve.md).
    #[arg(long, requires = "registry_events_token")]
    pub sign_on_push_config: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
pub struct ServeTls {
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CaInit {
    /// Data directory for the certificates and the encrypted keys.
    #[arg(long, default_value = "sigil-ca")]
    pub data: PathBuf,
    /// The CA keys' algorithm.
    #[arg(long, value_parser = ["ecdsa-p384", "ecdsa-p256", "rsa-4096"], default_value = "ecdsa-p384")]
    pub key_algorithm: String,
    /// The organization named in the CA certificates.
    #[arg(long, default_value = "sigil")]
    pub organization: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum TsaCmd {
    /// Serve RFC 3161 timestamps: POST /api/v1/timestamp (DER or Sigstore's JSON), GET
    /// /api/v1/timestamp/certchain.
    Serve(TsaServe),
}

#[derive(Args, Debug)]
pub struct TsaServe {
    /// Data directory: the signing key and the certificate chain (created on first start).
    #[arg(long, default_value = "sigil-tsa")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3004")]
    pub listen: String,
    /// The signing key's algorithm when a new one is created.
    #[arg(long, value_parser = ["ecdsa-p384", "ecdsa-p256"], default_value = "ecdsa-p384")]
    pub key_algorithm: String,
    #[command(flatten)]
    pub tls: ServeTls,
    /// Write the base URL to this file once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LogServe {
    /// Data directory: the embedded store, the generated signing key and the recorded origin
    /// (created if missing).
    #[arg(long, default_value = "sigil-log")]
    pub data: PathBuf,
    /// Run as an RFC 6962 certificate transparency log (for the keyless CA's SCTs): serve
    /// /ct/v1/add-pre-chain, add-chain, get-sth and get-roots instead of the Rekor API. Use a
    /// data directory of its own.
    #[arg(long, requires = "ct_roots")]
    pub ct: bool,
    /// The roots a CT log accepts chains to (PEM, one or more certificates), repeatable.
    #[arg(long)]
    pub ct_roots: Vec<PathBuf>,
    /// Keep the log in PostgreSQL instead of the embedded store (`postgres://user@host:port/db`).
    #[arg(long, env = "SIGIL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: String,
    /// Checkpoint origin and key name [default: the listen address].
    #[arg(long)]
    pub origin: Option<String>,
    /// The log's signing key (PKCS#8 PEM, or a cosign key file with COSIGN_PASSWORD)
    /// [default: DATA/log-signing-key.pem, generated on first start].
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Algorithm of a generated key.
    #[arg(long, default_value = "ecdsa-p256", value_parser = ["ecdsa-p256", "ed25519"])]
    pub key_algorithm: String,
    /// Most entries per batch.
    #[arg(long, default_value_t = 1024)]
    pub batch_max_size: usize,
    /// Longest a batch waits for more entries when none are queued, in milliseconds (0: commit
    /// at once; entries that arrive during a commit form the next batch).
    #[arg(long, default_value_t = 0)]
    pub batch_max_age_ms: u64,
    /// Largest request body; larger ones get 413 (a declared Content-Length from the headers,
    /// before the body is read).
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Most client connections open at once; more are closed as they arrive.
    #[arg(long, default_value_t = 32_768, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Seconds a client has to send a request's headers, counted from when its connection is
    /// idle (so idle keep-alive connections are closed after it too).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request body.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,
    /// Embedded store: entries whose index keys are held in memory (and in a journal) before
    /// they are written out as sorted index runs.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..))]
    pub index_flush_entries: u64,
    /// Write the listening address here once the server is ready (for scripts and tests).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LogTarget {
    /// The log's URL.
    #[arg(long, env = "SIGIL_REKOR_URL", default_value = "http://127.0.0.1:3000")]
    pub rekor_url: String,
    /// The log's public key (PEM) to verify checkpoints and SETs with [default: fetched from
    /// the log, trust on first use].
    #[arg(long)]
    pub log_public_key: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct LogGet {
    #[command(flatten)]
    pub target: LogTarget,
    /// Entry index.
    #[arg(long, conflicts_with = "uuid", required_unless_present = "uuid")]
    pub log_index: Option<u64>,
    /// Entry UUID.
    #[arg(long)]
    pub uuid: Option<String>,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("criteria").required(true).multiple(true).args(["sha", "public_key", "email", "subject"]))]
pub struct LogSearch {
    #[command(flatten)]
    pub target: LogTarget,
    /// Artefact digest (`sha256:<hex>` or hex), or a file to hash.
    #[arg(long)]
    pub sha: Option<String>,
    /// Public key or certificate (PEM file).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Email in a signing certificate.
    #[arg(long)]
    pub email: Option<String>,
    /// Subject (URI or email SAN) of a signing certificate.
    #[arg(long)]
    pub subject: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogVerify {
    #[command(flatten)]
    pub target: LogTarget,
    /// Verify the inclusion of this entry.
    #[arg(long, conflicts_with_all = ["first_size"])]
    pub log_index: Option<u64>,
    /// Verify consistency from this size to the current checkpoint (or --last-size).
    #[arg(long)]
    pub first_size: Option<u64>,
    /// The larger size [default: the current tree size].
    #[arg(long, requires = "first_size")]
    pub last_size: Option<u64>,
}

#[derive(Args, Debug)]
pub struct LogMonitor {
    #[command(flatten)]
    pub target: LogTarget,
    /// State file holding the last verified checkpoint (created on first run).
    #[arg(long)]
    pub state: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum AdmissionCmd {
    /// Serve AdmissionReview v1 over HTTPS: `/validate`, `/mutate`, `/healthz`, `/readyz`.
    Serve(AdmissionServe),
    /// Print the Kubernetes objects that run the webhook (YAML).
    Manifests(AdmissionManifests),
    /// Render the policy for Kyverno or a ValidatingAdmissionPolicy from Helm-style values.
    Render(AdmissionRender),
}

#[derive(Args, Debug)]
pub struct AdmissionRender {
    /// `kyverno` (a ClusterPolicy with verifyImages), `vap` (a ValidatingAdmissionPolicy that
    /// requires digests) or `both`.
    #[arg(long, value_parser = ["kyverno", "vap", "both"])]
    pub mode: String,
    /// Kyverno's API for `kyverno` and `both`: `clusterpolicy` (kyverno.io/v1 verifyImages,
    /// Kyverno ≥ 1.11) or `imagevalidatingpolicy` (policies.kyverno.io/v1, Kyverno ≥ 1.17).
    #[arg(long, value_parser = ["clusterpolicy", "imagevalidatingpolicy"], default_value = "clusterpolicy")]
    pub kyverno_api: String,
    /// The values (YAML, an `admission:` block).
    #[arg(long)]
    pub values: PathBuf,
}

#[derive(Args, Debug)]
pub struct AdmissionManifests {
    /// The namespace the webhook runs in.
    #[arg(long, default_value = "sigil-system")]
    pub namespace: String,
    /// Sigil's container image.
    #[arg(long, default_value = "ghcr.io/sigil/sigil:latest")]
    pub image: String,
    /// The label namespaces opt in with (KEY=VALUE).
    #[arg(long, default_value = "policy.sigstore.dev/include=true", value_parser = parse_annotation)]
    pub namespace_label: (String, String),
    /// The webhooks' timeoutSeconds (1 to 30).
    #[arg(long, default_value_t = 25)]
    pub timeout: u8,
    /// Fail (deny when the webhook cannot answer) or Ignore.
    #[arg(long, default_value = "Fail")]
    pub failure_policy: String,
    /// The CA of the serving certificate (PEM), for the webhooks' caBundle.
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// The serving certificate (PEM), for the TLS Secret (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Its key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AdmissionServe {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// ClusterImagePolicy / OrgPolicy files or directories, repeatable.
    #[arg(long, required = true)]
    pub policy: Vec<PathBuf>,
    /// A trusted_root.json for `ctlog` authorities [default: Sigstore public-good, embedded].
    #[arg(long)]
    pub trust_root: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub listen: String,
    /// The TLS certificate chain (PEM).
    #[arg(long, required = true)]
    pub tls_cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, required = true)]
    pub tls_key: PathBuf,
    /// What happens to an image no policy matches: deny, allow or warn.
    #[arg(long, default_value = "deny")]
    pub no_match_policy: String,
    /// The per-request deadline, below the webhook's timeoutSeconds.
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub deadline: std::time::Duration,
    /// Write `https://HOST:PORT` here once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Write one JSON line per decision here (`-`: standard output).
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// The metrics' name prefix (`cloudtaser_admission` exposes
    /// `cloudtaser_admission_signature_enforced`, ...).
    #[arg(long, default_value = "sigil_admission")]
    pub metrics_prefix: String,
    /// How often the policy files are checked for changes (SIGHUP reloads at once).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub reload_interval: std::time::Duration,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Evaluate images against ClusterImagePolicy documents as the admission webhook would.
    Test(PolicyTest),
}

#[derive(Args, Debug)]
pub struct Save {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The evidence directory (an OCI layout; created, or added to).
    #[arg(long)]
    pub dir: PathBuf,
    /// Another repository whose attachments policies read (a `source`), repeatable.
    #[arg(long)]
    pub source: Vec<String>,
    /// The tag prefix of those repositories' attachments (a source's `tagPrefix`).
    #[arg(long, default_value = "")]
    pub source_tag_prefix: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PolicyTest {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// A ClusterImagePolicy file (YAML or JSON, several documents allowed) or a directory of
    /// them (`*.yaml`, `*.yml`, `*.json`), repeatable.
    #[arg(long, required = true)]
    pub policy: Vec<PathBuf>,
    /// A trusted_root.json whose logs `ctlog` authorities' entries must be in
    /// [default: Sigstore public-good, embedded].
    #[arg(long, alias = "trustroot")]
    pub trust_root: Option<PathBuf>,
    /// What happens to an image no policy matches: deny, allow or warn.
    #[arg(long, default_value = "deny")]
    pub no_match_policy: String,
    /// Decide from the evidence saved in this directory (`sigil save`) instead of the
    /// registries: no registry is contacted.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// The Kubernetes object the images run in (YAML or JSON), for policies' `match[]`
    /// (resource and labels) and OrgPolicies' namespaces.
    #[arg(long)]
    pub resource: Option<PathBuf>,
    /// Output format (`json`: policy-controller's tester form, `{"errors":[…],"warnings":[…]}`,
    /// with each decision).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Images to evaluate.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum TrustedRootCmd {
    /// Write a trusted_root.json naming a transparency log with its key and validity window.
    Create(TrustedRootCreate),
    /// Rotate a CA, timestamp authority, log or CT log key in a trusted root, in one step: the
    /// new one is valid from --at, the old one (same URI or URL) until --at plus --overlap.
    Rotate(TrustedRootRotate),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("new").required(true).args(["certificate_chain", "timestamp_certificate_chain", "rekor_public_key", "ctfe_key"])))]
pub struct TrustedRootRotate {
    /// The trusted root to rotate.
    #[arg(long)]
    pub trusted_root: PathBuf,
    /// A new CA's chain (PEM, issuing CA first, root last).
    #[arg(long)]
    pub certificate_chain: Option<PathBuf>,
    /// The CA's URI in the trusted root (the entries rotated out are those with this URI).
    #[arg(long, default_value = "https://fulcio.invalid")]
    pub certificate_authority_uri: String,
    /// A new timestamp authority chain (PEM).
    #[arg(long)]
    pub timestamp_certificate_chain: Option<PathBuf>,
    /// The timestamp authority's URI in the trusted root.
    #[arg(long, default_value = "https://tsa.invalid")]
    pub timestamp_authority_uri: String,
    /// A transparency log's new key (PEM), for the log at --rekor-url.
    #[arg(long, requires = "rekor_url")]
    pub rekor_public_key: Option<PathBuf>,
    /// The log whose key rotates.
    #[arg(long)]
    pub rekor_url: Option<String>,
    /// A CT log's new key (PEM), for the CT log at --ctfe-url.
    #[arg(long)]
    pub ctfe_key: Option<PathBuf>,
    /// The CT log whose key rotates.
    #[arg(long, default_value = "https://ctfe.invalid")]
    pub ctfe_url: String,
    /// When the new one takes over (RFC 3339) [default: now].
    #[arg(long)]
    pub at: Option<String>,
    /// How long the old one stays valid after --at (signatures made just before the switch).
    #[arg(long, default_value = "24h", value_parser = parse_span)]
    pub overlap: std::time::Duration,
    /// Where the rotated root goes [default: --trusted-root, replaced atomically].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum SigningConfigCmd {
    /// Write a SigningConfig (v0.2): where clients sign.
    Create(SigningConfigCreate),
}

#[derive(Subcommand, Debug)]
pub enum TrustConfigCmd {
    /// Write a ClientTrustConfig (a trusted root and a signing config), as sigstore-python's
    /// --trust-config reads it.
    Create(TrustConfigCreate),
}

/// The services clients sign with.
#[derive(Args, Debug, Clone)]
pub struct ServiceUrls {
    /// The certificate authority (Fulcio API), repeatable.
    #[arg(long)]
    pub fulcio_url: Vec<String>,
    /// The OIDC provider, repeatable.
    #[arg(long)]
    pub oidc_url: Vec<String>,
    /// The transparency log (Rekor v1 API), repeatable.
    #[arg(long)]
    pub rekor_url: Vec<String>,
    /// The timestamp authority (its /api/v1/timestamp URL), repeatable.
    #[arg(long)]
    pub timestamp_url: Vec<String>,
    /// Start of the services' validity (RFC 3339) [default: now].
    #[arg(long)]
    pub start_time: Option<String>,
    /// The operator named for them.
    #[arg(long, default_value = "sigil")]
    pub operator: String,
}

#[derive(Args, Debug)]
pub struct SigningConfigCreate {
    #[command(flatten)]
    pub services: ServiceUrls,
    /// Output file [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrustConfigCreate {
    /// The trusted_root.json (from `sigil trusted-root create`).
    #[arg(long)]
    pub trusted_root: PathBuf,
    #[command(flatten)]
    pub services: ServiceUrls,
    /// Output file [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrustedRootCreate {
    /// The log's URL (its `baseUrl`; its host is the checkpoint origin verifiers expect).
    #[arg(long)]
    pub rekor_url: String,
    /// The log's public key (PEM) [default: fetched from the log].
    #[arg(long)]
    pub rekor_public_key: Option<PathBuf>,
    /// Start of the key's validity (RFC 3339) [default: the log's first entry, or now].
    #[arg(long)]
    pub rekor_start_time: Option<String>,
    /// End of the key's validity (RFC 3339) [default: open].
    #[arg(long)]
    pub rekor_end_time: Option<String>,
    /// A certificate authority's chain (PEM: its issuing certificate first, the root last),
    /// for keyless verification; repeatable (cosign's flag).
    #[arg(long)]
    pub certificate_chain: Vec<PathBuf>,
    /// The URI recorded for those CAs (informational).
    #[arg(long, default_value = "https://fulcio.invalid")]
    pub certificate_authority_uri: String,
    /// A certificate transparency log's public key (PEM) whose SCTs signing certificates
    /// carry (cosign's flag).
    #[arg(long)]
    pub ctfe_key: Option<PathBuf>,
    /// The CT log's URL recorded in the trusted root (informational).
    #[arg(long, default_value = "https://ctfe.invalid", requires = "ctfe_key")]
    pub ctfe_url: String,
    /// Start of the CT log key's validity (RFC 3339) [default: the log's start].
    #[arg(long, requires = "ctfe_key")]
    pub ctfe_start_time: Option<String>,
    /// A timestamp authority's chain (PEM: its signing certificate first, the root last, as
    /// `/api/v1/timestamp/certchain` serves it); repeatable (cosign's flag).
    #[arg(long)]
    pub timestamp_certificate_chain: Vec<PathBuf>,
    /// The URI recorded for those timestamp authorities (informational).
    #[arg(long, default_value = "https://tsa.invalid")]
    pub timestamp_authority_uri: String,
    /// Output file [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct Sbom {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// What to write, as FORMAT or FORMAT=FILE (repeatable): spdx-json, cyclonedx-json, or json
    /// (a summary: packages per ecosystem and warnings). Without a file, standard output.
    /// Default: spdx-json on standard output.
    #[arg(long, short = 'o', value_name = "FORMAT[=FILE]")]
    pub output: Vec<String>,
    /// The CycloneDX version to write.
    #[arg(long, value_parser = ["1.5", "1.6"], default_value = "1.6")]
    pub cyclonedx_version: String,
    /// Leave out development and test dependencies (they are included and marked by default).
    #[arg(long)]
    pub exclude_dev: bool,
    /// The platform to pick from a multi-platform image.
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    /// Files larger than this are skipped and reported.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub max_file_size: u64,
    /// The file data an image scan may hold in memory at once, over all its layers (hard
    /// links share their target's copy); past it the scan stops with an error (exit 3).
    #[arg(long, default_value = "2GiB", value_parser = parse_size)]
    pub max_image_memory: u64,
    /// No progress bar and no summary table on standard error (warnings are still printed).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// dir:PATH (the default for a path), rootfs:PATH, oci-dir:PATH (or oci-dir:PATH:TAG),
    /// oci-archive:FILE (or oci-archive:FILE:TAG), docker-archive:FILE or registry:REF.
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<OsString> {
        std::iter::once("sigil")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn durations_in_milliseconds_seconds_minutes_and_hours() {
        let ms = |s: &str| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(ms("30"), Ok(30_000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1m30s"), Ok(90_000));
        assert_eq!(ms("2h"), Ok(7_200_000));
        assert_eq!(ms("1s250ms"), Ok(1_250));
        assert!(ms("0s").unwrap_err().contains("not a positive duration"));
        assert!(ms("5x").unwrap_err().contains("unknown duration unit 'x'"));
        assert!(ms("s").unwrap_err().contains("is not a duration"));
        assert!(ms("10").is_ok() && ms("10 s").is_err());
        assert!(ms("99999999999999999999h").is_err());
    }

    #[test]
    fn one_shot_commands_parse_as_the_whole_tree_does() {
        let id = "--certificate-identity=https://example.com/id";
        let cases: &[&[&str]] = &[
            &[
                "verify-bundle",
                "--bundle",
                "b.json",
                id,
                "--certificate-oidc-issuer",
                "https://i",
                "sha256:00",
            ],
            &[
                "verify-bundle",
                "--bundle",
                "b.json",
                "--key",
                "k.pub",
                "--trusted-root",
                "t.json",
                "f",
            ],
            &[
                "verify-blob",
                "--key",
                "k.pub",
                "--signature",
                "s",
                "--offline",
                "f",
            ],
            &[
                "verify-blob",
                "--bundle",
                "b",
                "--certificate-identity-regexp",
                ".*",
                "--certificate-oidc-issuer-regexp",
                ".*",
                "f",
            ],
            &[
                "verify-blob-attestation",
                "--key",
                "k.pub",
                "--type",
                "slsaprovenance",
                "--bundle",
                "b",
                "f",
            ],
            &[
                "verify",
                "--key",
                "k.pub",
                "--output",
                "json",
                "localhost:5000/a:b",
            ],
            &["version", "--json"],
            &["version"],
        ];
        for c in cases {
            let a = argv(c);
            let fast = Cli::parse_one(&a).unwrap_or_else(|| panic!("{c:?} not parsed alone"));
            let full = Cli::try_parse_from(&a).expect("full parse");
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{c:?}");
        }
    }

    #[test]
    fn errors_help_and_other_commands_go_through_the_whole_tree() {
        for c in [
            &["verify-bundle", "--bundle"][..],
            &["verify-bundle", "--no-such-flag", "x"],
            &["verify-blob", "--help"],
            &["verify", "-h"],
            &["sign-blob", "--key", "k", "f"],
            &["log", "serve"],
            &["--version"],
            &[],
        ] {
            assert!(Cli::parse_one(&argv(c)).is_none(), "{c:?}");
        }
    }

    #[test]
    fn every_one_shot_command_exists_in_the_whole_tree() {
        let full = <Cli as clap::CommandFactory>::command();
        for (name, _) in Cli::ONE_SHOT {
            let sub = full
                .find_subcommand(name)
                .unwrap_or_else(|| panic!("{name} is not a subcommand"));
            let alone = Cli::parse_one(&argv(&[name, "--help"]));
            assert!(alone.is_none());
            // Same flags as in the whole tree.
            let mut flags: Vec<_> = sub
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect();
            flags.sort();
            let sub_alone = Cli::one_shot(name).expect("one-shot");
            let mut alone: Vec<_> = sub_alone
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect();
            alone.sort();
            assert_eq!(flags, alone, "{name}");
        }
    }
}
