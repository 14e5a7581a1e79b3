//! Sigil's verification engine: a bundle, the artefact's digest, a trust root and a requirement
//! (a key, or an identity and issuer) in; a [`Report`] naming every check and its outcome out.
//! No I/O of its own: callers read files and compute digests.
//!
//! Checks, in order: bundle, material, artifact and signature, tlog-entry, inclusion-proof,
//! checkpoint, signed-entry-timestamp, timestamp (RFC 3161), verified-time,
//! certificate-validity, certificate-chain, certificate-usage, sct, identity.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (bundle_json, root_json, artefact): (Vec<u8>, Vec<u8>, Vec<u8>) = todo!();
//! use sigil_crypto::{Digest, HashAlgorithm};
//! use sigil_formats::{bundle, trust_root::TrustedRoot};
//! use sigil_verify::{Artifact, Matcher, Options, Requirement, TrustMaterial, verify_bundle};
//!
//! let trust = TrustMaterial::new(TrustedRoot::parse(&root_json)?);
//! let bundle::AnyBundle::Sigstore(b) = bundle::parse_any(&bundle_json)? else { panic!() };
//! let artifact = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, &artefact)]);
//! let who = Requirement::Identity {
//!     identity: Matcher::Exact("release@example.com".into()),
//!     issuer: Matcher::Exact("https://accounts.google.com".into()),
//! };
//! let report = verify_bundle(&b, &artifact, &trust, &who, &Options::default());
//! assert!(report.verified(), "{:?}", report.first_failure());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod engine;
pub mod image;
pub mod report;

pub use engine::{
    Artifact, BatchItem, Identity, Matcher, NO_TLOG_ENTRY, Options, Requirement, TrustMaterial,
    verify_bundle, verify_bundles,
};
pub use report::{Check, CheckName, Failure, Outcome, Reason, Report};
