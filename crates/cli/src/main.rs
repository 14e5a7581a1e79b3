//! `sigil`: sign and verify everything you ship, wire-compatible with Sigstore and cosign.
//!
//! The binary only parses arguments, prints and maps outcomes to exit codes; every capability
//! lives in a library crate (`sigil-sign`, `sigil-image`, `sigil-blob`, `sigil-verify`,
//! `sigil-policy`, `sigil-rekor`, `sigil-oci`, `sigil-sbom`, `sigil-server`, ...).
//!
//! ```text
//! sigil generate-key-pair
//! sigil sign-blob --key cosign.key --bundle app.sigstore.json app.tar.gz
//! sigil verify-blob --key cosign.pub --bundle app.sigstore.json app.tar.gz
//! ```
#![forbid(unsafe_code)]

#[macro_use]
mod console;
mod attest;
mod blob;
mod bundle_cmd;
mod checksums_cmd;
mod cli;
mod image_cmd;
mod keys_cmd;
mod log_cmd;
mod logreq;
mod oci_cmd;
mod outputs;
mod policy_cmd;
mod rekor;
mod sbom_cmd;
mod serve_cmd;
mod support;
mod tsa_cmd;

use std::process::ExitCode;

use cli::{AdmissionCmd, ChecksumsCmd, Cli, Command, LogCmd, PolicyCmd, TrustedRootCmd};
use support::{
    EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_VERIFY_FAILED, PartialResult, VerificationFailed,
};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let result = match cli.command {
        Command::GenerateKeyPair(a) => keys_cmd::generate(a),
        Command::ImportKeyPair(a) => keys_cmd::import(a),
        Command::PublicKey(a) => keys_cmd::public_key(a),
        Command::SignBlob(a) => blob::sign(a),
        Command::VerifyBlob(a) => blob::verify(a),
        Command::VerifyBundle(a) => bundle_cmd::verify(a),
        Command::SignBundle(a) => bundle_cmd::sign(a),
        Command::AttestBlob(a) => attest::attest(a),
        Command::VerifyBlobAttestation(a) => attest::verify(a),
        Command::Resolve(a) => oci_cmd::resolve(a),
        Command::Triangulate(a) => oci_cmd::triangulate(a),
        Command::Sign(a) => image_cmd::sign(a),
        Command::Verify(a) => image_cmd::verify(a),
        Command::Attest(a) => image_cmd::attest(a),
        Command::VerifyAttestation(a) => image_cmd::verify_attestation(a),
        Command::Tree(a) => image_cmd::tree(a),
        Command::Download(a) => image_cmd::download(a),
        Command::Clean(a) => image_cmd::clean(a),
        Command::Copy(a) => image_cmd::copy(a),
        Command::Save(a) => oci_cmd::save(a),
        Command::Log(LogCmd::Serve(a)) => log_cmd::serve(a),
        Command::Tsa(cli::TsaCmd::Serve(a)) => tsa_cmd::serve(a),
        Command::Ca(cli::CaCmd::Init(a)) => tsa_cmd::ca_init(a),
        Command::Ca(cli::CaCmd::Serve(a)) => tsa_cmd::ca_serve(a),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Keys(cli::KeysCmd::Create(a)) => serve_cmd::keys_create(a),
        Command::SigningConfig(cli::SigningConfigCmd::Create(a)) => rekor::signing_config_create(a),
        Command::TrustConfig(cli::TrustConfigCmd::Create(a)) => rekor::trust_config_create(a),
        Command::Log(LogCmd::Get(a)) => log_cmd::get(a),
        Command::Log(LogCmd::Search(a)) => log_cmd::search(a),
        Command::Log(LogCmd::Verify(a)) => log_cmd::verify(a),
        Command::Log(LogCmd::Monitor(a)) => log_cmd::monitor(a),
        Command::Log(LogCmd::Migrate(a)) => log_cmd::migrate(a),
        Command::TrustedRoot(TrustedRootCmd::Create(a)) => rekor::trusted_root_create(a),
        Command::TrustedRoot(TrustedRootCmd::Rotate(a)) => rekor::trusted_root_rotate(a),
        Command::Policy(PolicyCmd::Test(a)) => policy_cmd::test(a),
        Command::Admission(AdmissionCmd::Serve(a)) => policy_cmd::admission_serve(a),
        Command::Admission(AdmissionCmd::Manifests(a)) => policy_cmd::admission_manifests(a),
        Command::Admission(AdmissionCmd::Render(a)) => policy_cmd::admission_render(a),
        Command::Sbom(a) => sbom_cmd::sbom(a),
        Command::Checksums(ChecksumsCmd::Sign(a)) => checksums_cmd::sign(a),
        Command::Checksums(ChecksumsCmd::Verify(a)) => checksums_cmd::verify(a),
        Command::Version(a) => {
            let v = env!("CARGO_PKG_VERSION");
            if a.json {
                outln!("{}", serde_json::json!({"name": "sigil", "version": v}));
            } else {
                outln!("sigil {v}");
            }
            Ok(())
        }
    };
    let code = match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            if let Some(code) = oci_cmd::exit_code(&e) {
                errln!("Error: {e:#}");
                code
            } else if e.downcast_ref::<PartialResult>().is_some() {
                errln!("Error: {e:#}");
                EXIT_PARTIAL
            } else if e.downcast_ref::<VerificationFailed>().is_some() {
                errln!("Error: verification failed: {e:#}");
                EXIT_VERIFY_FAILED
            } else {
                errln!("Error: {e:#}");
                EXIT_ERROR
            }
        }
    };
    // A closed pipe ends the command quietly with its own code; any other failure to write
    // what the command printed is an I/O error.
    if let Some(e) = console::finish() {
        errln!("Error: {e}");
        if code == EXIT_OK {
            return ExitCode::from(EXIT_ERROR);
        }
    }
    ExitCode::from(code)
}
