//! Image signatures and attestations in cosign's layouts: the tag scheme (`sha256-<hex>.sig`
//! with simple-signing layers, `.att` with DSSE layers; the log entry in cosign's
//! `dev.sigstore.cosign/bundle` annotation) or OCI 1.1 referrers holding a Sigstore bundle. With
//! `recursive`, every manifest of an index is signed too. Signing twice with the same key adds
//! nothing (the existing attachment is reported).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sigil_crypto::Digest;
use sigil_formats::bundle::{self, Envelope};
use sigil_formats::dsse::{self, Statement, Subject};
use sigil_formats::simple_signing::SimpleSigning;
use sigil_oci::attach::{self, NewLayer, Target, Written};
use sigil_oci::manifest::{self as mf, Descriptor, Manifest};
use sigil_oci::{Attachment, ImageRef, Registry, RegistryError, Repo};

use crate::{BundleContent, Log, SignError, Signer};

/// The predicate type cosign gives the statement it signs for an image in bundle form.
pub const COSIGN_SIGN_PREDICATE: &str = dsse::COSIGN_SIGN_PREDICATE;

/// Where signatures go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// cosign's tag scheme (`sha256-<hex>.sig`/`.att`), which cosign v2 and Sigil read.
    #[default]
    Legacy,
    /// OCI 1.1 referrers holding a Sigstore bundle (cosign v3's bundle form).
    Referrers,
}

/// How to sign an image.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// Where signatures go.
    pub layout: Layout,
    /// Sign every manifest an index lists too.
    pub recursive: bool,
    /// Annotations to sign into the payload (simple-signing `optional`, or the statement
    /// subject's `annotations`).
    pub annotations: BTreeMap<String, String>,
    /// The `docker-reference` to claim instead of the image's repository (cosign's
    /// `--sign-container-identity`).
    pub identity: Option<String>,
    /// A timestamp authority whose RFC 3161 timestamp of each signature is attached (cosign's
    /// `dev.sigstore.cosign/rfc3161timestamp` annotation, or the bundle's timestamps).
    pub timestamp: Option<crate::timestamp::TimestampAuthority>,
}

/// What was written for one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The manifest.
    pub target: Target,
    /// What the write did.
    pub written: Written,
}

/// Signs `image` (and with `recursive` its index's manifests); with `log`, each signature is
/// uploaded (only when it will be attached) and its verified entry recorded with it.
pub fn sign(
    registry: &Registry,
    image: &ImageRef,
    signer: &dyn Signer,
    options: &ImageOptions,
    log: Option<&Log>,
) -> Result<Vec<Signed>, SignError> {
    let mut out = Vec::new();
    for target in attach::targets(registry, image, options.recursive)? {
        let written = match options.layout {
            Layout::Legacy => sign_legacy(registry, image, &target, signer, options, log)?,
            Layout::Referrers => {
                // cosign v3's bundle-form image signature: a statement about the image whose
                // subject carries the annotations.
                let statement = statement_for(
                    image,
                    &target,
                    COSIGN_SIGN_PREDICATE,
                    json!({}),
                    Some(&options.annotations),
                    dsse::STATEMENT_V1,
                );
                write_bundle_referrer(
                    registry,
                    image,
                    &target,
                    signer,
                    &statement,
                    log,
                    options.timestamp.as_ref(),
                )?
            }
        };
        out.push(Signed { target, written });
    }
    Ok(out)
}

/// Attests `image` (and with `recursive` its index's manifests) with a predicate: an in-toto
/// v0.1 statement in a DSSE layer of `.att` (cosign's layout), or a v1 statement in a bundle
/// referrer.
pub fn attest(
    registry: &Registry,
    image: &ImageRef,
    signer: &dyn Signer,
    predicate_type: &str,
    predicate: &Value,
    options: &ImageOptions,
    log: Option<&Log>,
) -> Result<Vec<Signed>, SignError> {
    let mut out = Vec::new();
    for target in attach::targets(registry, image, options.recursive)? {
        let written = match options.layout {
            Layout::Legacy => {
                let statement = statement_for(
                    image,
                    &target,
                    predicate_type,
                    predicate.clone(),
                    None,
                    dsse::STATEMENT_V01,
                );
                attest_legacy(registry, image, &target, signer, &statement, log, options)?
            }
            Layout::Referrers => {
                let statement = statement_for(
                    image,
                    &target,
                    predicate_type,
                    predicate.clone(),
                    None,
                    dsse::STATEMENT_V1,
                );
                write_bundle_referrer(
                    registry,
                    image,
                    &target,
                    signer,
                    &statement,
                    log,
                    options.timestamp.as_ref(),
                )?
            }
        };
        out.push(Signed { target, written });
    }
    Ok(out)
}

/// cosign's timestamp annotation for `signature` from `tsa`, when one is given.
fn stamp_annotation(
    tsa: Option<&crate::timestamp::TimestampAuthority>,
    signature: &[u8],
) -> Result<Option<(String, String)>, SignError> {
    let Some(tsa) = tsa else { return Ok(None) };
    let reply = tsa.stamp(signature)?;
    Ok(Some((
        mf::ANNOTATION_RFC3161.to_owned(),
        json!({"SignedRFC3161Timestamp": B64.encode(reply)}).to_string(),
    )))
}

/// cosign's certificate annotations for a certified signer: the leaf, and the rest of the
/// chain (PEM, concatenated).
fn certificate_annotations(signer: &dyn Signer, annotations: &mut BTreeMap<String, String>) {
    let chain = signer.certificate_chain();
    let Some(leaf) = chain.first() else { return };
    annotations.insert(
        mf::ANNOTATION_CERTIFICATE.to_owned(),
        sigil_crypto::pem::encode("CERTIFICATE", leaf),
    );
    if chain.len() > 1 {
        annotations.insert(
            mf::ANNOTATION_CHAIN.to_owned(),
            chain[1..]
                .iter()
                .map(|c| sigil_crypto::pem::encode("CERTIFICATE", c))
                .collect(),
        );
    }
}

fn signature_of(layer: &Descriptor) -> Option<Vec<u8>> {
    B64.decode(layer.annotation(mf::ANNOTATION_SIGNATURE)?.trim())
        .ok()
}

fn sign_legacy(
    registry: &Registry,
    image: &ImageRef,
    t: &Target,
    signer: &dyn Signer,
    options: &ImageOptions,
    log: Option<&Log>,
) -> Result<Written, SignError> {
    let payload = SimpleSigning {
        docker_reference: options
            .identity
            .clone()
            .unwrap_or_else(|| image.repository_name()),
        manifest_digest: t.digest.clone(),
        annotations: (!options.annotations.is_empty()).then(|| options.annotations.clone()),
    }
    .to_json();
    let signature = signer.sign(&payload)?;
    let stamp = stamp_annotation(options.timestamp.as_ref(), &signature)?;
    let mut layer = NewLayer {
        media_type: mf::SIMPLE_SIGNING.to_owned(),
        annotations: BTreeMap::from([(
            mf::ANNOTATION_SIGNATURE.to_owned(),
            B64.encode(&signature),
        )]),
        data: payload.clone(),
    };
    certificate_annotations(signer, &mut layer.annotations);
    layer.annotations.extend(stamp);
    let payload_digest = mf::sha256_digest(&payload);
    let public = signer.public_key();
    // Re-signing the same payload with the same key adds nothing.
    let dup = |l: &Descriptor| -> Result<bool, RegistryError> {
        Ok(l.digest == payload_digest
            && signature_of(l).is_some_and(|s| public.verify(&payload, &s).is_ok()))
    };
    if let Some(log) = log {
        // Log only a signature that will be attached.
        let at = attach::attachment_ref(image, &t.digest, Attachment::Signature)?;
        if let Some(f) = registry.get_manifest(Repo::from(&at), at.reference())?
            && let Manifest::Image(m) = &f.manifest
        {
            for l in &m.layers {
                if dup(l)? {
                    return Ok(Written::AlreadyPresent {
                        reference: at.to_string(),
                    });
                }
            }
        }
        let digest = Digest::of(signer.signing_hash(), &payload);
        let entry = log.upload(&sigil_rekor::entry::hashedrekord_pem(
            &signature,
            &signer.verifier_pem(),
            &digest,
        ))?;
        layer.annotations.insert(
            mf::ANNOTATION_BUNDLE.to_owned(),
            sigil_rekor::entry::cosign_bundle_annotation(&entry),
        );
    }
    Ok(attach::append_to_tag(
        registry,
        image,
        &t.digest,
        Attachment::Signature,
        &layer,
        &dup,
    )?)
}

fn statement_for(
    image: &ImageRef,
    t: &Target,
    type_: &str,
    predicate: Value,
    annotations: Option<&BTreeMap<String, String>>,
    version: &str,
) -> Statement {
    Statement {
        type_: version.to_owned(),
        subject: vec![Subject {
            name: image.repository_name(),
            digest: BTreeMap::from([(
                "sha256".to_owned(),
                t.digest.trim_start_matches("sha256:").to_owned(),
            )]),
            annotations: annotations.filter(|a| !a.is_empty()).map(|a| json!(a)),
        }],
        predicate_type: type_.to_owned(),
        predicate: Some(predicate),
    }
}

/// Writes a Sigstore-bundle referrer for `t` unless one with the same statement signed by the
/// same key is there.
fn write_bundle_referrer(
    registry: &Registry,
    image: &ImageRef,
    t: &Target,
    signer: &dyn Signer,
    statement: &Statement,
    log: Option<&Log>,
    tsa: Option<&crate::timestamp::TimestampAuthority>,
) -> Result<Written, SignError> {
    let envelope = crate::blob::sign_statement(signer, statement)?;
    let public = signer.public_key();
    for a in attach::read_referrers(registry, image, &t.digest, &[mf::SIGSTORE_BUNDLE_V03])? {
        if let Ok(bundle::AnyBundle::Sigstore(b)) = bundle::parse_any(&a.data)
            && let Some(env) = &b.dsse_envelope
            && env.payload.0 == envelope.payload.0
            && env.signatures.iter().any(|s| {
                public
                    .verify(&dsse::pae(&env.payload_type, &env.payload.0), &s.sig.0)
                    .is_ok()
            })
        {
            return Ok(Written::AlreadyPresent {
                reference: a.source.reference().to_owned(),
            });
        }
    }
    let envelope_json =
        serde_json::to_string(&envelope).map_err(|e| SignError::Encode(e.to_string()))?;
    let stamp = match (tsa, envelope.signatures.first()) {
        (Some(t), Some(sig)) => Some(t.stamp(&sig.sig.0)?),
        _ => None,
    };
    let mut bundle = signer.bundle(BundleContent::Dsse(envelope));
    if let Some(reply) = stamp {
        crate::timestamp::attach(&mut bundle, reply);
    }
    if let Some(log) = log {
        let entry = log.upload(&sigil_rekor::entry::dsse_pem(
            &envelope_json,
            &signer.verifier_pem(),
        ))?;
        bundle.verification_material.tlog_entries.push(entry);
    }
    let layer = NewLayer {
        data: bundle.to_json().into_bytes(),
        media_type: mf::SIGSTORE_BUNDLE_V03.to_owned(),
        annotations: BTreeMap::new(),
    };
    let annotations = BTreeMap::from([
        (
            mf::ANNOTATION_BUNDLE_CONTENT.to_owned(),
            "dsse-envelope".to_owned(),
        ),
        (
            mf::ANNOTATION_BUNDLE_PREDICATE_TYPE.to_owned(),
            statement.predicate_type.clone(),
        ),
        (mf::ANNOTATION_CREATED.to_owned(), crate::now().to_rfc3339()),
    ]);
    let digest = attach::write_referrer(
        registry,
        image,
        &t.descriptor(),
        mf::SIGSTORE_BUNDLE_V03,
        &layer,
        annotations,
    )?;
    Ok(Written::Added {
        reference: image.with_digest(&digest),
        manifest: digest,
    })
}

fn attest_legacy(
    registry: &Registry,
    image: &ImageRef,
    t: &Target,
    signer: &dyn Signer,
    statement: &Statement,
    log: Option<&Log>,
    options: &ImageOptions,
) -> Result<Written, SignError> {
    let envelope = crate::blob::sign_statement(signer, statement)?;
    let stamp = match envelope.signatures.first() {
        Some(sig) => stamp_annotation(options.timestamp.as_ref(), &sig.sig.0)?,
        None => None,
    };
    let data = serde_json::to_vec(&envelope).map_err(|e| SignError::Encode(e.to_string()))?;
    let mut layer = NewLayer {
        data: data.clone(),
        media_type: mf::DSSE_ENVELOPE.to_owned(),
        annotations: BTreeMap::from([
            (mf::ANNOTATION_SIGNATURE.to_owned(), String::new()),
            (
                mf::ANNOTATION_PREDICATE_TYPE.to_owned(),
                statement.predicate_type.clone(),
            ),
        ]),
    };
    certificate_annotations(signer, &mut layer.annotations);
    layer.annotations.extend(stamp);
    let public = signer.public_key();
    if let Some(log) = log {
        let text = std::str::from_utf8(&data).map_err(|e| SignError::Encode(e.to_string()))?;
        let entry = log.upload(&sigil_rekor::entry::dsse_pem(text, &signer.verifier_pem()))?;
        layer.annotations.insert(
            mf::ANNOTATION_BUNDLE.to_owned(),
            sigil_rekor::entry::cosign_bundle_annotation(&entry),
        );
    }
    let repo = attach::attachment_ref(image, &t.digest, Attachment::Attestation)?;
    let payload = envelope.payload.0.clone();
    let dup = |l: &Descriptor| -> Result<bool, RegistryError> {
        if l.annotation(mf::ANNOTATION_PREDICATE_TYPE) != Some(statement.predicate_type.as_str()) {
            return Ok(false);
        }
        let limit = registry.options().max_attachment_size;
        let blob = registry.get_blob(Repo::from(&repo), l, limit)?;
        Ok(serde_json::from_slice::<Envelope>(&blob).is_ok_and(|e| {
            e.payload.0 == payload
                && e.signatures.iter().any(|s| {
                    public
                        .verify(&dsse::pae(&e.payload_type, &e.payload.0), &s.sig.0)
                        .is_ok()
                })
        }))
    };
    Ok(attach::append_to_tag(
        registry,
        image,
        &t.digest,
        Attachment::Attestation,
        &layer,
        &dup,
    )?)
}
