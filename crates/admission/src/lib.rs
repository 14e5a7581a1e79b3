//! Sigil's Kubernetes admission webhook: AdmissionReview v1 requests in, the policy engine's
//! decisions out. `/validate` denies any image a policy applies to that is not pinned by
//! digest, and verifies pinned images against the ClusterImagePolicies and OrgPolicies
//! (`sigil-policy`, with `sigil-image`'s registry checks); `/mutate` resolves tags to digests
//! with a JSON Patch. Fail closed: a malformed review is a 400, an error, a timeout or an
//! unreachable registry denies with the reason, and a per-request deadline answers before the
//! API server gives up. Decisions on digests are cached, positive and negative, keyed by the
//! digest and the policy set's revision.
//!
//! # Example: the images of a Pod
//!
//! ```
//! use sigil_admission::review::Review;
//!
//! let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
//!   "uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},
//!   "resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE",
//!   "object":{"spec":{"containers":[{"name":"a","image":"registry.example/app:v1"}]}}}}"#;
//! let r = Review::parse(body)?;
//! assert_eq!(r.images()?[0].pointer, "/spec/containers/0/image");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod manifests;
pub mod metrics;
pub mod render;
pub mod review;
pub mod service;
