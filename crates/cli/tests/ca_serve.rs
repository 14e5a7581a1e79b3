//! `sigil ca serve`, the Fulcio API, against tokens from a test OIDC issuer nobody here wrote
//! the JWT code of (PyJWT): certificates for Kubernetes service accounts, emails, GitHub
//! Actions and GitLab CI workflows, SPIFFE IDs, URIs and usernames, requested with a CSR made
//! by openssl or a public key with an openssl-made proof of possession; each certificate's
//! profile read by openssl and its embedded SCT verified against the CT log's key; every
//! refusal with its specific reason; and no certificate at all while the CT log is down.

mod common;

#[path = "../../../tests/support/log_server.rs"]
mod log_server;
#[path = "../../../tests/support/oidc.rs"]
mod oidc;
#[path = "../../../tests/support/tsa_server.rs"]
mod tsa_server;

use std::path::Path;

use base64::Engine;
use common::*;
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Stack {
    _dir: tempfile::TempDir,
    d: std::path::PathBuf,
    issuer: oidc::TestIssuer,
    ct: log_server::LogServer,
    ca: tsa_server::Service,
}

fn config(base: &str, jwks: &str) -> String {
    format!(
        r#"# Fulcio's format, anchors included.
define:
  - &gl-type "gitlab-like"
oidc-issuers:
  https://cluster.internal.example:
    issuer-url: https://cluster.internal.example
    type: kubernetes
    jwks: {jwks}
  https://other-cluster.internal.example:
    issuer-url: https://other-cluster.internal.example
    type: kubernetes
    jwks-file: cluster-jwks.json
  {base}/k8s:
    issuer-url: {base}/k8s
    client-id: sigstore
    type: kubernetes
    issuance-rules:
      - kubernetes.io.namespace: [ci, "regexp:build-[a-z]+"]
        kubernetes.io.serviceaccount.name: "regexp:builder|release"
  {base}/email:
    issuer-url: {base}/email
    client-id: sigstore
    type: email
  {base}/github:
    issuer-url: {base}/github
    client-id: sigstore
    type: github-workflow
    issuance-rules:
      - repository: acme/widget
        ref: "regexp:refs/(heads/main|tags/v.*)"
  {base}/gitlab:
    issuer-url: {base}/gitlab
    client-id: sigstore
    type: ci-provider
    ci-provider: *gl-type
  {base}/spiffe:
    issuer-url: {base}/spiffe
    type: spiffe
    spiffe-trust-domain: example.org
  {base}/uri:
    issuer-url: {base}/uri
    type: uri
    subject-domain: https://builds.example.com
  {base}/user:
    issuer-url: {base}/user
    type: username
    subject-domain: example.com
  {base}/mismatch:
    issuer-url: {base}/mismatch
    type: email
meta-issuers:
  {base}/cluster-*:
    client-id: sigstore
    type: kubernetes
ci-issuer-metadata:
  *gl-type:
    default-template-values:
      url: https://gitlab.example
    extension-templates:
      source-repository-uri: "{{{{ .url }}}}/{{{{ .project_path }}}}"
      source-repository-ref: refs/{{{{if eq .ref_type "branch"}}}}heads/{{{{ else }}}}tags/{{{{end}}}}{{{{ .ref }}}}
      build-signer-digest: ci_config_sha
    subject-alternative-name-template: "https://{{{{ .ci_config_ref_uri }}}}"
"#
    )
}

fn start() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let issuer = oidc::TestIssuer::start();
    ok(sigil(&d).args([
        "ca",
        "init",
        "--data",
        "ca",
        "--key-algorithm",
        "ecdsa-p256",
    ]));
    let ct = log_server::LogServer::start(
        env!("CARGO_BIN_EXE_sigil"),
        &d.join("ct"),
        &[
            "--ct",
            "--ct-roots",
            d.join("ca/ca-root.pem").to_str().unwrap(),
        ],
    );
    // Clusters the CA cannot reach: their keys given inline and in a file.
    let jwks = reqwest::blocking::get(format!("{}/jwks", issuer.url))
        .unwrap()
        .text()
        .unwrap();
    std::fs::write(d.join("cluster-jwks.json"), &jwks).unwrap();
    std::fs::write(d.join("oidc.yaml"), config(&issuer.url, &jwks)).unwrap();
    let ca = tsa_server::Service::launch(
        env!("CARGO_BIN_EXE_sigil"),
        &d,
        "ca",
        &[
            "ca",
            "serve",
            "--data",
            "ca",
            "--oidc-config",
            "oidc.yaml",
            "--ct-log-url",
            &ct.url,
        ],
        PASSWORD,
    );
    Stack {
        _dir: dir,
        d,
        issuer,
        ct,
        ca,
    }
}

fn openssl_key(d: &Path, name: &str, args: &[&str]) {
    ok(openssl(d)
        .args(["genpkey", "-out", &format!("{name}.key")])
        .args(args));
}

fn csr(d: &Path, key: &str) -> String {
    ok(openssl(d).args([
        "req",
        "-new",
        "-key",
        &format!("{key}.key"),
        "-subj",
        "/",
        "-out",
        &format!("{key}.csr"),
    ]));
    std::fs::read_to_string(d.join(format!("{key}.csr"))).unwrap()
}

/// openssl's signature (SHA-256) over `challenge` with `key`: the proof of possession.
fn proof(d: &Path, key: &str, challenge: &str) -> String {
    std::fs::write(d.join("challenge"), challenge).unwrap();
    ok(openssl(d).args([
        "dgst",
        "-sha256",
        "-sign",
        &format!("{key}.key"),
        "-out",
        "proof.sig",
        "challenge",
    ]));
    B64.encode(std::fs::read(d.join("proof.sig")).unwrap())
}

fn public_pem(d: &Path, key: &str) -> String {
    ok(openssl(d).args([
        "pkey",
        "-in",
        &format!("{key}.key"),
        "-pubout",
        "-out",
        &format!("{key}.pub"),
    ]));
    std::fs::read_to_string(d.join(format!("{key}.pub"))).unwrap()
}

fn post(url: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::blocking::Client::new()
        .post(format!("{url}/api/v2/signingCert"))
        .json(body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn key_request(token: &str, pem: &str, proof: &str) -> Value {
    json!({"credentials": {"oidcIdentityToken": token},
           "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem}, "proofOfPossession": proof}})
}

fn csr_request(token: &str, csr: &str) -> Value {
    json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": B64.encode(csr)})
}

fn leaf_of(v: &Value) -> sigil_pki::cert::Certificate {
    let chain = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no embedded-SCT chain: {v}"));
    assert_eq!(chain.len(), 3, "leaf, intermediate, root: {v}");
    sigil_pki::cert::Certificate::from_pem(chain[0].as_str().unwrap().as_bytes()).unwrap()
}

fn refused(status: u16, v: &Value, reason: &str) {
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["code"], 3, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn k8s_claims(ns: &str, sa: &str) -> Value {
    json!({"sub": format!("system:serviceaccount:{ns}:{sa}"),
           "kubernetes.io": {"namespace": ns, "pod": {"name": "p", "uid": "u1"},
                             "serviceaccount": {"name": sa, "uid": "u2"}}})
}

fn k8s_token(s: &Stack, ns: &str, sa: &str, more: &str) -> String {
    s.issuer.token_with(
        &k8s_claims(ns, sa),
        &format!(
            "iss={}&{more}",
            oidc::urlencode(&format!("{}/k8s", s.issuer.url))
        ),
    )
}

fn utf8_ext(c: &sigil_pki::cert::Certificate, oid: &str) -> Option<String> {
    let v = c.extension_value(oid)?;
    let t = sigil_pki::tlv::read_only(v, 0x0c).ok()?;
    Some(String::from_utf8(t.value.to_vec()).unwrap())
}

#[test]
fn kubernetes_certificates_have_fulcios_profile_and_an_sct_from_the_ct_log() {
    let s = start();
    let d = &s.d;
    openssl_key(
        d,
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let token = k8s_token(&s, "ci", "builder", "kid=r1");
    // sigstore-python's request: a CSR, the token as a bearer token.
    let (status, v) = post(
        &s.ca.url,
        &json!({"certificateSigningRequest": B64.encode(csr(d, "p256"))}),
        Some(&token),
    );
    assert_eq!(status, 200, "{v}");
    let leaf = leaf_of(&v);
    let chain = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    std::fs::write(d.join("leaf.pem"), chain[0].as_str().unwrap()).unwrap();
    std::fs::write(d.join("inter.pem"), chain[1].as_str().unwrap()).unwrap();
    // openssl: the chain verifies, and the profile is Fulcio's.
    let o = ok(openssl(d).args([
        "verify",
        "-CAfile",
        "ca/ca-root.pem",
        "-untrusted",
        "inter.pem",
        "-purpose",
        "any",
        "leaf.pem",
    ]));
    assert!(o.contains("leaf.pem: OK"), "{o}");
    let text = ok(openssl(d).args(["x509", "-in", "leaf.pem", "-noout", "-text"]));
    for needle in [
        "X509v3 Subject Alternative Name: critical",
        "URI:https://kubernetes.io/namespaces/ci/serviceaccounts/builder",
        "Digital Signature",
        "Code Signing",
        "X509v3 Authority Key Identifier",
        "CT Precertificate SCTs",
        "1.3.6.1.4.1.57264.1.1:",
        "1.3.6.1.4.1.57264.1.8:",
        "Subject: \n",
    ] {
        assert!(
            text.contains(needle) || (needle == "Subject: \n" && text.contains("Subject: ")),
            "{needle} missing:\n{text}"
        );
    }
    let nb = leaf.not_before().seconds;
    assert_eq!(leaf.not_after().seconds - nb, 600, "ten minutes");
    assert_eq!(
        leaf.fulcio_issuer().unwrap().as_deref(),
        Some(format!("{}/k8s", s.issuer.url).as_str())
    );
    assert_eq!(
        utf8_ext(&leaf, "1.3.6.1.4.1.57264.1.24").as_deref(),
        Some("system:serviceaccount:ci:builder")
    );
    // Exactly one SCT, by the CT log's key, which logged the precertificate.
    let ct_key = sigil_crypto::PublicKey::from_pem(
        reqwest::blocking::get(format!("{}/api/v1/log/publicKey", s.ct.url))
            .unwrap()
            .text()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let scts = sigil_pki::sct::embedded_scts(&leaf).unwrap();
    assert_eq!(scts.len(), 1);
    let inter =
        sigil_pki::cert::Certificate::from_pem(chain[1].as_str().unwrap().as_bytes()).unwrap();
    let ct_log = sigil_formats::trust_root::LogInstance {
        base_url: s.ct.url.clone(),
        public_key: ct_key.spki_der().to_vec(),
        key_details: None,
        validity: sigil_formats::trust_root::Validity {
            start: sigil_formats::time::Timestamp::from_unix(0),
            end: None,
        },
        log_id: sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, ct_key.spki_der())
            .as_bytes()
            .to_vec(),
        checkpoint_key_id: None,
        operator: None,
    };
    let verified = sigil_pki::sct::verify_embedded_scts(&leaf, &inter, &[ct_log]);
    assert!(verified.is_ok(), "{verified:?}");
    let sth: Value = reqwest::blocking::get(format!("{}/ct/v1/get-sth", s.ct.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sth["tree_size"], 1, "{sth}");

    // A public key with a proof of possession over `sub` (sigstore-js's request), ES256 token.
    let pem = public_pem(d, "p256");
    let token = k8s_token(&s, "build-prod", "release", "");
    let (status, v) = post(
        &s.ca.url,
        &key_request(
            &token,
            &pem,
            &proof(d, "p256", "system:serviceaccount:build-prod:release"),
        ),
        None,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        leaf_of(&v).subject_alternative_names().unwrap()[0].value(),
        Some("https://kubernetes.io/namespaces/build-prod/serviceaccounts/release")
    );
    // A meta-issuer's cluster.
    let cluster = format!("{}/cluster-eu1", s.issuer.url);
    let t = s.issuer.token_with(
        &k8s_claims("any", "thing"),
        &format!("iss={}", oidc::urlencode(&cluster)),
    );
    let (status, v) = post(&s.ca.url, &csr_request(&t, &csr(d, "p256")), None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(leaf_of(&v).fulcio_issuer().unwrap(), Some(cluster.clone()));

    // Issuers whose keys are configured (inline, and in a file): no discovery is attempted.
    for cluster in [
        "https://cluster.internal.example",
        "https://other-cluster.internal.example",
    ] {
        let t = s.issuer.token_with(
            &k8s_claims("ci", "builder"),
            &format!("iss={}", oidc::urlencode(cluster)),
        );
        let (status, v) = post(&s.ca.url, &csr_request(&t, &csr(d, "p256")), None);
        assert_eq!(status, 200, "{cluster}: {v}");
        assert_eq!(
            leaf_of(&v).fulcio_issuer().unwrap().as_deref(),
            Some(cluster)
        );
    }

    // The trust bundle, the configuration and the legacy routes.
    let bundle: Value = reqwest::blocking::get(format!("{}/api/v2/trustBundle", s.ca.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        bundle["chains"][0]["certificates"]
            .as_array()
            .unwrap()
            .concat_pem(),
        std::fs::read_to_string(d.join("ca/ca-chain.pem")).unwrap()
    );
    let conf: Value = reqwest::blocking::get(format!("{}/api/v2/configuration", s.ca.url))
        .unwrap()
        .json()
        .unwrap();
    let issuers = conf["issuers"].as_array().unwrap();
    assert!(
        issuers
            .iter()
            .any(|i| i["issuerUrl"] == format!("{}/email", s.issuer.url)
                && i["challengeClaim"] == "email"
                && i["audience"] == "sigstore")
    );
    assert!(
        issuers
            .iter()
            .any(|i| i["wildcardIssuerUrl"] == format!("{}/cluster-*", s.issuer.url))
    );
    let root = reqwest::blocking::get(format!("{}/api/v1/rootCert", s.ca.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(root.contains("BEGIN CERTIFICATE"));
    let v1 = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/signingCert", s.ca.url))
        .bearer_auth(k8s_token(&s, "ci", "builder", ""))
        .json(
            &json!({"publicKey": {"algorithm": "ecdsa", "content": B64.encode(&pem)},
                      "signedEmailAddress": proof(d, "p256", "system:serviceaccount:ci:builder")}),
        )
        .send()
        .unwrap();
    assert_eq!(v1.status().as_u16(), 201);
    let sct_header = v1.headers()["SCT"].to_str().unwrap().to_owned();
    assert_eq!(
        v1.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let detached: Value = serde_json::from_slice(&B64.decode(sct_header).unwrap()).unwrap();
    sigil_pki::sct::from_add_chain_response(&detached).unwrap();
    assert!(v1.text().unwrap().matches("BEGIN CERTIFICATE").count() == 3);

    // The CT log's read routes (RFC 6962 §4.4–4.6), its proofs checked by sigstore-rust.
    ct_reads(&s.ct.url, 6);
}

fn ct_reads(ct: &str, expected: u64) {
    use sigstore_types::Sha256Hash;
    let get = |path: &str| -> (u16, Value) {
        let r = reqwest::blocking::get(format!("{ct}/ct/v1/{path}")).unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    let hash32 = |b64: &str| -> [u8; 32] { B64.decode(b64).unwrap().try_into().unwrap() };
    let (_, sth) = get("get-sth");
    let n = sth["tree_size"].as_u64().unwrap();
    assert_eq!(n, expected, "{sth}");
    let root = Sha256Hash::new(hash32(sth["sha256_root_hash"].as_str().unwrap()));
    let (status, entries) = get(&format!("get-entries?start=0&end={}", n - 1));
    assert_eq!(status, 200, "{entries}");
    let entries = entries["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, n);
    for (i, e) in entries.iter().enumerate() {
        let leaf = B64.decode(e["leaf_input"].as_str().unwrap()).unwrap();
        // A MerkleTreeLeaf v1 timestamped entry: a precert (1) or an X.509 entry (0).
        assert_eq!(&leaf[..2], &[0, 0]);
        assert!(matches!(leaf[10..12], [0, 0] | [0, 1]), "entry {i}");
        let mut input = vec![0u8];
        input.extend_from_slice(&leaf);
        let leaf_hash = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &input);
        let (status, p) = get(&format!(
            "get-proof-by-hash?hash={}&tree_size={n}",
            oidc::urlencode(&B64.encode(leaf_hash.as_bytes()))
        ));
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["leaf_index"], i as u64);
        let path: Vec<Sha256Hash> = p["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Sha256Hash::new(hash32(h.as_str().unwrap())))
            .collect();
        sigstore_merkle::verify_inclusion_proof(
            &Sha256Hash::new(leaf_hash.as_bytes().try_into().unwrap()),
            i as u64,
            n,
            &path,
            &root,
        )
        .unwrap_or_else(|e| panic!("sigstore-merkle refused the inclusion of {i}: {e}"));
    }
    let (status, c) = get(&format!("get-sth-consistency?first=1&second={n}"));
    assert_eq!(status, 200, "{c}");
    assert!(!c["consistency"].as_array().unwrap().is_empty());
    assert_eq!(get(&format!("get-entries?start=0&end={n}")).0, 400);
    assert_eq!(get("get-proof-by-hash?hash=AAAA&tree_size=1").0, 400);
    let absent = B64.encode([7u8; 32]);
    assert_eq!(
        get(&format!(
            "get-proof-by-hash?hash={}&tree_size={n}",
            oidc::urlencode(&absent)
        ))
        .0,
        404
    );
}

trait ConcatPem {
    fn concat_pem(&self) -> String;
}

impl ConcatPem for Vec<Value> {
    fn concat_pem(&self) -> String {
        self.iter().map(|c| c.as_str().unwrap()).collect()
    }
}

#[test]
fn emails_ci_workflows_spiffe_uris_and_usernames_map_as_fulcio_maps_them() {
    let s = start();
    let d = &s.d;
    openssl_key(
        d,
        "k",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let pem = public_pem(d, "k");
    let iss = |p: &str| oidc::urlencode(&format!("{}/{p}", s.issuer.url));
    let issue = |token: &str, challenge: &str| {
        post(
            &s.ca.url,
            &key_request(token, &pem, &proof(d, "k", challenge)),
            None,
        )
    };

    // Email: the proof is over the email; email_verified must be true.
    let t = s.issuer.token_with(
        &json!({"email": "dev@example.com", "email_verified": true}),
        &format!("iss={}&sub=12345", iss("email")),
    );
    let (status, v) = issue(&t, "dev@example.com");
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        leaf_of(&v).subject_alternative_names().unwrap(),
        vec![sigil_pki::cert::San::Email("dev@example.com".into())]
    );
    let (status, v) = issue(&t, "12345");
    refused(status, &v, "invalid_proof_of_possession");
    let t = s.issuer.token_with(
        &json!({"email": "dev@example.com", "email_verified": false}),
        &format!("iss={}", iss("email")),
    );
    let (status, v) = issue(&t, "dev@example.com");
    refused(status, &v, "email_not_verified");

    // GitHub Actions: the SAN from job_workflow_ref, the extensions from the claims.
    let gh = json!({"sub": "repo:acme/widget:ref:refs/heads/main", "repository": "acme/widget",
        "repository_owner": "acme", "repository_id": "42", "repository_owner_id": "7",
        "ref": "refs/heads/main", "sha": "0123abcd", "workflow": "release", "event_name": "push",
        "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
        "job_workflow_sha": "0123abcd", "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
        "workflow_sha": "0123abcd", "runner_environment": "github-hosted", "run_id": "99", "run_attempt": "1",
        "repository_visibility": "public"});
    let t = s.issuer.token_with(&gh, &format!("iss={}", iss("github")));
    let (status, v) = issue(&t, "repo:acme/widget:ref:refs/heads/main");
    assert_eq!(status, 200, "{v}");
    let leaf = leaf_of(&v);
    assert_eq!(
        leaf.subject_alternative_names().unwrap()[0].value(),
        Some("https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main")
    );
    for (oid, want) in [
        (
            "1.3.6.1.4.1.57264.1.9",
            "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main",
        ),
        ("1.3.6.1.4.1.57264.1.12", "https://github.com/acme/widget"),
        ("1.3.6.1.4.1.57264.1.13", "0123abcd"),
        ("1.3.6.1.4.1.57264.1.14", "refs/heads/main"),
        ("1.3.6.1.4.1.57264.1.20", "push"),
        (
            "1.3.6.1.4.1.57264.1.21",
            "https://github.com/acme/widget/actions/runs/99/attempts/1",
        ),
    ] {
        assert_eq!(utf8_ext(&leaf, oid).as_deref(), Some(want), "{oid}");
    }
    assert_eq!(
        leaf.extension_value("1.3.6.1.4.1.57264.1.5"),
        Some(&b"acme/widget"[..]),
        "raw legacy value"
    );
    assert_eq!(
        utf8_ext(&leaf, "1.3.6.1.4.1.57264.1.23"),
        None,
        "no environment claim, no extension"
    );
    // The issuance rules: another repository, or a branch that is not main, gets nothing.
    let mut other = gh.clone();
    other["ref"] = json!("refs/heads/feature");
    let t = s
        .issuer
        .token_with(&other, &format!("iss={}", iss("github")));
    let (status, v) = issue(&t, "repo:acme/widget:ref:refs/heads/main");
    refused(status, &v, "identity_not_allowed");

    // GitLab-like CI provider: templates with if eq, defaults; a missing claim is an error.
    let gl = json!({"sub": "project_path:grp/app:ref_type:tag:ref:v1", "project_path": "grp/app",
        "ref_type": "tag", "ref": "v1", "ci_config_sha": "feed",
        "ci_config_ref_uri": "gitlab.example/grp/app//.gitlab-ci.yml@refs/tags/v1"});
    let t = s.issuer.token_with(&gl, &format!("iss={}", iss("gitlab")));
    let (status, v) = issue(&t, "project_path:grp/app:ref_type:tag:ref:v1");
    assert_eq!(status, 200, "{v}");
    let leaf = leaf_of(&v);
    assert_eq!(
        leaf.subject_alternative_names().unwrap()[0].value(),
        Some("https://gitlab.example/grp/app//.gitlab-ci.yml@refs/tags/v1")
    );
    assert_eq!(
        utf8_ext(&leaf, "1.3.6.1.4.1.57264.1.14").as_deref(),
        Some("refs/tags/v1")
    );
    assert_eq!(
        utf8_ext(&leaf, "1.3.6.1.4.1.57264.1.12").as_deref(),
        Some("https://gitlab.example/grp/app")
    );
    let mut missing = gl.clone();
    missing.as_object_mut().unwrap().remove("ci_config_sha");
    let t = s
        .issuer
        .token_with(&missing, &format!("iss={}", iss("gitlab")));
    let (status, v) = issue(&t, "project_path:grp/app:ref_type:tag:ref:v1");
    refused(status, &v, "missing_claim");
    assert!(
        v["detail"].as_str().unwrap().contains("ci_config_sha"),
        "{v}"
    );

    // SPIFFE, URI and username issuers.
    let t = s.issuer.token(&format!(
        "iss={}&sub=spiffe://example.org/ns/ci/sa/builder",
        iss("spiffe")
    ));
    let (status, v) = issue(&t, "spiffe://example.org/ns/ci/sa/builder");
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        leaf_of(&v).subject_alternative_names().unwrap()[0].value(),
        Some("spiffe://example.org/ns/ci/sa/builder")
    );
    let t = s
        .issuer
        .token(&format!("iss={}&sub=spiffe://evil.org/x", iss("spiffe")));
    refused_pair(issue(&t, "spiffe://evil.org/x"), "subject_domain_mismatch");
    let t = s.issuer.token(&format!(
        "iss={}&sub=https://builds.example.com/job/7",
        iss("uri")
    ));
    let (status, v) = issue(&t, "https://builds.example.com/job/7");
    assert_eq!(status, 200, "{v}");
    let t = s.issuer.token(&format!(
        "iss={}&sub=https://elsewhere.example/job/7",
        iss("uri")
    ));
    refused_pair(
        issue(&t, "https://elsewhere.example/job/7"),
        "subject_domain_mismatch",
    );
    let t = s.issuer.token(&format!("iss={}&sub=alice", iss("user")));
    let (status, v) = issue(&t, "alice");
    assert_eq!(status, 200, "{v}");
    let leaf = leaf_of(&v);
    assert_eq!(
        leaf.subject_alternative_names().unwrap(),
        vec![sigil_pki::cert::San::Username("alice!example.com".into())]
    );
    std::fs::write(
        d.join("user.pem"),
        sigil_crypto::pem::encode("CERTIFICATE", leaf.der()),
    )
    .unwrap();
    let text = ok(openssl(d).args([
        "x509",
        "-in",
        "user.pem",
        "-noout",
        "-ext",
        "subjectAltName",
    ]));
    assert!(
        text.contains("othername:") && text.contains("critical"),
        "{text}"
    );
}

fn refused_pair((status, v): (u16, Value), reason: &str) {
    refused(status, &v, reason);
}

#[test]
fn each_refusal_names_its_reason_and_no_certificate_is_issued_without_the_ct_log() {
    let mut s = start();
    let d = s.d.clone();
    let d = d.as_path();
    openssl_key(
        d,
        "k",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let csr_pem = csr(d, "k");
    let ask = |token: &str| post(&s.ca.url, &csr_request(token, &csr_pem), None);
    let k8s = |more: &str| k8s_token(&s, "ci", "builder", more);

    refused_pair(ask(&k8s("exp=-300")), "token_expired");
    refused_pair(ask(&k8s("nbf=600")), "token_not_yet_valid");
    refused_pair(ask(&k8s("aud=someone-else")), "audience_mismatch");
    refused_pair(ask(&k8s("kid=unknown-key")), "unknown_key_id");
    refused_pair(ask(&k8s("alg=none")), "algorithm_not_accepted");
    refused_pair(ask(&k8s("alg=HS256")), "algorithm_not_accepted");
    refused_pair(ask("not-a-jwt"), "malformed_token");
    let unknown = s.issuer.token_with(
        &k8s_claims("ci", "builder"),
        "iss=https%3A%2F%2Fissuer.invalid",
    );
    refused_pair(ask(&unknown), "unknown_issuer");
    // Meta-issuer patterns are anchored: one label per `*`, nothing after.
    let beyond = s.issuer.token_with(
        &k8s_claims("ci", "builder"),
        &format!(
            "iss={}",
            oidc::urlencode(&format!("{}/cluster-a/extra", s.issuer.url))
        ),
    );
    refused_pair(ask(&beyond), "unknown_issuer");
    let mismatch = s.issuer.token_with(
        &json!({"email": "a@example.com", "email_verified": true}),
        &format!(
            "iss={}",
            oidc::urlencode(&format!("{}/mismatch", s.issuer.url))
        ),
    );
    refused_pair(ask(&mismatch), "discovery_mismatch");
    // The issuance rules: a namespace, then a service account, the rules do not allow.
    let (status, v) = ask(&k8s_token(&s, "default", "builder", ""));
    refused(status, &v, "identity_not_allowed");
    assert!(
        v["detail"].as_str().unwrap().contains("namespaces/default"),
        "{v}"
    );
    refused_pair(
        ask(&k8s_token(&s, "ci", "intruder", "")),
        "identity_not_allowed",
    );
    // No token at all.
    refused_pair(
        post(
            &s.ca.url,
            &json!({"certificateSigningRequest": B64.encode(&csr_pem)}),
            None,
        ),
        "missing_token",
    );
    // A CSR whose signature is not its key's, a weak key, a public key without a valid proof.
    let mut tampered = sigil_crypto::pem::decode(csr_pem.as_bytes())
        .unwrap()
        .contents;
    let n = tampered.len();
    tampered[n - 3] ^= 1;
    let tampered_pem = sigil_crypto::pem::encode("CERTIFICATE REQUEST", &tampered);
    refused_pair(
        post(&s.ca.url, &csr_request(&k8s(""), &tampered_pem), None),
        "invalid_proof_of_possession",
    );
    openssl_key(
        d,
        "weak",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    );
    let weak = csr(d, "weak");
    refused_pair(
        post(&s.ca.url, &csr_request(&k8s(""), &weak), None),
        "weak_key",
    );
    openssl_key(
        d,
        "p224",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224"],
    );
    let p224 = public_pem(d, "p224");
    refused_pair(
        post(&s.ca.url, &key_request(&k8s(""), &p224, "AAAA"), None),
        "weak_key",
    );
    let pem = public_pem(d, "k");
    refused_pair(
        post(
            &s.ca.url,
            &key_request(&k8s(""), &pem, &proof(d, "k", "someone else")),
            None,
        ),
        "invalid_proof_of_possession",
    );
    refused_pair(
        post(
            &s.ca.url,
            &json!({"credentials": {"oidcIdentityToken": k8s("")}}),
            None,
        ),
        "malformed_request",
    );
    // Nothing refused reached the CT log.
    let sth: Value = reqwest::blocking::get(format!("{}/ct/v1/get-sth", s.ct.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sth["tree_size"], 0, "{sth}");
    let (status, v) = ask(&k8s(""));
    assert_eq!(status, 200, "{v}");

    // The CT log goes down: 503, and no certificate.
    let token = k8s("");
    s.ct.stop();
    let (status, v) = post(&s.ca.url, &csr_request(&token, &csr_pem), None);
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["reason"], "ct_log_unavailable", "{v}");
    assert!(v.get("signedCertificateEmbeddedSct").is_none());
}
