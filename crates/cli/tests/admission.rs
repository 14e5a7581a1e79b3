//! `sigil admission serve` over HTTPS on loopback, with real AdmissionReview v1 documents and
//! images signed in a real `docker-registry`: allowed, denied with the reason, tags resolved by
//! the mutating webhook, and every malformed or oversized request refused.

mod common;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{Value, json};

struct Webhook {
    child: Child,
    url: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(d: &Path, extra: &[&str]) -> Webhook {
    let ready = d.join("ready");
    let _ = std::fs::remove_file(&ready);
    let child = sigil(d)
        .env("SIGIL_CACHE_DIR", d.join("cache"))
        .args([
            "admission",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "tls.pem",
            "--tls-key",
            "tls.key",
            "--ready-file",
            "ready",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("webhook.err")).unwrap())
        .spawn()
        .unwrap();
    // Killed and reaped when dropped, also when the wait below fails.
    let mut w = Webhook {
        child,
        url: String::new(),
    };
    let t = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(&ready)
            && s.ends_with('\n')
        {
            w.url = s.trim().to_owned();
            return w;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the webhook did not start: {}",
            std::fs::read_to_string(d.join("webhook.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A registry holding `team/app:v1` signed with the key `k`, a directory with the key pair and
/// the TLS certificates, and the image's digest.
fn signed_setup() -> (registry::TestRegistry, tempfile::TempDir, String) {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tls_certificates(d);
    generate(d, "ecdsa-p256", "k");
    let digest = push_image(&r.addr, "team/app:v1", b"v1");
    ok(sigil(d).env("SIGIL_CACHE_DIR", d.join("cache")).args([
        "sign",
        "--key",
        "k.key",
        &format!("{}/team/app:v1", r.addr),
    ]));
    (r, dir, digest)
}

fn client(d: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.pem")).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn review(uid: &str, kind: &str, resource: &str, object: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": resource},
        "namespace": "prod", "operation": "CREATE", "userInfo": {"username": "alice"},
        "object": object, "dryRun": false}})
}

fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

/// The review's answer says `text`.
fn assert_message(v: &Value, text: &str) {
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(text)),
        "{v}"
    );
}

fn post(c: &reqwest::blocking::Client, url: &str, body: &Value) -> Value {
    let r = c.post(url).json(body).send().unwrap();
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

#[test]
fn the_webhook_enforces_policies_over_https() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tls_certificates(d);
    generate(d, "ecdsa-p256", "k");
    let signed_digest = push_image(&r.addr, "team/app:v1", b"v1");
    let unsigned_digest = push_image(&r.addr, "team/other:v1", b"o1");
    let signed_tag = format!("{}/team/app:v1", r.addr);
    ok(sigil(d).env("SIGIL_CACHE_DIR", d.join("cache")).args([
        "sign",
        "--key",
        "k.key",
        &signed_tag,
    ]));
    let signed = format!("{}/team/app@{signed_digest}", r.addr);
    let unsigned = format!("{}/team/other@{unsigned_digest}", r.addr);
    std::fs::write(
        d.join("p.yaml"),
        format!("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: team\nspec:\n  images:\n  - glob: \"{}/team/**\"\n  authorities:\n  - name: release\n    key:\n      data: k.pub\n", r.addr),
    )
    .unwrap();
    let w = start(d, &["--policy", "p.yaml", "--no-match-policy", "allow"]);
    let c = client(d);
    let validate = format!("{}/validate", w.url);
    let mutate = format!("{}/mutate", w.url);

    // A signed image pinned by digest: allowed; the uid is echoed.
    let v = post(
        &c,
        &validate,
        &review("uid-1", "Pod", "pods", pod(&[&signed])),
    );
    assert_eq!(
        (
            v["response"]["uid"].as_str(),
            v["response"]["allowed"].as_bool()
        ),
        (Some("uid-1"), Some(true)),
        "{v}"
    );

    // Unsigned: denied, with the reason.
    let v = post(
        &c,
        &validate,
        &review("uid-2", "Pod", "pods", pod(&[&unsigned])),
    );
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert_message(&v, "no signatures found");

    // A tag: validate refuses it, mutate pins it, and the pinned object is admitted.
    let tagged = review("uid-3", "Pod", "pods", pod(&[&signed_tag]));
    let v = post(&c, &validate, &tagged);
    assert_message(&v, "must be an image digest");
    let m = post(&c, &mutate, &tagged);
    assert_eq!(m["response"]["patchType"], "JSONPatch", "{m}");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(m["response"]["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(patch[0]["path"], "/spec/containers/0/image");
    let pinned = patch[0]["value"].as_str().unwrap().to_owned();
    assert_eq!(pinned, format!("{signed_tag}@{signed_digest}"));
    let v = post(
        &c,
        &validate,
        &review("uid-4", "Pod", "pods", pod(&[&pinned])),
    );
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // Every kind with a pod template; one bad image in it denies the whole object.
    let template = |images: &[&str]| pod(images)["spec"].clone();
    for (kind, object) in [
        (
            "Deployment",
            json!({"spec": {"template": {"spec": template(&[&signed, &unsigned])}}}),
        ),
        (
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": template(&[&unsigned])}}}}}),
        ),
    ] {
        let v = post(&c, &validate, &review("uid-5", kind, "x", object));
        assert_eq!(v["response"]["allowed"], false, "{kind}: {v}");
    }
    let v = post(
        &c,
        &validate,
        &review(
            "uid-6",
            "Deployment",
            "deployments",
            json!({"spec": {"template": {"spec": template(&[&signed])}}}),
        ),
    );
    assert_eq!(v["response"]["allowed"], true, "{v}");
    // An ephemeral container added to a running pod.
    let eph = json!({"spec": {"containers": [{"name": "a", "image": signed}], "ephemeralContainers": [{"name": "dbg", "image": unsigned}]}});
    let v = post(&c, &validate, &review("uid-7", "Pod", "pods", eph));
    assert_eq!(v["response"]["allowed"], false, "{v}");

    // An image no policy matches: no-match-policy allow.
    let elsewhere = format!("{}/elsewhere/x@{unsigned_digest}", r.addr);
    let v = post(
        &c,
        &validate,
        &review("uid-8", "Pod", "pods", pod(&[&elsewhere])),
    );
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // The registry unreachable: denied, and said so (mutate too).
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(d.join("any.yaml"), "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: any}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{key: {data: k.pub}}]\n").unwrap();
    drop(w);
    let w = start(d, &["--policy", "any.yaml"]);
    let v = post(
        &c,
        &format!("{}/validate", w.url),
        &review(
            "uid-9",
            "Pod",
            "pods",
            pod(&[&format!("{gone}/a/b@{signed_digest}")]),
        ),
    );
    assert_eq!(v["response"]["allowed"], false);
    assert_message(&v, "registry unreachable");
    let m = post(
        &c,
        &format!("{}/mutate", w.url),
        &review("uid-10", "Pod", "pods", pod(&[&format!("{gone}/a/b:v1")])),
    );
    assert_eq!(m["response"]["allowed"], false);
    assert_message(&m, "registry unreachable");

    // Malformed and oversized requests.
    let bad = c
        .post(format!("{}/validate", w.url))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("not JSON"));
    let v1beta1 = c
        .post(format!("{}/validate", w.url))
        .json(&json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}))
        .send()
        .unwrap();
    assert_eq!(v1beta1.status(), 400);
    // The server answers 413 from the Content-Length, before the body; the client may still be
    // writing when the connection closes.
    match c
        .post(format!("{}/validate", w.url))
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
    {
        Ok(huge) => assert_eq!(huge.status(), 413),
        Err(e) => assert!(
            format!("{e:?}").contains("BrokenPipe") || format!("{e:?}").contains("ConnectionReset"),
            "{e:?}"
        ),
    }
    let h: Value = c
        .get(format!("{}/readyz", w.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["policies"], 1);
}

/// Policies reload when their files change; a set that does not load keeps the previous one;
/// every decision is an audit event; the metrics count them.
#[test]
fn policies_reload_and_decisions_are_audited() {
    let (r, dir, digest) = signed_setup();
    let d = dir.path();
    let image = format!("{}/team/app@{digest}", r.addr);
    let policy = |authority: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: team}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities: [{authority}]\n"
        )
    };
    std::fs::create_dir(d.join("policies")).unwrap();
    std::fs::write(
        d.join("policies/p.yaml"),
        policy("{key: {data: ../k.pub}}")
            .replace("../k.pub", &d.join("k.pub").display().to_string()),
    )
    .unwrap();
    let w = start(
        d,
        &[
            "--policy",
            "policies",
            "--reload-interval",
            "1s",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    let c = client(d);
    let validate = format!("{}/validate", w.url);
    let ready = |c: &reqwest::blocking::Client| -> Value {
        c.get(format!("{}/readyz", w.url))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let v = post(&c, &validate, &review("a-1", "Pod", "pods", pod(&[&image])));
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let v = post(&c, &validate, &review("a-2", "Pod", "pods", pod(&[&image])));
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // A change: the image is now frozen.
    std::fs::write(
        d.join("policies/p.yaml"),
        policy("{static: {action: fail, message: \"frozen for the release\"}}"),
    )
    .unwrap();
    let t = Instant::now();
    while ready(&c)["revision"] != 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no reload: {}",
            ready(&c)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = post(&c, &validate, &review("a-3", "Pod", "pods", pod(&[&image])));
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert_message(&v, "frozen for the release");

    // A broken file: the previous set stays, and readyz says why.
    std::fs::write(d.join("policies/p.yaml"), "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: team}\nspec: {imagez: []}\n").unwrap();
    let t = Instant::now();
    while ready(&c)["lastReloadError"].is_null() {
        assert!(t.elapsed() < Duration::from_secs(20), "no reload attempt");
        std::thread::sleep(Duration::from_millis(50));
    }
    let h = ready(&c);
    assert_eq!(h["revision"], 2, "{h}");
    assert!(
        h["lastReloadError"]
            .as_str()
            .unwrap()
            .contains("unknown field `imagez`"),
        "{h}"
    );
    let v = post(&c, &validate, &review("a-4", "Pod", "pods", pod(&[&image])));
    assert_eq!(
        v["response"]["allowed"], false,
        "the previous set still decides: {v}"
    );

    // The audit log: one line per decision, with the request's identity.
    let audit: Vec<Value> = std::fs::read_to_string(d.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(audit.len(), 4);
    assert_eq!(
        (
            audit[0]["uid"].as_str(),
            audit[0]["allowed"].as_bool(),
            audit[0]["user"].as_str()
        ),
        (Some("a-1"), Some(true), Some("alice"))
    );
    assert_eq!(audit[2]["policyRevision"], 2);
    assert!(
        audit[2]["images"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("frozen"),
        "{}",
        audit[2]
    );

    // The metrics: decisions by outcome, the second decision answered from the cache, the failed reload.
    let m = c
        .get(format!("{}/metrics", w.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "sigil_admission_decisions_total{outcome=\"allowed\"} 2",
        "sigil_admission_decisions_total{outcome=\"denied\"} 2",
        "sigil_admission_verifications_total{source=\"cache\"} 2",
        "sigil_admission_policy_reload_failures_total 1",
        "sigil_admission_signature_rejections_total{reason=\"static-fail\"} 2",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }
}

/// The manifests pass `kubernetes-validate --strict` for Kubernetes 1.30 (it only warns on
/// kinds it does not know: every object must be reported as passed).
#[test]
fn the_manifests_validate_against_kubernetes_1_30() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tls_certificates(d);
    let yaml = ok(sigil(d).args([
        "admission",
        "manifests",
        "--tls-cert",
        "tls.pem",
        "--tls-key",
        "tls.key",
        "--ca-bundle",
        "ca.pem",
        "--namespace-label",
        "sigstore-policy=enforce",
        "--timeout",
        "20",
    ]));
    std::fs::write(d.join("m.yaml"), &yaml).unwrap();
    let o = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.30.0", "m.yaml"])
        .current_dir(d)
        .output()
        .expect("kubernetes-validate (scripts/test installs it)");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    let passed = out
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains(" passed for resource "))
        .count();
    assert_eq!(passed, 7, "{out}");
    assert!(!out.contains("WARN") && !out.contains("ERROR"), "{out}");
    let docs: Vec<Value> = yaml
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_json::to_value(serde_saphyr::from_str::<Value>(d).unwrap()).unwrap())
        .collect();
    let v = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .unwrap();
    assert_eq!(v["webhooks"][0]["timeoutSeconds"], 20);
    assert_eq!(
        v["webhooks"][0]["namespaceSelector"]["matchLabels"]["sigstore-policy"],
        "enforce"
    );
    assert!(v["webhooks"][0]["clientConfig"]["caBundle"].is_string());
    fails(
        sigil(d).args(["admission", "manifests", "--timeout", "31"]),
        3,
        "the webhook timeout must be 1 to 30 seconds",
    );
}

/// Concurrent reviews of one image never seen share one verification.
#[test]
fn concurrent_reviews_of_one_image_share_one_verification() {
    let (r, dir, digest) = signed_setup();
    let d = dir.path();
    std::fs::write(d.join("p.yaml"), "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{key: {data: k.pub}}]\n").unwrap();
    let w = start(
        d,
        &[
            "--policy",
            "p.yaml",
            "--metrics-prefix",
            "cloudtaser_admission",
        ],
    );
    let image = format!("{}/team/app@{digest}", r.addr);
    let url = format!("{}/validate", w.url);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (url, image) = (url.clone(), image.clone());
                s.spawn(move || {
                    let v = post(
                        &client(d),
                        &url,
                        &review(&format!("c-{i}"), "Pod", "pods", pod(&[&image])),
                    );
                    assert_eq!(v["response"]["allowed"], true, "{v}");
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let m = client(d)
        .get(format!("{}/metrics", w.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let count = |source: &str| -> u64 {
        m.lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "cloudtaser_admission_verifications_total{{source=\"{source}\"}} "
                ))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(count("registry"), 1, "{m}");
    assert_eq!(count("cache") + count("shared"), 15, "{m}");
    // Latency histograms: every review answered, the one verification timed.
    let series = |name: &str| -> Option<u64> {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("cloudtaser_admission_{name} ")))
            .and_then(|n| n.parse().ok())
    };
    assert_eq!(
        series("request_duration_seconds_count{webhook=\"validate\"}"),
        Some(16),
        "{m}"
    );
    assert_eq!(
        series("request_duration_seconds_bucket{webhook=\"validate\",le=\"+Inf\"}"),
        Some(16),
        "{m}"
    );
    assert_eq!(
        series("verification_duration_seconds_count"),
        Some(1),
        "{m}"
    );
    assert!(m.contains("# TYPE cloudtaser_admission_request_duration_seconds histogram"));
}

/// `admission render`: the ValidatingAdmissionPolicy's CEL, evaluated by cel-python against
/// pod, deployment and cronjob fixtures, allows exactly the objects whose every image is pinned;
/// the Kyverno policy carries the key and Rekor settings; `enforceSignature: false` renders
/// nothing that denies.
#[test]
fn rendered_policies_for_kyverno_and_the_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let key = std::fs::read_to_string(d.join("k.pub")).unwrap();
    let indented: String = key.lines().map(|l| format!("      {l}\n")).collect();
    std::fs::write(
        d.join("values.yaml"),
        format!("admission:\n  enforceSignature: true\n  signature:\n    publicKey: |\n{indented}  rekorURL: https://rekor.example\n  ignoreTlog: false\n  additionalImageReferences: [\"registry.example/*\"]\n"),
    )
    .unwrap();
    let both = ok(sigil(d).args([
        "admission",
        "render",
        "--mode",
        "both",
        "--values",
        "values.yaml",
    ]));
    std::fs::write(d.join("both.yaml"), &both).unwrap();
    let docs: Vec<Value> = both
        .split("---\n")
        .filter(|x| !x.trim().is_empty())
        .map(|x| serde_saphyr::from_str::<Value>(x).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ClusterPolicy",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding"
        ]
    );
    let vi = &docs[0]["spec"]["rules"][0]["verifyImages"][0];
    assert_eq!(docs[0]["spec"]["validationFailureAction"], "Enforce");
    assert_eq!(
        (vi["mutateDigest"].as_bool(), vi["verifyDigest"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(vi["imageReferences"][0], "registry.example/*");
    let keys = &vi["attestors"][0]["entries"][0]["keys"];
    assert!(
        keys["publicKeys"]
            .as_str()
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    assert_eq!(keys["rekor"]["url"], "https://rekor.example");
    assert_eq!(docs[2]["spec"]["validationActions"], json!(["Deny"]));

    let pinned = format!("registry.example/app@sha256:{}", "a".repeat(64));
    let pod = |containers: Value| json!({"kind": "Pod", "spec": containers});
    let fixtures = [
        (
            "pod pinned",
            pod(json!({"containers": [{"name": "a", "image": pinned}]})),
            true,
        ),
        (
            "pod tag",
            pod(json!({"containers": [{"name": "a", "image": "registry.example/app:v1"}]})),
            false,
        ),
        (
            "pod init tag",
            pod(
                json!({"containers": [{"name": "a", "image": pinned}], "initContainers": [{"name": "i", "image": "busybox"}]}),
            ),
            false,
        ),
        (
            "pod ephemeral tag",
            pod(
                json!({"containers": [{"name": "a", "image": pinned}], "ephemeralContainers": [{"name": "e", "image": "debug:1"}]}),
            ),
            false,
        ),
        (
            "pod image volume tag",
            pod(
                json!({"containers": [{"name": "a", "image": pinned}], "volumes": [{"name": "v", "image": {"reference": "data:1"}}, {"name": "w", "emptyDir": {}}]}),
            ),
            false,
        ),
        (
            "deployment pinned",
            json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": pinned}]}}}}),
            true,
        ),
        (
            "deployment tag",
            json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "app:latest"}]}}}}),
            false,
        ),
        (
            "cronjob pinned",
            json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": pinned}]}}}}}}),
            true,
        ),
        (
            "cronjob tag",
            json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "app:1"}]}}}}}}),
            false,
        ),
        (
            "digest not sha256",
            pod(json!({"containers": [{"name": "a", "image": "app@sha512:abc"}]})),
            false,
        ),
    ];
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/cel/vap.py");
    for (name, object, want) in fixtures {
        std::fs::write(d.join("object.json"), object.to_string()).unwrap();
        let o = Command::new("python3")
            .arg(&script)
            .args(["both.yaml", "object.json"])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["allowed"], want, "{name}");
    }

    // Kyverno's ImageValidatingPolicy form (policies.kyverno.io/v1).
    let ivp = ok(sigil(d).args([
        "admission",
        "render",
        "--mode",
        "kyverno",
        "--kyverno-api",
        "imagevalidatingpolicy",
        "--values",
        "values.yaml",
    ]));
    let ivp: Value = serde_saphyr::from_str(ivp.trim_start_matches("---\n")).unwrap();
    assert_eq!(
        (ivp["apiVersion"].as_str(), ivp["kind"].as_str()),
        (
            Some("policies.kyverno.io/v1"),
            Some("ImageValidatingPolicy")
        )
    );
    let spec = &ivp["spec"];
    assert_eq!(spec["validationActions"], json!(["Deny"]));
    assert_eq!(
        spec["matchImageReferences"],
        json!([{"glob": "registry.example/*"}])
    );
    let cosign = &spec["attestors"][0]["cosign"];
    assert_eq!(spec["attestors"][0]["name"], "sigil");
    assert_eq!(
        cosign["key"]["data"].as_str().map(str::trim),
        Some(key.trim())
    );
    assert_eq!(
        cosign["ctlog"],
        json!({"url": "https://rekor.example", "insecureIgnoreTlog": false})
    );
    assert_eq!(
        spec["validationConfigurations"],
        json!({"mutateDigest": true, "verifyDigest": true, "required": true})
    );
    assert!(
        spec["webhookConfiguration"]["timeoutSeconds"]
            .as_u64()
            .unwrap()
            <= 30
    );
    // Its CEL compiles in an implementation nobody here wrote (cel-python parses Kyverno's
    // function calls; evaluating them needs Kyverno).
    let expr = spec["validations"][0]["expression"].as_str().unwrap();
    assert!(
        expr.contains("verifyImageSignatures(image, [attestors.sigil])"),
        "{expr}"
    );
    let o = Command::new("python3")
        .args([
            "-c",
            "import celpy, sys; celpy.Environment().compile(sys.argv[1])",
            expr,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("python3")
        .args([
            "-c",
            "import celpy, sys; celpy.Environment().compile(sys.argv[1])",
            "images.containers.map(image,",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success(), "cel-python accepts anything");
    // A key URL has no place in that form.
    std::fs::write(
        d.join("url.yaml"),
        "admission:\n  signature:\n    publicKeyURL: https://keys.example/cosign.pub\n",
    )
    .unwrap();
    fails(
        sigil(d).args([
            "admission",
            "render",
            "--mode",
            "kyverno",
            "--kyverno-api",
            "imagevalidatingpolicy",
            "--values",
            "url.yaml",
        ]),
        3,
        "takes the key inline",
    );

    // Not enforcing: nothing denies.
    std::fs::write(d.join("audit.yaml"), "admission:\n  enforceSignature: false\n  signature:\n    publicKeyURL: https://keys.example/cosign.pub\n").unwrap();
    let audit = ok(sigil(d).args([
        "admission",
        "render",
        "--mode",
        "both",
        "--values",
        "audit.yaml",
    ]));
    assert!(
        !audit.contains("Deny") && !audit.contains("Enforce"),
        "{audit}"
    );
    assert!(audit.contains("Audit"));
    fails(
        sigil(d).args([
            "admission",
            "render",
            "--mode",
            "kyverno",
            "--values",
            "bad.yaml",
        ]),
        3,
        "bad.yaml",
    );
    std::fs::write(
        d.join("nokey.yaml"),
        "admission:\n  enforceSignature: true\n",
    )
    .unwrap();
    fails(
        sigil(d).args([
            "admission",
            "render",
            "--mode",
            "kyverno",
            "--values",
            "nokey.yaml",
        ]),
        3,
        "exactly one of publicKey and publicKeyURL",
    );
}

/// match[] reads the resource's kind and labels: a decision cached for one resource is never
/// the answer for another that runs the same image.
#[test]
fn cached_decisions_belong_to_the_resource_they_were_made_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tls_certificates(d);
    std::fs::write(
        d.join("frozen.yaml"),
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: prod-frozen}\nspec:\n  images: [{glob: \"**\"}]\n  match:\n  - {group: apps, version: v1, resource: deployments, selector: {matchLabels: {tier: prod}}}\n  authorities: [{static: {action: fail, message: \"prod is frozen\"}}]\n",
    )
    .unwrap();
    let w = start(
        d,
        &["--policy", "frozen.yaml", "--no-match-policy", "allow"],
    );
    let c = client(d);
    let validate = format!("{}/validate", w.url);
    let image = format!("127.0.0.1:1/team/app@sha256:{}", "a".repeat(64));
    let deployment = |tier: &str| {
        let mut v = review(
            &format!("uid-{tier}"),
            "Deployment",
            "deployments",
            json!({"metadata": {"name": "d", "labels": {"tier": tier}},
                   "spec": {"template": {"spec": pod(&[&image])["spec"].clone()}}}),
        );
        v["request"]["resource"]["group"] = json!("apps");
        v["request"]["kind"]["group"] = json!("apps");
        v
    };
    for (tier, allowed) in [
        ("dev", true),
        ("prod", false),
        ("dev", true),
        ("prod", false),
    ] {
        let v = post(&c, &validate, &deployment(tier));
        assert_eq!(v["response"]["allowed"], allowed, "{tier}: {v}");
        if !allowed {
            assert_message(&v, "prod is frozen");
        }
    }
}

/// The same cases decided by the webhook against the registry and by `sigil policy test` on
/// the evidence `sigil save` wrote, with the registry gone: the same answers, the same reasons.
#[test]
fn policy_test_on_saved_evidence_agrees_with_the_webhook() {
    let (r, dir, signed) = signed_setup();
    let d = dir.path();
    generate(d, "ecdsa-p256", "other");
    let unsigned = push_image(&r.addr, "team/unsigned:v1", b"u1");
    let by_other = push_image(&r.addr, "team/other:v1", b"o1");
    let denied = push_image(&r.addr, "team/denied:v1", b"d1");
    let outside = push_image(&r.addr, "elsewhere/app:v1", b"e1");
    ok(sigil(d).env("SIGIL_CACHE_DIR", d.join("cache")).args([
        "sign",
        "--key",
        "other.key",
        &format!("{}/team/other:v1", r.addr),
    ]));
    for image in ["team/denied:v1", "elsewhere/app:v1"] {
        ok(sigil(d).env("SIGIL_CACHE_DIR", d.join("cache")).args([
            "sign",
            "--key",
            "k.key",
            &format!("{}/{image}", r.addr),
        ]));
    }
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::write(
        d.join("policies/p.yaml"),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: team}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: release\n    key: {{data: k.pub}}\n---\napiVersion: sigil.dev/v1alpha1\nkind: OrgPolicy\nmetadata: {{name: acme}}\nspec:\n  allowedRegistries: [\"{}/team\"]\n  denyDigests: [\"{denied}\"]\n",
            r.addr
        ),
    )
    .unwrap();
    let cases: Vec<String> = [
        ("team/app", &signed),
        ("team/unsigned", &unsigned),
        ("team/other", &by_other),
        ("team/denied", &denied),
        ("elsewhere/app", &outside),
    ]
    .iter()
    .map(|(repo, digest)| format!("{}/{repo}@{digest}", r.addr))
    .collect();

    let w = start(d, &["--policy", "policies", "--audit-log", "audit.jsonl"]);
    let c = client(d);
    let webhook: Vec<(bool, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let v = post(
                &c,
                &format!("{}/validate", w.url),
                &review(&format!("u{i}"), "Pod", "pods", pod(&[image])),
            );
            (
                v["response"]["allowed"].as_bool().unwrap(),
                v["response"]["status"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    drop(w);
    assert_eq!(
        webhook.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [true, false, false, false, false],
        "{webhook:?}"
    );

    let mut save = sigil(d);
    save.env("SIGIL_CACHE_DIR", d.join("cache"))
        .args(["save", "--dir", "evidence", "-o", "json"])
        .args(&cases);
    let saved: Value = serde_json::from_str(&ok(&mut save)).unwrap();
    assert_eq!(saved["images"][0]["digest"], signed.as_str(), "{saved}");
    drop(r); // the registry is gone: what follows reads only the evidence

    let o = run(sigil(d)
        .env("SIGIL_CACHE_DIR", d.join("cache"))
        .args([
            "policy",
            "test",
            "--policy",
            "policies",
            "--evidence",
            "evidence",
            "-o",
            "json",
        ])
        .args(&cases));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (i, (allowed, message)) in webhook.iter().enumerate() {
        let dec = &v["decisions"][i];
        assert_eq!(dec["allowed"].as_bool(), Some(*allowed), "{i}: {dec}");
        // Each denial names the same failure in both.
        for e in dec["errors"].as_array().unwrap() {
            let e = e.as_str().unwrap();
            let reason = e.split_once(": ").map_or(e, |(_, r)| r);
            assert!(
                message.contains(reason),
                "{i}: webhook said {message:?}, policy test {e:?}"
            );
        }
    }
    // Tampered evidence is refused, never trusted: every saved blob flipped.
    let tampered = d.join("tampered");
    std::fs::create_dir_all(tampered.join("blobs/sha256")).unwrap();
    for f in ["oci-layout", "index.json"] {
        std::fs::copy(d.join("evidence").join(f), tampered.join(f)).unwrap();
    }
    for e in std::fs::read_dir(d.join("evidence/blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let mut bytes = std::fs::read(e.path()).unwrap();
        bytes[0] ^= 1;
        std::fs::write(tampered.join("blobs/sha256").join(e.file_name()), bytes).unwrap();
    }
    let o = run(sigil(d).args([
        "policy",
        "test",
        "--policy",
        "policies",
        "--evidence",
        "tampered",
        "-o",
        "json",
        &cases[0],
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("expected sha256:"),
        "{v}"
    );
    // An image the evidence does not hold is denied as missing, never as unsigned.
    let o = run(sigil(d).args([
        "policy",
        "test",
        "--policy",
        "policies",
        "--evidence",
        "evidence",
        "-o",
        "json",
        &format!("127.0.0.1:1/team/app@{signed}"),
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.to_string().contains("no such tag or digest"), "{v}");
}

/// A renewed TLS certificate (a rotated Secret) is served to new connections without a
/// restart; one that does not load keeps the previous certificate.
#[test]
fn the_tls_certificate_reloads_when_its_files_change() {
    let (_r, dir, _digest) = signed_setup();
    let d = dir.path();
    std::fs::write(d.join("p.yaml"), "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{key: {data: k.pub}}]\n").unwrap();
    let w = start(d, &["--policy", "p.yaml", "--reload-interval", "100ms"]);
    let healthz = |ca_dir: &Path| {
        client(ca_dir)
            .get(format!("{}/healthz", w.url))
            .send()
            .map(|r| r.status().as_u16())
    };
    assert_eq!(healthz(d).unwrap(), 200);
    // A new CA and certificate, copied over the served files.
    let new = d.join("new");
    std::fs::create_dir_all(&new).unwrap();
    tls_certificates(&new);
    for f in ["tls.pem", "tls.key"] {
        std::fs::copy(new.join(f), d.join(f)).unwrap();
    }
    let t = Instant::now();
    while healthz(&new).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the new certificate was not served: {}",
            std::fs::read_to_string(d.join("webhook.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(healthz(d).is_err(), "the old certificate is still served");
    // A broken certificate file: the previous certificate stays, the reason is logged.
    std::fs::write(d.join("tls.pem"), "not a certificate").unwrap();
    let t = Instant::now();
    loop {
        let err = std::fs::read_to_string(d.join("webhook.err")).unwrap_or_default();
        if err.contains("the TLS certificate did not reload, the previous one stays") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(healthz(&new).unwrap(), 200);
}
