//! Command-line definitions. Names and flags follow cosign where cosign has the command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "sigil",
    version,
    about = "Sign and verify everything you ship; wire-compatible with Sigstore and cosign",
    after_help = "Exit codes: 0 success, 1 verification failed, 2 usage error, 3 bad input or I/O error.\n\
                  Passwords come from COSIGN_PASSWORD or SIGIL_PASSWORD, else a terminal prompt."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// Attest to a file: a DSSE envelope over an in-toto v1 statement naming the file's digest.
    AttestBlob(AttestBlob),
    /// Verify a file's attestation (DSSE envelope or bundle) with a key.
    VerifyBlobAttestation(VerifyBlobAttestation),
    /// Print the digest reference a tag points to now: `registry/repo@sha256:…`.
    Resolve(Resolve),
    /// Print where cosign keeps an image's signatures, attestations or SBOM.
    Triangulate(Triangulate),
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
    /// Private key reference: a cosign key file or env://VAR.
    #[arg(long)]
    pub key: String,
    /// Write the base64 signature to this file instead of standard output.
    #[arg(long)]
    pub output_signature: Option<PathBuf>,
    /// Also write a Sigstore bundle (v0.3) to this file.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Upload to a transparency log. Only `false` is accepted in this version (no log is configured).
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tlog_upload: bool,
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
    /// A detached base64 signature file.
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
    /// Do not require a transparency log entry.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
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
    /// Private key reference: a cosign key file or env://VAR.
    #[arg(long)]
    pub key: String,
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
    /// Files to list, as relative paths (they are written as given).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChecksumsVerify {
    /// Public key reference: a file, env://VAR or https://...
    #[arg(long)]
    pub key: String,
    /// The signature of the checksum file [default: CHECKSUMFILE.sig].
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Directory the listed paths are relative to [default: the checksum file's directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
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
