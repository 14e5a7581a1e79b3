//! ClusterImagePolicy documents read and refused as policy-controller's webhook does, and
//! decisions with its semantics.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sigil_policy::cip::{self, Authority, Policy};
use sigil_policy::eval::{self, Checked, Checker, NoMatch, Resource};

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEklf3EbvSdfm3D75Zdv9CiY7iTGrk
OFajVFIVSCAJXRaYUZJw/dVjs6l02skk6MQJkvUPYbVx34Q81shBXOFuWg==
-----END PUBLIC KEY-----";

fn doc(name: &str, glob: &str, authorities: &str, extra: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n{authorities}{extra}"
    )
}

fn key_authority(name: &str) -> String {
    let pem: String = KEY.lines().map(|l| format!("        {l}\n")).collect();
    format!("  - name: {name}\n    key:\n      data: |\n{pem}")
}

#[test]
fn documents_are_read_in_both_versions_and_in_several_forms() {
    let one = doc("a", "registry.example/**", &key_authority("k"), "");
    let ps = cip::parse(&one, "a.yaml").unwrap();
    assert_eq!((ps.len(), ps[0].name(), ps[0].warn), (1, "a", false));
    // Several documents in one file, v1alpha1 too, and warn mode.
    let two = format!(
        "{}\n---\n{}",
        one,
        doc("b", "**", "  - static: {action: pass}\n", "  mode: warn\n")
            .replace("v1beta1", "v1alpha1")
    );
    let ps = cip::parse(&two, "two.yaml").unwrap();
    assert_eq!(ps.len(), 2);
    assert!(ps[1].warn);
    assert_eq!(ps[1].authority_name(0), "authority-0");
    // JSON, and a List.
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"policy.sigstore.dev/v1beta1","kind":"ClusterImagePolicy","metadata":{"name":"j","uid":"x"},"spec":{"images":[{"glob":"**"}],"authorities":[{"static":{"action":"fail","message":"frozen"}}]}}]}"#;
    let ps = cip::parse(json, "list.json").unwrap();
    assert_eq!(ps[0].name(), "j");
}

#[test]
fn each_invalid_document_is_refused_naming_the_field() {
    let cases: Vec<(String, &str)> = vec![
        (doc("x", "[a-z]*", "  - static: {action: pass}\n", ""), "spec.images[0].glob: invalid glob"),
        (doc("x", "**", "  - {}\n", ""), "spec.authorities[0]: exactly one of key, keyless or static"),
        (
            doc("x", "**", &format!("{}    static: {{action: pass}}\n", key_authority("k")), ""),
            "spec.authorities[0]: exactly one of key, keyless or static",
        ),
        (doc("x", "**", "  - key: {}\n", ""), "spec.authorities[0].key: exactly one of data, kms or secretRef"),
        (doc("x", "**", "  - key: {data: \"---somedata---\"}\n", ""), "spec.authorities[0].key.data"),
        (doc("x", "**", "  - static: {action: maybe}\n", ""), "spec.authorities[0].static.action: must be pass or fail"),
        (
            doc("x", "**", "  - keyless: {url: \"https://fulcio.example\", identities: []}\n", ""),
            "spec.authorities[0].keyless.identities: at least one identity",
        ),
        (
            doc("x", "**", "  - keyless:\n      identities: [{subject: me}]\n", ""),
            "spec.authorities[0].keyless.identities[0]: issuer or issuerRegExp is required",
        ),
        (
            doc("x", "**", "  - keyless:\n      identities: [{issuer: i, subjectRegExp: \"(\"}]\n", ""),
            "spec.authorities[0].keyless.identities[0].subjectRegExp",
        ),
        (doc("x", "**", "  - static: {action: pass}\n", "  mode: audit\n"), "spec.mode: must be enforce or warn"),
        (
            doc("x", "**", "  - static: {action: pass}\n", "  match:\n  - {resource: apples, version: v1}\n"),
            "spec.match[0].resource: unsupported resource",
        ),
        (
            doc("x", "**", "  - static: {action: pass}\n", "  policy: {type: python, data: x}\n"),
            "spec.policy: type \"python\" is neither cue nor rego",
        ),
        // A misspelt field is refused, never ignored.
        (doc("x", "**", "  - keyles: {}\n", ""), "spec.authorities[0].keyles: unknown field `keyles`"),
        (doc("x", "**", "  - static: {action: pass}\n", "").replace("v1beta1", "v2"), "apiVersion"),
        ("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec:\n  images: []\n  authorities: [{static: {action: pass}}]\n".into(), "spec.images: at least one image glob"),
        ("spec: [unclosed".into(), "x.yaml: "),
    ];
    for (text, want) in cases {
        let err = cip::parse(&text, "x.yaml").map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{want:?} not in {err}\n{text}"
        );
        assert!(err.to_string().starts_with("x.yaml: "), "{err}");
    }
}

/// A checker answering from a table, recording what it was asked.
struct Table {
    answers: BTreeMap<String, (bool, &'static str)>,
    asked: RefCell<Vec<String>>,
}

impl Checker for Table {
    fn check(&self, image: &str, _: &Policy, a: &Authority) -> Checked {
        self.asked.borrow_mut().push(format!("{image} {}", a.name));
        let (ok, why) = self
            .answers
            .get(&a.name)
            .copied()
            .unwrap_or((false, "no-signatures"));
        if ok {
            Checked::pass(why)
        } else {
            Checked::fail(why, why)
        }
    }
}

fn table(answers: &[(&str, bool, &'static str)]) -> Table {
    Table {
        answers: answers
            .iter()
            .map(|(n, ok, w)| (n.to_string(), (*ok, *w)))
            .collect(),
        asked: RefCell::new(Vec::new()),
    }
}

#[test]
fn every_matching_policy_must_pass_and_one_authority_is_enough() {
    let text = format!(
        "{}\n---\n{}",
        doc(
            "release",
            "registry.example/app*",
            &format!("{}{}", key_authority("k1"), key_authority("k2")),
            ""
        ),
        doc("all", "registry.example/**", &key_authority("ci"), ""),
    );
    let ps = cip::parse(&text, "p.yaml").unwrap();
    let img = "registry.example/app:v1";

    // k1 fails, k2 passes (OR); ci passes: allowed, and k2 was tried after k1.
    let t = table(&[
        ("k1", false, "signature-invalid"),
        ("k2", true, "verified"),
        ("ci", true, "verified"),
    ]);
    let d = eval::decide(&ps, img, None, NoMatch::Deny, &t);
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.policies.len(), 2);
    assert_eq!(t.asked.borrow().len(), 3);

    // The first authority passing: the second is not tried.
    let t = table(&[("k1", true, "verified"), ("ci", true, "verified")]);
    eval::decide(&ps, img, None, NoMatch::Deny, &t);
    assert_eq!(
        *t.asked.borrow(),
        vec![format!("{img} k1"), format!("{img} ci")]
    );

    // AND: ci fails, so the image is denied although "release" passed; the message names it.
    let t = table(&[("k1", true, "verified"), ("ci", false, "no-signatures")]);
    let d = eval::decide(&ps, img, None, NoMatch::Deny, &t);
    assert!(!d.allowed);
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0].contains("policy all failed") && d.errors[0].contains("ci: no-signatures"),
        "{:?}",
        d.errors
    );
    assert_eq!(
        d.policies[1].authorities[0].reason.as_deref(),
        Some("no-signatures")
    );

    // Only "all" matches another image.
    let t = table(&[("ci", true, "verified")]);
    let d = eval::decide(&ps, "registry.example/other:v1", None, NoMatch::Deny, &t);
    assert!(d.allowed);
    assert_eq!(
        d.policies
            .iter()
            .map(|p| p.policy.as_str())
            .collect::<Vec<_>>(),
        ["all"]
    );
}

#[test]
fn warn_mode_static_authorities_and_the_no_match_policy() {
    let text = format!(
        "{}\n---\n{}",
        doc(
            "frozen",
            "registry.example/legacy/**",
            "  - static: {action: fail, message: \"legacy images are frozen\"}\n",
            ""
        ),
        doc(
            "soft",
            "registry.example/soft/**",
            &key_authority("k"),
            "  mode: warn\n"
        ),
    );
    let ps = cip::parse(&text, "p.yaml").unwrap();
    let t = table(&[]);
    let d = eval::decide(&ps, "registry.example/legacy/x:1", None, NoMatch::Deny, &t);
    assert!(!d.allowed);
    assert!(
        d.errors[0].contains("legacy images are frozen"),
        "{:?}",
        d.errors
    );
    assert!(
        t.asked.borrow().is_empty(),
        "a static authority asks nothing"
    );

    let d = eval::decide(&ps, "registry.example/soft/x:1", None, NoMatch::Deny, &t);
    assert!(d.allowed, "warn mode admits");
    assert_eq!((d.errors.len(), d.warnings.len()), (0, 1));

    for (mode, allowed, warnings) in [
        (NoMatch::Deny, false, 0),
        (NoMatch::Allow, true, 0),
        (NoMatch::Warn, true, 1),
    ] {
        let d = eval::decide(&ps, "elsewhere.example/x:1", None, mode, &t);
        assert_eq!(
            (d.allowed, d.warnings.len()),
            (allowed, warnings),
            "{mode:?}"
        );
    }
    assert!("audit".parse::<NoMatch>().is_err());
}

#[test]
fn match_limits_a_policy_to_its_resources() {
    let text = doc(
        "labelled",
        "**",
        "  - static: {action: fail}\n",
        "  match:\n  - group: apps\n    version: v1\n    resource: deployments\n    selector:\n      matchLabels: {tier: prod}\n",
    );
    let ps = cip::parse(&text, "p.yaml").unwrap();
    let t = table(&[]);
    let res = |resource: &str, tier: &str| Resource {
        group: "apps".into(),
        version: "v1".into(),
        resource: resource.into(),
        labels: BTreeMap::from([("tier".to_owned(), tier.to_owned())]),
        namespace: None,
    };
    let img = "registry.example/app:1";
    assert!(
        !eval::decide(
            &ps,
            img,
            Some(&res("deployments", "prod")),
            NoMatch::Allow,
            &t
        )
        .allowed
    );
    assert!(
        eval::decide(
            &ps,
            img,
            Some(&res("deployments", "dev")),
            NoMatch::Allow,
            &t
        )
        .allowed
    );
    assert!(
        eval::decide(
            &ps,
            img,
            Some(&res("statefulsets", "prod")),
            NoMatch::Allow,
            &t
        )
        .allowed
    );
    // Without a resource (the tester), the policy applies.
    assert!(!eval::decide(&ps, img, None, NoMatch::Allow, &t).allowed);
}

#[test]
fn a_policy_level_rego_policy_sees_every_authority_k_of_n() {
    // Two of the three release keys must have signed: Rego over authorityMatches.
    let authorities = format!(
        "{}{}{}",
        key_authority("alice"),
        key_authority("bob"),
        key_authority("carol")
    );
    let text = doc(
        "two-of-three",
        "**",
        &authorities,
        "  policy:\n    type: rego\n    data: |\n      package sigstore\n      default isCompliant = false\n      isCompliant { count(input.authorityMatches) >= 2 }\n",
    );
    let ps = cip::parse(&text, "p.yaml").unwrap();
    let img = "registry.example/app:1";
    let t = table(&[
        ("alice", true, "ok"),
        ("bob", false, "no-signatures"),
        ("carol", true, "ok"),
    ]);
    let d = eval::decide(&ps, img, None, NoMatch::Deny, &t);
    assert!(d.allowed, "{d:?}");
    assert_eq!(
        t.asked.borrow().len(),
        3,
        "every authority is checked for the policy"
    );
    let t = table(&[("alice", true, "ok")]);
    let d = eval::decide(&ps, img, None, NoMatch::Deny, &t);
    assert!(!d.allowed);
    assert!(
        d.errors[0].contains("the Rego policy two-of-three is not satisfied"),
        "{:?}",
        d.errors
    );

    // A CUE policy-level policy over the same input: authorityMatches must name alice.
    let cue = doc(
        "with-cue",
        "**",
        &format!("{}{}", key_authority("alice"), key_authority("bob")),
        "  policy:\n    type: cue\n    data: \"authorityMatches: alice: _\"\n",
    );
    let ps = cip::parse(&cue, "p.yaml").unwrap();
    let d = eval::decide(
        &ps,
        img,
        None,
        NoMatch::Deny,
        &table(&[("alice", true, "ok")]),
    );
    assert!(d.allowed, "{d:?}");
    let d = eval::decide(
        &ps,
        img,
        None,
        NoMatch::Deny,
        &table(&[("bob", true, "ok")]),
    );
    assert!(!d.allowed);
    assert!(
        d.errors[0]
            .contains("the CUE policy is not satisfied: authorityMatches.alice: is required"),
        "{:?}",
        d.errors
    );
    // A CUE policy with a construct outside the subset does not load: file, line, column.
    let bad = doc(
        "bad-cue",
        "**",
        "  - static: {action: pass}\n",
        "  policy:\n    type: cue\n    data: \"x: *1 | 2\"\n",
    );
    let e = cip::parse(&bad, "p.yaml").unwrap_err();
    assert!(
        e.to_string()
            .contains("spec.policy: CUE policy, line 1, column 4: defaults"),
        "{e}"
    );
}

#[test]
fn key_data_forms() {
    use cip::KeyData;
    assert!(matches!(cip::key_data(KEY), Ok(KeyData::Pem(_))));
    assert_eq!(
        cip::key_data("env://COSIGN_PUB"),
        Ok(KeyData::Env("COSIGN_PUB".into()))
    );
    assert_eq!(
        cip::key_data("keys/cosign.pub"),
        Ok(KeyData::File("keys/cosign.pub".into()))
    );
    assert!(cip::key_data("env://").is_err());
    assert!(cip::key_data("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
}

fn org(spec: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: OrgPolicy\nmetadata:\n  name: acme\nspec:\n{spec}"
    )
}

/// A checker that resolves every tag to one digest.
struct Resolving(Table, String);

impl Checker for Resolving {
    fn check(&self, image: &str, p: &Policy, a: &Authority) -> Checked {
        self.0.check(image, p, a)
    }
    fn resolve(&self, _: &str) -> Result<String, String> {
        Ok(self.1.clone())
    }
}

#[test]
fn org_rules_hold_for_every_image() {
    let bad = format!("sha256:{}", "b".repeat(64));
    let good = format!("sha256:{}", "a".repeat(64));
    let text = org(&format!(
        "  allowedRegistries: [registry.acme.example, ghcr.io/acme]\n  denyDigests: [\"{bad}\"]\n  authorities:\n{}{}{}  requireSignatures: 2\n",
        key_authority("alice"),
        key_authority("bob"),
        key_authority("carol")
    ));
    let set = cip::parse_set(&text, "org.yaml").unwrap();
    assert_eq!((set.cips.len(), set.orgs.len()), (0, 1));
    let two = || {
        table(&[
            ("alice", true, "ok"),
            ("carol", true, "ok"),
            ("bob", false, "no-signatures"),
        ])
    };
    let run = |image: &str, t: Table, digest: &str| {
        eval::decide_set(
            &set,
            image,
            None,
            NoMatch::Deny,
            &Resolving(t, digest.to_owned()),
        )
    };
    // Two of three signed, from an allowed registry, a digest not denied: allowed (no CIP
    // matches, and the OrgPolicy requiring signatures stands in for one).
    assert!(run("registry.acme.example/app:1", two(), &good).allowed);
    assert!(run("ghcr.io/acme/team/app:1", two(), &good).allowed);
    // Only one of three: denied, naming the count.
    let d = run(
        "registry.acme.example/app:1",
        table(&[("alice", true, "ok")]),
        &good,
    );
    assert!(!d.allowed);
    assert!(
        d.errors[0].contains("requireSignatures): 1 of the required 2 authorities passed"),
        "{:?}",
        d.errors
    );
    // Another registry, including a look-alike prefix.
    for image in ["docker.io/library/alpine:3", "ghcr.io/acme-evil/app:1"] {
        let d = run(image, two(), &good);
        assert!(
            d.errors[0].contains("allowedRegistries"),
            "{image}: {:?}",
            d.errors
        );
    }
    // The deny list, by the resolved digest and by a pinned one.
    let d = run("registry.acme.example/app:1", two(), &bad);
    assert!(
        d.errors[0].contains(&format!("digest {bad} is on the deny list")),
        "{:?}",
        d.errors
    );
    let d = run(&format!("registry.acme.example/app@{bad}"), two(), &good);
    assert!(!d.allowed);
    // A tag that cannot be resolved: denied, not passed.
    let d = eval::decide_set(
        &set,
        "registry.acme.example/app:1",
        None,
        NoMatch::Deny,
        &two(),
    );
    assert!(
        d.errors[0].contains("cannot resolve the tag"),
        "{:?}",
        d.errors
    );

    // Mutable references and namespaces.
    let set = cip::parse_set(
        &org("  denyMutableReferences: true\n  allowedNamespaces: [prod]\n"),
        "o.yaml",
    )
    .unwrap();
    let t = table(&[]);
    let d = eval::decide_set(
        &set,
        "registry.acme.example/app:1",
        None,
        NoMatch::Allow,
        &t,
    );
    assert!(
        d.errors[0].contains("not pinned by digest"),
        "{:?}",
        d.errors
    );
    let pinned = format!("registry.acme.example/app@{good}");
    assert!(eval::decide_set(&set, &pinned, None, NoMatch::Allow, &t).allowed);
    let ns = |n: &str| Resource {
        namespace: Some(n.into()),
        ..Default::default()
    };
    assert!(!eval::decide_set(&set, &pinned, Some(&ns("dev")), NoMatch::Allow, &t).allowed);
    assert!(eval::decide_set(&set, &pinned, Some(&ns("prod")), NoMatch::Allow, &t).allowed);
}

#[test]
fn org_documents_are_validated() {
    for (spec, want) in [
        (
            "  requireSignatures: 1\n",
            "spec.requireSignatures: must be between 1 and the 0 authorities",
        ),
        ("  denyDigests: [\"sha256:abc\"]\n", "spec.denyDigests[0]"),
        (
            "  requireAttestations: [slsaprovenance]\n",
            "needs authorities",
        ),
        (
            "  allowedRegistries: [\"ghcr.io/*\"]\n",
            "without wildcards",
        ),
        ("  denyTags: true\n", "unknown field `denyTags`"),
        (
            "  authorities: [{}]\n",
            "exactly one of key, keyless or static",
        ),
    ] {
        let e = cip::parse_set(&org(spec), "o.yaml").unwrap_err();
        assert!(e.to_string().contains(want), "{want:?} not in {e}");
    }
    // parse() reads ClusterImagePolicies only, and says so.
    assert!(
        cip::parse(&org("  denyMutableReferences: true\n"), "o.yaml")
            .unwrap_err()
            .to_string()
            .contains("OrgPolicy acme")
    );
}
