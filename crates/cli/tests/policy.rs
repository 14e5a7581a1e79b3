//! `sigil policy test` against the real registry: ClusterImagePolicy documents decide, each
//! denial with its specific reason; a policy that does not load is exit 3 naming the file.

mod common;
#[path = "../../../tests/support/log_server.rs"]
mod log_server;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn sg(d: &Path) -> Command {
    let mut c = sigil(d);
    c.env("SIGIL_CACHE_DIR", d.join("cache"))
        .env_remove("COSIGN_REPOSITORY")
        .env_remove("SIGIL_NO_CACHE");
    c
}

/// A policy requiring `key` (a file beside the policy) for `glob`.
fn key_policy(name: &str, glob: &str, key_file: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: release-key\n    key:\n      data: {key_file}\n"
    )
}

fn decision(d: &Path, args: &[&str]) -> (i32, Value) {
    let o = run(sg(d).args(["policy", "test", "-o", "json"]).args(args));
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v)
}

#[test]
fn policies_decide_with_a_reason_for_each_denial() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    generate(d, "ecdsa-p256", "other");
    push_image(&r.addr, "team/app:v1", b"v1");
    push_image(&r.addr, "team/unsigned:v1", b"u1");
    let signed = format!("{}/team/app:v1", r.addr);
    let unsigned = format!("{}/team/unsigned:v1", r.addr);
    ok(sg(d).args(["sign", "--key", "k.key", &signed]));
    let glob = format!("{}/team/**", r.addr);
    std::fs::write(d.join("p.yaml"), key_policy("team", &glob, "k.pub")).unwrap();

    // Signed with the policy's key: allowed (exit 0), the authority named.
    let (code, v) = decision(d, &["--policy", "p.yaml", &signed]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["errors"], json!([]));
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert_eq!(
        (a["name"].as_str(), a["passed"].as_bool()),
        (Some("release-key"), Some(true)),
        "{v}"
    );

    // Unsigned: denied, "no signatures" (never "signature invalid").
    let (code, v) = decision(d, &["--policy", "p.yaml", &unsigned]);
    assert_eq!(code, 1);
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert_eq!(a["reason"], "no-signatures", "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("no signatures found"),
        "{v}"
    );

    // Signed by another key: denied, the signature does not verify with the policy's key.
    std::fs::write(d.join("other.yaml"), key_policy("team", &glob, "other.pub")).unwrap();
    let (code, v) = decision(d, &["--policy", "other.yaml", &signed]);
    assert_eq!(code, 1);
    assert_eq!(
        v["decisions"][0]["policies"][0]["authorities"][0]["reason"], "signature-invalid",
        "{v}"
    );

    // No policy matches: denied by default, allowed with --no-match-policy allow.
    let elsewhere = format!("{}/elsewhere/app:v1", r.addr);
    push_image(&r.addr, "elsewhere/app:v1", b"e1");
    let (code, v) = decision(d, &["--policy", "p.yaml", &elsewhere]);
    assert_eq!(code, 1);
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("no policy matches"),
        "{v}"
    );
    let (code, _) = decision(
        d,
        &[
            "--policy",
            "p.yaml",
            "--no-match-policy",
            "allow",
            &elsewhere,
        ],
    );
    assert_eq!(code, 0);

    // A directory of policies: both apply (AND), and warn mode only warns.
    std::fs::create_dir(d.join("set")).unwrap();
    std::fs::write(
        d.join("set/1.yaml"),
        key_policy("team", &glob, "../k.pub")
            .replace("../k.pub", &d.join("k.pub").display().to_string()),
    )
    .unwrap();
    std::fs::write(
        d.join("set/2.yaml"),
        key_policy("soft", &glob, &d.join("other.pub").display().to_string())
            .replace("spec:\n", "spec:\n  mode: warn\n"),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "set", &signed]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1, "{v}");

    // The registry unreachable: denied, and said so.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = format!("{gone}/team/app:v1");
    std::fs::write(d.join("any.yaml"), key_policy("any", "**", "k.pub")).unwrap();
    let (code, v) = decision(d, &["--policy", "any.yaml", &unreachable]);
    assert_eq!(code, 1);
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert_eq!(a["reason"], "registry-unreachable", "{v}");
    assert!(
        a["detail"]
            .as_str()
            .unwrap()
            .starts_with("registry unreachable"),
        "{v}"
    );

    // A policy that does not load: exit 3, the file and the field named.
    std::fs::write(
        d.join("bad.yaml"),
        key_policy("bad", "**", "k.pub").replace("key:", "kee:"),
    )
    .unwrap();
    fails(
        sg(d).args(["policy", "test", "--policy", "bad.yaml", &signed]),
        3,
        "bad.yaml: ClusterImagePolicy",
    );
    fails(
        sg(d).args(["policy", "test", "--policy", "bad.yaml", &signed]),
        3,
        "unknown field `kee`",
    );
}

/// An attestation authority with a Rego policy over the statement (the seed workload: SLSA
/// provenance whose builder must be the organisation's), and k-of-n as a policy-level Rego
/// policy over `authorityMatches`.
#[test]
fn attestation_policies_and_k_of_n_in_rego() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in ["k", "alice", "bob", "carol"] {
        generate(d, "ecdsa-p256", k);
    }
    let digest = push_image(&r.addr, "team/app:v1", b"v1");
    let image = format!("{}/team/app:v1", r.addr);
    std::fs::write(
        d.join("prov.json"),
        r#"{"builder": {"id": "https://tekton.example/chains/v2"}, "buildType": "x"}"#,
    )
    .unwrap();
    ok(sg(d).args([
        "attest",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "prov.json",
        &image,
    ]));
    let rego = |prefix: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: slsa\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - name: builder\n    key:\n      data: k.pub\n    attestations:\n    - name: provenance\n      predicateType: slsaprovenance\n      policy:\n        type: rego\n        data: |\n          package sigstore\n          default isCompliant = false\n          isCompliant {{\n            startswith(input.predicate.builder.id, \"{prefix}\")\n          }}\n"
        )
    };
    std::fs::write(d.join("slsa.yaml"), rego("https://tekton.example/chains/")).unwrap();
    let (code, v) = decision(d, &["--policy", "slsa.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    std::fs::write(d.join("slsa-other.yaml"), rego("https://other.example/")).unwrap();
    let (code, v) = decision(d, &["--policy", "slsa-other.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert_eq!(a["reason"], "attestation-policy", "{v}");
    assert!(
        a["detail"].as_str().unwrap().contains("is not satisfied"),
        "{v}"
    );

    // The same in CUE (the subset policy-controller users write).
    let cue = |prefix: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: slsa-cue\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - name: builder\n    key:\n      data: k.pub\n    attestations:\n    - name: provenance\n      predicateType: slsaprovenance\n      policy:\n        type: cue\n        data: |\n          predicateType: \"https://slsa.dev/provenance/v0.2\"\n          predicate: builder: id: =~\"^{prefix}\"\n"
        )
    };
    std::fs::write(d.join("cue.yaml"), cue("https://tekton.example/chains/")).unwrap();
    let (code, v) = decision(d, &["--policy", "cue.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    std::fs::write(d.join("cue-other.yaml"), cue("https://other.example/")).unwrap();
    let (code, v) = decision(d, &["--policy", "cue-other.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    let detail = v["decisions"][0]["policies"][0]["authorities"][0]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("predicate.builder.id") && detail.contains("does not match"),
        "{v}"
    );

    // Two of three release keys: alice and carol sign, bob does not.
    ok(sg(d).args(["sign", "--key", "alice.key", &image]));
    ok(sg(d).args(["sign", "--key", "carol.key", &image]));
    let k_of_n = |n: usize| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: release\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - {{name: alice, key: {{data: alice.pub}}}}\n  - {{name: bob, key: {{data: bob.pub}}}}\n  - {{name: carol, key: {{data: carol.pub}}}}\n  policy:\n    type: rego\n    data: |\n      package sigstore\n      default isCompliant = false\n      isCompliant {{ count(input.authorityMatches) >= {n} }}\n"
        )
    };
    std::fs::write(d.join("two.yaml"), k_of_n(2)).unwrap();
    let (code, v) = decision(d, &["--policy", "two.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    std::fs::write(d.join("three.yaml"), k_of_n(3)).unwrap();
    let (code, v) = decision(d, &["--policy", "three.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("the Rego policy release is not satisfied"),
        "{v}"
    );
    let bob = &v["decisions"][0]["policies"][0]["authorities"][1];
    assert_eq!(
        (bob["name"].as_str(), bob["reason"].as_str()),
        (Some("bob"), Some("signature-invalid")),
        "{v}"
    );

    // The same as a first-class OrgPolicy rule (k-of-n), with the allowlist and the deny list.
    let org = |n: usize, deny: &str| {
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: OrgPolicy\nmetadata:\n  name: acme\nspec:\n  allowedRegistries: [\"{}\"]\n  denyDigests: [\"{deny}\"]\n  authorities:\n  - {{name: alice, key: {{data: alice.pub}}}}\n  - {{name: bob, key: {{data: bob.pub}}}}\n  - {{name: carol, key: {{data: carol.pub}}}}\n  requireSignatures: {n}\n",
            r.addr
        )
    };
    let other_digest = format!("sha256:{}", "0".repeat(64));
    std::fs::write(d.join("org2.yaml"), org(2, &other_digest)).unwrap();
    let (code, v) = decision(d, &["--policy", "org2.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    std::fs::write(d.join("org3.yaml"), org(3, &other_digest)).unwrap();
    let (code, v) = decision(d, &["--policy", "org3.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("2 of the required 3 authorities passed"),
        "{v}"
    );
    // The digest blocked everywhere: denied although two keys signed; the tag is resolved.
    std::fs::write(d.join("blocked.yaml"), org(2, &digest)).unwrap();
    let (code, v) = decision(d, &["--policy", "blocked.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("is on the deny list"),
        "{v}"
    );
}

/// A `ctlog` authority requires a log entry, verified against the TrustRoot it names — a
/// `sigstoreKeys` document, with no network access beyond the registry and the log search.
#[test]
fn ctlog_authorities_use_the_trust_root_they_name() {
    use base64::Engine;
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    generate(d, "ecdsa-p256", "k");
    push_image(&r.addr, "team/app:v1", b"v1");
    let image = format!("{}/team/app:v1", r.addr);
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        &image,
    ]));
    let log_key = reqwest::blocking::get(format!("{}/api/v1/log/publicKey", log.url))
        .unwrap()
        .bytes()
        .unwrap();
    let other_key = std::fs::read(d.join("k.pub")).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let doc = |trust_ref: &str, key_pem: &[u8]| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: logged}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: release\n    key: {{data: k.pub}}\n    ctlog: {{url: \"{}\"{trust_ref}}}\n---\napiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: our-log}}\nspec:\n  sigstoreKeys:\n    tLogs:\n    - baseURL: \"{}\"\n      hashAlgorithm: sha-256\n      publicKey: {}\n",
            log.url,
            log.url,
            b64(key_pem)
        )
    };
    std::fs::write(
        d.join("ours.yaml"),
        doc(", trustRootRef: our-log", &log_key),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "ours.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    // A TrustRoot with another key: the entry is from a log it does not know.
    std::fs::write(
        d.join("wrong.yaml"),
        doc(", trustRootRef: our-log", &other_key),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "wrong.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    let a = &v["decisions"][0]["policies"][0]["authorities"][0];
    assert!(a["detail"].as_str().unwrap().contains("log"), "{v}");
    // Without trustRootRef, the embedded public-good root: our log is unknown there.
    std::fs::write(d.join("public.yaml"), doc("", &log_key)).unwrap();
    let (code, _) = decision(d, &["--policy", "public.yaml", &image]);
    assert_eq!(code, 1);
    // A name no document defines.
    std::fs::write(
        d.join("unknown.yaml"),
        doc(", trustRootRef: nobody", &log_key),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "unknown.yaml", &image]);
    assert_eq!(code, 1);
    assert_eq!(
        v["decisions"][0]["policies"][0]["authorities"][0]["reason"], "unknown-trust-root",
        "{v}"
    );
    // A TUF TrustRoot does not load.
    std::fs::write(d.join("tuf.yaml"), "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: tuf}\nspec:\n  remote: {mirror: \"https://tuf.example\", root: AAAA}\n").unwrap();
    fails(
        sg(d).args(["policy", "test", "--policy", "tuf.yaml", &image]),
        3,
        "TUF",
    );
}

/// `--resource`: a policy's `match[]` applies it to the resources it names, by kind and label.
#[test]
fn resources_select_the_policies_that_apply() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    push_image(&r.addr, "team/app:v1", b"v1");
    let image = format!("{}/team/app:v1", r.addr);
    std::fs::write(
        d.join("prod.yaml"),
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: prod-frozen}\nspec:\n  images: [{glob: \"**\"}]\n  match:\n  - {group: apps, version: v1, resource: deployments, selector: {matchLabels: {tier: prod}}}\n  authorities: [{static: {action: fail, message: \"prod is frozen\"}}]\n",
    )
    .unwrap();
    let deployment = |tier: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: team\n  labels: {{tier: {tier}}}\nspec: {{}}\n"
        )
    };
    std::fs::write(d.join("prod-deploy.yaml"), deployment("prod")).unwrap();
    std::fs::write(d.join("dev-deploy.yaml"), deployment("dev")).unwrap();
    let (code, v) = decision(
        d,
        &[
            "--policy",
            "prod.yaml",
            "--resource",
            "prod-deploy.yaml",
            &image,
        ],
    );
    assert_eq!(code, 1, "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains("prod is frozen"),
        "{v}"
    );
    let (code, v) = decision(
        d,
        &[
            "--policy",
            "prod.yaml",
            "--resource",
            "dev-deploy.yaml",
            "--no-match-policy",
            "allow",
            &image,
        ],
    );
    assert_eq!(code, 0, "{v}");
    std::fs::write(
        d.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    fails(
        sg(d).args([
            "policy",
            "test",
            "--policy",
            "prod.yaml",
            "--resource",
            "cm.yaml",
            &image,
        ]),
        3,
        "carries no pod template",
    );
}

/// `source[].oci` reads the signatures from another repository (where `COSIGN_REPOSITORY` put
/// them), and `tagPrefix` from prefixed tags there (copied by skopeo, a peer).
#[test]
fn authorities_read_signatures_from_their_source_repository() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let digest = push_image(&r.addr, "team/app:v1", b"v1");
    let image = format!("{}/team/app:v1", r.addr);
    let sigs = format!("{}/signatures/app", r.addr);
    ok(sg(d)
        .env("COSIGN_REPOSITORY", &sigs)
        .args(["sign", "--key", "k.key", &image]));
    let policy = |source: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: src}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: release\n    key: {{data: k.pub}}\n{source}"
        )
    };
    // Beside the image there is nothing.
    std::fs::write(d.join("beside.yaml"), policy("")).unwrap();
    let (code, v) = decision(d, &["--policy", "beside.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v["decisions"][0]["policies"][0]["authorities"][0]["reason"], "no-signatures",
        "{v}"
    );
    std::fs::write(
        d.join("source.yaml"),
        policy(&format!("    source: [{{oci: \"{sigs}\"}}]\n")),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "source.yaml", &image]);
    assert_eq!(code, 0, "{v}");

    // A tag prefix: the signature copied to `v2-sha256-<hex>.sig` by skopeo.
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let o = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{sigs}:{tag}"),
            &format!("docker://{}/signatures/prefixed:v2-{tag}", r.addr),
        ])
        .output()
        .expect("skopeo is installed by scripts/test");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let prefixed = |prefix: &str| {
        policy(&format!(
            "    source: [{{oci: \"{}/signatures/prefixed\", tagPrefix: \"{prefix}\"}}]\n",
            r.addr
        ))
    };
    std::fs::write(d.join("prefix.yaml"), prefixed("v2-")).unwrap();
    let (code, v) = decision(d, &["--policy", "prefix.yaml", &image]);
    assert_eq!(code, 0, "{v}");
    std::fs::write(d.join("wrong-prefix.yaml"), prefixed("v3-")).unwrap();
    let (code, v) = decision(d, &["--policy", "wrong-prefix.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    // Pull secrets live in the cluster: the tester cannot read them, and says so.
    std::fs::write(
        d.join("secrets.yaml"),
        policy(&format!(
            "    source: [{{oci: \"{sigs}\", signaturePullSecrets: [{{name: regcred}}]}}]\n"
        )),
    )
    .unwrap();
    let (code, v) = decision(d, &["--policy", "secrets.yaml", &image]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v["decisions"][0]["policies"][0]["authorities"][0]["reason"], "unsupported",
        "{v}"
    );
}

/// `signatureFormat` says where an authority's signatures are: `legacy` (the default) cosign's
/// tags, `bundle` Sigstore-bundle referrers; a signature in the other place does not count.
#[test]
fn the_signature_format_says_where_signatures_are() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    push_image(&r.addr, "team/tags:v1", b"t1");
    push_image(&r.addr, "team/bundles:v1", b"b1");
    let tags = format!("{}/team/tags:v1", r.addr);
    let bundles = format!("{}/team/bundles:v1", r.addr);
    ok(sg(d).args(["sign", "--key", "k.key", &tags]));
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--registry-referrers-mode",
        "oci-1-1",
        &bundles,
    ]));
    let policy = |format: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: f}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: release\n    key: {{data: k.pub}}\n{format}"
        )
    };
    std::fs::write(d.join("legacy.yaml"), policy("")).unwrap();
    std::fs::write(
        d.join("bundle.yaml"),
        policy("    signatureFormat: bundle\n"),
    )
    .unwrap();
    let reason = |v: &Value| v["decisions"][0]["policies"][0]["authorities"][0]["reason"].clone();
    let (code, v) = decision(d, &["--policy", "legacy.yaml", &tags]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = decision(d, &["--policy", "legacy.yaml", &bundles]);
    assert_eq!((code, reason(&v)), (1, json!("no-signatures")), "{v}");
    let (code, v) = decision(d, &["--policy", "bundle.yaml", &bundles]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = decision(d, &["--policy", "bundle.yaml", &tags]);
    assert_eq!((code, reason(&v)), (1, json!("no-signatures")), "{v}");
}
