//! Sigil's policy engine (no I/O): policy-controller's ClusterImagePolicy documents read and
//! validated as its webhook does ([`cip`]), their image globs with its normalisation
//! ([`glob`]), and decisions with its semantics ([`eval`]) — AND over the matching policies, OR
//! over a policy's authorities, `warn` mode, the no-match policy — over the outcomes of the
//! caller's verifications (a [`eval::Checker`]: `sigil-image` for images in a registry).
//!
//! # Example
//!
//! ```
//! use sigil_policy::{cip, eval};
//!
//! let policies = cip::parse(r#"
//! apiVersion: policy.sigstore.dev/v1beta1
//! kind: ClusterImagePolicy
//! metadata: {name: allow-base}
//! spec:
//!   images: [{glob: "registry.example/base/**"}]
//!   authorities: [{static: {action: pass}}]
//! "#, "policy.yaml")?;
//!
//! struct NoRegistry;
//! impl eval::Checker for NoRegistry {
//!     fn check(&self, _: &str, _: &cip::Policy, _: &cip::Authority) -> eval::Checked {
//!         eval::Checked::fail("registry-unreachable", "no registry here")
//!     }
//! }
//! let d = eval::decide(&policies, "registry.example/base/os:1", None, eval::NoMatch::Deny, &NoRegistry);
//! assert!(d.allowed);
//! let d = eval::decide(&policies, "registry.example/app:1", None, eval::NoMatch::Deny, &NoRegistry);
//! assert!(!d.allowed, "no policy matches: denied by default");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cip;
pub mod cue;
pub mod eval;
pub mod glob;
pub mod org;
pub mod rego;
pub mod trustroot;
