//! Certificate-based ("keyless") signatures end to end through the real binary: a CA built by
//! openssl (a root, an intermediate, and a Fulcio-profile leaf with the OIDC issuer
//! extensions), images, attestations and blobs signed with `--certificate` and logged in
//! Sigil's own log, then verified by identity (`sigil verify --certificate-identity`) and by
//! ClusterImagePolicy keyless authorities (`sigil policy test`), each refusal with its reason.

mod common;
#[path = "../../../tests/support/log_server.rs"]
mod log_server;
#[path = "../../../tests/support/registry.rs"]
mod registry;
#[path = "../../../tests/support/tsa_server.rs"]
mod tsa_server;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::*;
use serde_json::Value;

const SUBJECT: &str = "https://kubernetes.io/namespaces/ci/serviceaccounts/builder";
const ISSUER: &str = "https://issuer.example";

fn sg(d: &Path) -> Command {
    let mut c = sigil(d);
    c.env("SIGIL_CACHE_DIR", d.join("cache"))
        .env_remove("COSIGN_REPOSITORY")
        .env_remove("SIGIL_NO_CACHE");
    c
}

/// openssl builds `root.pem`, `inter.pem` (so `chain.pem` = intermediate + root) and a leaf
/// certificate `<name>.crt` for a key imported into Sigil as `<name>.key` / `<name>.pub`.
fn openssl_ca(d: &Path) {
    std::fs::write(
        d.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\n\
         [v3_ca]\nbasicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n\
         [v3_inter]\nbasicConstraints = critical, CA:true, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    for k in ["root", "inter"] {
        ok(openssl(d).args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{k}.key"),
        ]));
    }
    ok(openssl(d).args([
        "req",
        "-x509",
        "-new",
        "-key",
        "root.key",
        "-subj",
        "/O=sigil-test/CN=root",
        "-days",
        "30",
        "-config",
        "ca.cnf",
        "-extensions",
        "v3_ca",
        "-out",
        "root.pem",
    ]));
    ok(openssl(d).args([
        "req",
        "-new",
        "-key",
        "inter.key",
        "-subj",
        "/O=sigil-test/CN=intermediate",
        "-config",
        "ca.cnf",
        "-out",
        "inter.csr",
    ]));
    ok(openssl(d).args([
        "x509",
        "-req",
        "-in",
        "inter.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-set_serial",
        "2",
        "-days",
        "30",
        "-extfile",
        "ca.cnf",
        "-extensions",
        "v3_inter",
        "-out",
        "inter.pem",
    ]));
    let chain = [
        std::fs::read_to_string(d.join("inter.pem")).unwrap(),
        std::fs::read_to_string(d.join("root.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("chain.pem"), chain).unwrap();
}

/// A Fulcio-profile leaf for `subject` from the intermediate: digitalSignature, codeSigning,
/// one critical SAN URI, the issuer as raw bytes (1.1) and as a UTF8String (1.8).
fn leaf(d: &Path, name: &str, subject: &str) {
    let hex: String = ISSUER.bytes().map(|b| format!("{b:02X}")).collect();
    std::fs::write(
        d.join(format!("{name}.cnf")),
        format!(
            "[leaf]\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n\
             subjectAltName = critical, URI:{subject}\nauthorityKeyIdentifier = keyid\n\
             1.3.6.1.4.1.57264.1.1 = DER:{hex}\n1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:{ISSUER}\n"
        ),
    )
    .unwrap();
    ok(openssl(d).args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &format!("{name}.pem"),
    ]));
    ok(openssl(d).args([
        "req",
        "-new",
        "-key",
        &format!("{name}.pem"),
        "-subj",
        "/O=sigil-test",
        "-config",
        "ca.cnf",
        "-out",
        &format!("{name}.csr"),
    ]));
    ok(openssl(d).args([
        "x509",
        "-req",
        "-in",
        &format!("{name}.csr"),
        "-CA",
        "inter.pem",
        "-CAkey",
        "inter.key",
        "-set_serial",
        "3",
        "-days",
        "1",
        "-extfile",
        &format!("{name}.cnf"),
        "-extensions",
        "leaf",
        "-out",
        &format!("{name}.crt"),
    ]));
    ok(sigil(d).args([
        "import-key-pair",
        "--key",
        &format!("{name}.pem"),
        "--output-key-prefix",
        name,
    ]));
}

/// Signs `image` with the builder's key and certificate, logged in the log at `log_url`.
fn sign_with_certificate(d: &Path, log_url: &str, image: &str) {
    ok(sg(d).args([
        "sign",
        "--key",
        "builder.key",
        "--certificate",
        "builder.crt",
        "--certificate-chain",
        "chain.pem",
        "--tlog-upload",
        "--rekor-url",
        log_url,
        image,
    ]));
}

/// The log's public key (PEM), as it serves it.
fn log_public_key(log_url: &str) -> Vec<u8> {
    reqwest::blocking::get(format!("{log_url}/api/v1/log/publicKey"))
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec()
}

fn verify_args<'a>(identity: &'a str, extra: &[&'a str], image: &'a str) -> Vec<&'a str> {
    let mut v = vec![
        "verify",
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        "root.json",
    ];
    v.extend_from_slice(extra);
    v.push(image);
    v
}

#[test]
fn certificate_signatures_verify_by_identity_and_by_keyless_policies() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    openssl_ca(d);
    leaf(d, "builder", SUBJECT);
    push_image(&r.addr, "team/app:v1", b"v1");
    push_image(&r.addr, "team/keyed:v1", b"k1");
    let image = format!("{}/team/app:v1", r.addr);
    let keyed = format!("{}/team/keyed:v1", r.addr);

    // A certificate for another key is refused before anything is signed.
    generate(d, "ecdsa-p256", "other");
    fails(
        sg(d).args([
            "sign",
            "--key",
            "other.key",
            "--certificate",
            "builder.crt",
            &image,
        ]),
        3,
        "another key",
    );

    sign_with_certificate(d, &log.url, &image);
    ok(sg(d).args(["sign", "--key", "other.key", &keyed]));
    ok(sg(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--certificate-chain",
        "chain.pem",
        "--out",
        "root.json",
    ]));
    let root: Value = serde_json::from_slice(&std::fs::read(d.join("root.json")).unwrap()).unwrap();
    assert_eq!(
        root["certificateAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{root}"
    );

    // By identity, with the private CA (no CT log: the SCT is waived explicitly).
    let out = ok(sg(d).args(verify_args(
        SUBJECT,
        &["--insecure-ignore-sct", "-o", "json"],
        &image,
    )));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"][0]["verified"], true, "{v}");
    ok(sg(d).args([
        "verify",
        "--certificate-identity-regexp",
        "^https://kubernetes.io/namespaces/ci/",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        "root.json",
        "--insecure-ignore-sct",
        &image,
    ]));
    // The SCT is required unless waived: this CA logs to no CT log.
    fails(
        sg(d).args(verify_args(SUBJECT, &[], &image)),
        12,
        "check sct failed",
    );
    // Another identity, another issuer.
    fails(
        sg(d).args(verify_args(
            "https://kubernetes.io/namespaces/ci/serviceaccounts/other",
            &["--insecure-ignore-sct"],
            &image,
        )),
        12,
        "does not match the expected",
    );
    fails(
        sg(d).args([
            "verify",
            "--certificate-identity",
            SUBJECT,
            "--certificate-oidc-issuer",
            "https://accounts.example",
            "--trusted-root",
            "root.json",
            "--insecure-ignore-sct",
            &image,
        ]),
        12,
        "OIDC issuer",
    );
    // A trust root without the CA: the chain fails.
    ok(sg(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--out",
        "no-ca.json",
    ]));
    fails(
        sg(d).args([
            "verify",
            "--certificate-identity",
            SUBJECT,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            "no-ca.json",
            "--insecure-ignore-sct",
            &image,
        ]),
        12,
        "does not chain to a trusted CA",
    );
    // A key-signed image carries no certificate.
    fails(
        sg(d).args(verify_args(
            SUBJECT,
            &["--insecure-ignore-sct", "--private-infrastructure"],
            &keyed,
        )),
        13,
        "no dev.sigstore.cosign/certificate annotation",
    );

    // Attestations and blobs signed with the certificate.
    std::fs::write(
        d.join("prov.json"),
        br#"{"builder":{"id":"https://tekton.example/chains/v2"}}"#,
    )
    .unwrap();
    ok(sg(d).args([
        "attest",
        "--key",
        "builder.key",
        "--certificate",
        "builder.crt",
        "--certificate-chain",
        "chain.pem",
        "--type",
        "slsaprovenance",
        "--predicate",
        "prov.json",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        &image,
    ]));
    ok(sg(d).args([
        "verify-attestation",
        "--type",
        "slsaprovenance",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        "root.json",
        "--insecure-ignore-sct",
        &image,
    ]));
    std::fs::write(d.join("a.txt"), b"release artefact\n").unwrap();
    ok(sg(d).args([
        "sign-blob",
        "--key",
        "builder.key",
        "--certificate",
        "builder.crt",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "--bundle",
        "a.sigstore.json",
        "a.txt",
    ]));
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    assert!(
        bundle["verificationMaterial"]["certificate"]["rawBytes"].is_string(),
        "{bundle}"
    );
    ok(sg(d).args([
        "verify-blob",
        "--bundle",
        "a.sigstore.json",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        "root.json",
        "--insecure-ignore-sct",
        "a.txt",
    ]));

    // ClusterImagePolicy keyless authorities, with the CA and the log in a TrustRoot.
    let b64 = |p: &str| {
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(d.join(p)).unwrap())
    };
    let log_key = log_public_key(&log.url);
    let trust_root = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: ours}}\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n    - uri: https://ca.example\n      certChain: {}\n    tLogs:\n    - baseURL: \"{}\"\n      hashAlgorithm: sha-256\n      publicKey: {}\n",
        b64("chain.pem"),
        log.url,
        base64::engine::general_purpose::STANDARD.encode(&log_key)
    );
    let policy = |keyless: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: keyless}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: builder\n    keyless:\n{keyless}    ctlog: {{url: \"{}\", trustRootRef: ours}}\n---\n{trust_root}",
            log.url
        )
    };
    let decide = |file: &str, body: String| {
        std::fs::write(d.join(file), body).unwrap();
        let o = run(sg(d).args(["policy", "test", "-o", "json", "--policy", file, &image]));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), v)
    };
    let ids = format!(
        "      identities: [{{issuer: \"{ISSUER}\", subject: \"{SUBJECT}\"}}]\n      trustRootRef: ours\n"
    );
    let (code, v) = decide(
        "pass.yaml",
        policy(&format!("{ids}      insecureIgnoreSCT: true\n")),
    );
    assert_eq!(code, Some(0), "{v}");
    // The SCT is required unless the authority waives it.
    let (code, v) = decide("sct.yaml", policy(&ids));
    assert_eq!(code, Some(1), "{v}");
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert!(
        a["detail"].as_str().unwrap_or_default().contains("sct"),
        "{v}"
    );
    // An identity the certificate does not carry; any of several identities suffices.
    let other = format!(
        "      identities: [{{issuer: \"{ISSUER}\", subjectRegExp: \"^https://kubernetes.io/namespaces/prod/\"}}]\n      trustRootRef: ours\n      insecureIgnoreSCT: true\n"
    );
    let (code, v) = decide("other.yaml", policy(&other));
    assert_eq!(code, Some(1), "{v}");
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert_eq!(a["reason"], "identity-mismatch", "{v}");
    let either = format!(
        "      identities:\n      - {{issuer: \"{ISSUER}\", subjectRegExp: \"^https://kubernetes.io/namespaces/prod/\"}}\n      - {{issuerRegExp: \"^https://issuer\\\\.example$\", subjectRegExp: \"^https://kubernetes.io/namespaces/ci/\"}}\n      trustRootRef: ours\n      insecureIgnoreSCT: true\n"
    );
    let (code, v) = decide("either.yaml", policy(&either));
    assert_eq!(code, Some(0), "{v}");
    // ca-cert instead of the TrustRoot's CAs (the log still from ctlog.trustRootRef); the
    // wrong CA fails the chain.
    let ca_cert = "      identities: [{issuer: \"ISS\", subject: \"SUB\"}]\n      ca-cert: {data: CA}\n      insecureIgnoreSCT: true\n"
        .replace("ISS", ISSUER)
        .replace("SUB", SUBJECT);
    let (code, v) = decide("ca.yaml", policy(&ca_cert.replace("CA}", "chain.pem}")));
    assert_eq!(code, Some(0), "{v}");
    openssl_ca_other(d);
    let (code, v) = decide(
        "wrong-ca.yaml",
        policy(&ca_cert.replace("CA}", "other-root.pem}")),
    );
    assert_eq!(code, Some(1), "{v}");
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert!(
        a["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("does not chain to a trusted CA"),
        "{v}"
    );
}

/// OrgPolicy rules on identities: a keyless authority counts in k-of-n beside a key, and a
/// denied identity's signatures never count, in any policy.
#[test]
fn organisation_rules_count_and_deny_identities() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    openssl_ca(d);
    leaf(d, "builder", SUBJECT);
    generate(d, "ecdsa-p256", "release");
    push_image(&r.addr, "team/app:v1", b"v1");
    let image = format!("{}/team/app:v1", r.addr);
    sign_with_certificate(d, &log.url, &image);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let log_key = log_public_key(&log.url);
    let trust_root = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: ours}}\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n    - certChain: {}\n    tLogs:\n    - baseURL: \"{}\"\n      publicKey: {}\n",
        b64(&std::fs::read(d.join("chain.pem")).unwrap()),
        log.url,
        b64(&log_key)
    );
    let org = |extra: &str| {
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: OrgPolicy\nmetadata: {{name: acme}}\nspec:\n  authorities:\n  - name: ci\n    keyless:\n      identities: [{{issuer: \"{ISSUER}\", subject: \"{SUBJECT}\"}}]\n      trustRootRef: ours\n      insecureIgnoreSCT: true\n    ctlog: {{url: \"{}\", trustRootRef: ours}}\n  - name: release-manager\n    key: {{data: release.pub}}\n  requireSignatures: 2\n{extra}---\n{trust_root}",
            log.url
        )
    };
    let decide = |file: &str, body: String| {
        std::fs::write(d.join(file), body).unwrap();
        let o = run(sg(d).args(["policy", "test", "-o", "json", "--policy", file, &image]));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), v)
    };
    // The CI identity alone is 1 of 2.
    let (code, v) = decide("org.yaml", org(""));
    assert_eq!(code, Some(1), "{v}");
    assert!(v["errors"][0].as_str().unwrap().contains("1 of"), "{v}");
    // With the release manager's key too: 2 of 2.
    ok(sg(d).args(["sign", "--key", "release.key", &image]));
    let (code, v) = decide("org.yaml", org(""));
    assert_eq!(code, Some(0), "{v}");
    // The CI identity is denied: its signature no longer counts, 1 of 2 again.
    let deny = "  denyIdentities: [{issuerRegExp: \"^https://issuer\\\\.example$\", subjectRegExp: \"/serviceaccounts/builder$\"}]\n".to_owned();
    let (code, v) = decide("deny.yaml", org(&deny));
    assert_eq!(code, Some(1), "{v}");
    let text = v.to_string();
    assert!(text.contains("denied by the organisation's policy"), "{v}");
    // A denied identity that names another issuer leaves the signature counted.
    let other = "  denyIdentities: [{issuer: \"https://other.example\", subject: \"SUB\"}]\n"
        .replace("SUB", SUBJECT);
    let (code, v) = decide("other.yaml", org(&other));
    assert_eq!(code, Some(0), "{v}");
    // A deny entry without its issuer does not load.
    let bad = "  denyIdentities: [{subject: x}]\n".to_owned();
    std::fs::write(d.join("bad.yaml"), org(&bad)).unwrap();
    fails(
        sg(d).args(["policy", "test", "--policy", "bad.yaml", &image]),
        3,
        "spec.denyIdentities[0]: issuer or issuerRegExp is required",
    );
}

/// Another self-signed root (`other-root.pem`) that issued nothing here.
fn openssl_ca_other(d: &Path) {
    ok(openssl(d).args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "other-root.key",
    ]));
    ok(openssl(d).args([
        "req",
        "-x509",
        "-new",
        "-key",
        "other-root.key",
        "-subj",
        "/O=elsewhere/CN=root",
        "-days",
        "30",
        "-config",
        "ca.cnf",
        "-extensions",
        "v3_ca",
        "-out",
        "other-root.pem",
    ]));
}

/// A keyless bundle made entirely by Sigil's authorities — a certificate from `sigil ca init`'s
/// CA whose precertificate Sigil's log, as a CT log, answered with an SCT, an entry in Sigil's
/// log, a timestamp from
/// `sigil tsa serve` — verifies in Sigil, in @sigstore/verify and in sigstore-python 4.5.1
/// (verifiers nobody here wrote), with the SCT, the log entry and the timestamp all required.
#[test]
fn sigils_authorities_make_bundles_sigstore_js_and_python_verify() {
    use sigil_crypto::{KeyAlgorithm, SigningKey};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    ok(sigil(d).args([
        "ca",
        "init",
        "--data",
        "ca",
        "--key-algorithm",
        "ecdsa-p256",
    ]));
    let ca =
        sigil_ca::Ca::open(&d.join("ca"), &zeroize::Zeroizing::new(PASSWORD.to_owned())).unwrap();
    // Sigil's log as an RFC 6962 CT log, accepting chains to the CA's root.
    let ct = log_server::LogServer::start(
        env!("CARGO_BIN_EXE_sigil"),
        &d.join("ct"),
        &[
            "--ct",
            "--ct-roots",
            d.join("ca/ca-root.pem").to_str().unwrap(),
        ],
    );
    let ct_pub = reqwest::blocking::get(format!("{}/api/v1/log/publicKey", ct.url))
        .unwrap()
        .text()
        .unwrap();
    std::fs::write(d.join("ct.pub"), &ct_pub).unwrap();
    let subject = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    std::fs::write(
        d.join("leaf.pem"),
        sigil_crypto::pem::encode("PRIVATE KEY", &subject.to_pkcs8_der().unwrap()),
    )
    .unwrap();
    ok(sigil(d).args([
        "import-key-pair",
        "--key",
        "leaf.pem",
        "--output-key-prefix",
        "leaf",
    ]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let chain = std::fs::read(d.join("ca/ca-chain.pem")).unwrap();
    let template = ca.leaf_template(
        subject.public_key(),
        "builder@example.com",
        ISSUER,
        now - 5,
        vec![],
    );
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let ca_chain: Vec<Vec<u8>> = sigil_crypto::pem::decode_all(&chain, 4)
        .unwrap()
        .into_iter()
        .map(|b| b.contents)
        .collect();
    let leaf = sigil_pki::issue::issue_with_scts(&template, &ca.issuer(), |precert, _| {
        let mut submitted = vec![b64(precert)];
        submitted.extend(ca_chain.iter().map(|c| b64(c)));
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/ct/v1/add-pre-chain", ct.url))
            .json(&serde_json::json!({ "chain": submitted }))
            .send()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value = r.json().map_err(|e| e.to_string())?;
        sigil_pki::sct::from_add_chain_response(&v)
            .map(|s| vec![s])
            .map_err(|e| format!("{e}: {v}"))
    })
    .unwrap()
    .unwrap();
    // The CT log's tree holds the entry, under a signed tree head.
    let sth: serde_json::Value = reqwest::blocking::get(format!("{}/ct/v1/get-sth", ct.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sth["tree_size"], 1, "{sth}");
    // What the CT log refuses: a chain to another root, a final certificate to add-pre-chain.
    let post = |path: &str, chain: Vec<String>| {
        reqwest::blocking::Client::new()
            .post(format!("{}/ct/v1/{path}", ct.url))
            .json(&serde_json::json!({ "chain": chain }))
            .send()
            .unwrap()
    };
    let other_root = {
        let k = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let n = sigil_pki::issue::name(&[("2.5.4.3", "elsewhere")]);
        sigil_pki::issue::self_signed_ca(&k, &n, now - 60, 1, None).unwrap()
    };
    let r = post("add-chain", vec![b64(&other_root)]);
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("accepted root"));
    let mut final_chain = vec![b64(&leaf)];
    final_chain.extend(ca_chain.iter().map(|c| b64(c)));
    let r = post("add-pre-chain", final_chain.clone());
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("precertificate"));
    // The final certificate itself may be logged with add-chain.
    assert_eq!(post("add-chain", final_chain).status(), 200);
    std::fs::write(
        d.join("leaf.crt"),
        sigil_crypto::pem::encode("CERTIFICATE", &leaf),
    )
    .unwrap();

    // A timestamp authority.
    let tsa = tsa_server::Tsa::start(env!("CARGO_BIN_EXE_sigil"), d, PASSWORD);
    let tsa_url = tsa.timestamp_url();
    let tsa_chain = reqwest::blocking::get(format!("{tsa_url}/certchain"))
        .unwrap()
        .text()
        .unwrap();
    std::fs::write(d.join("tsa-chain.pem"), tsa_chain).unwrap();

    std::fs::write(d.join("a.txt"), b"release artefact\n").unwrap();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "leaf.key",
        "--certificate",
        "leaf.crt",
        "--certificate-chain",
        "ca/ca-chain.pem",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "--timestamp-server-url",
        &tsa_url,
        "--bundle",
        "a.sigstore.json",
        "a.txt",
    ]));
    ok(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--certificate-chain",
        "ca/ca-chain.pem",
        "--ctfe-key",
        "ct.pub",
        "--ctfe-start-time",
        "2020-01-01T00:00:00Z",
        "--timestamp-certificate-chain",
        "tsa-chain.pem",
        "--out",
        "root.json",
    ]));
    // Sigil: the SCT is verified (no waiver), as are the log entry and the timestamp.
    let out = ok(sigil(d).args([
        "verify-blob",
        "--bundle",
        "a.sigstore.json",
        "--certificate-identity",
        "builder@example.com",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        "root.json",
        "--use-signed-timestamps",
        "-o",
        "json",
        "a.txt",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for check in ["sct", "timestamp", "tlog-entry", "identity"] {
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == check)
            .unwrap();
        assert_eq!(c["outcome"], "passed", "{check}: {v}");
    }
    // @sigstore/verify, with the SCT, the entry and the timestamp required.
    let js = |san: &str| {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/js/verify_keyless.js");
        assert!(
            script
                .with_file_name("node_modules")
                .join("@sigstore/verify")
                .exists(),
            "the JS peer is not installed: run scripts/test"
        );
        Command::new("node")
            .arg(script)
            .args(["a.sigstore.json", "a.txt", "root.json", san, ISSUER, "1"])
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = js("builder@example.com");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = js("someone@example.com");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("certificate identity error"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // sigstore-python 4.5.1, with the trust config `sigil trust-config create` writes.
    ok(sigil(d).args([
        "trust-config",
        "create",
        "--trusted-root",
        "root.json",
        "--fulcio-url",
        "http://127.0.0.1:1",
        "--rekor-url",
        &log.url,
        "--timestamp-url",
        &tsa_url,
        "--out",
        "trust-config.json",
    ]));
    let py = |san: &str| {
        Command::new("python3")
            .args([
                "-m",
                "sigstore",
                "--trust-config",
                "trust-config.json",
                "verify",
                "identity",
                "--bundle",
                "a.sigstore.json",
                "--cert-identity",
                san,
                "--cert-oidc-issuer",
                ISSUER,
                "a.txt",
            ])
            .current_dir(d)
            .output()
            .expect("sigstore-python (scripts/test installs it)")
    };
    let o = py("builder@example.com");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = py("someone@example.com");
    assert!(!o.status.success());
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("SANs do not match"), "{text}");
}
