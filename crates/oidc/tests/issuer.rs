//! Tokens minted by a test OIDC issuer nobody here wrote the JWT code of (PyJWT and
//! cryptography, `tests/support/oidc_issuer.py`, served on loopback): accepted when they are
//! right, each wrong one refused with its specific reason, and the keys fetched once per key ID.

use std::time::Duration;

use sigil_oidc::{Issuer, OidcError, Verifier};

#[path = "../../../tests/support/oidc.rs"]
mod oidc;
use oidc::{TestIssuer, urlencode};

fn start() -> TestIssuer {
    TestIssuer::start()
}

fn get(url: &str) -> String {
    reqwest::blocking::get(url).unwrap().text().unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn tokens_are_verified_with_their_reasons() {
    let iss = start();
    let v = Verifier::new(vec![Issuer::new(&iss.url)])
        .unwrap()
        .with_refresh_after(Duration::from_millis(0));
    let token = |q: &str| get(&format!("{}/token?{q}", iss.url));

    // A Kubernetes service-account token's shape, ES256 and RS256.
    let claims =
        r#"{"kubernetes.io":{"namespace":"ci","serviceaccount":{"name":"builder","uid":"u-1"}}}"#;
    let t = v
        .verify(&token(&format!("claims={}", urlencode(claims))), now())
        .unwrap();
    assert_eq!(t.subject, "system:serviceaccount:ci:builder");
    assert_eq!(t.issuer, iss.url);
    assert_eq!(t.claims["kubernetes.io"]["namespace"], "ci");
    v.verify(&token("kid=r1"), now()).unwrap();

    let err = |q: &str| v.verify(&token(q), now()).unwrap_err();
    assert!(matches!(err("exp=-120"), OidcError::Expired { .. }));
    // Within the leeway (60 s) it is still good.
    v.verify(&token("exp=-30"), now()).unwrap();
    assert!(matches!(err("nbf=300"), OidcError::NotYetValid { .. }));
    assert!(matches!(err("aud=other"), OidcError::Audience { .. }));
    assert_eq!(err("alg=none"), OidcError::Algorithm("none".into()));
    assert_eq!(err("alg=HS256"), OidcError::Algorithm("HS256".into()));
    assert_eq!(err("kid=nobody"), OidcError::UnknownKey("nobody".into()));
    assert_eq!(
        err("iss=https%3A%2F%2Fother.example"),
        OidcError::UnknownIssuer("https://other.example".into())
    );
    // Another token's payload under this one's signature.
    let good = token("");
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = token("sub=someone-else");
    parts[1] = other.split('.').nth(1).unwrap();
    assert_eq!(
        v.verify(&parts.join("."), now()).unwrap_err(),
        OidcError::Signature
    );
    assert!(matches!(
        v.verify("not-a-jwt", now()).unwrap_err(),
        OidcError::Malformed(_)
    ));

    // A rotated key is fetched when a token names it.
    get(&format!("{}/rotate", iss.url));
    v.verify(&token("kid=k2"), now()).unwrap();

    // Discovery that names another issuer is refused.
    let mismatch = format!("{}/mismatch", iss.url);
    let v2 = Verifier::new(vec![Issuer::new(&mismatch)]).unwrap();
    let t = token(&format!("iss={}", urlencode(&mismatch)));
    assert!(matches!(
        v2.verify(&t, now()).unwrap_err(),
        OidcError::DiscoveryMismatch { .. }
    ));
}

#[test]
fn one_discovery_and_one_jwks_fetch_per_key_id() {
    let iss = start();
    let v = Verifier::new(vec![Issuer::new(&iss.url)]).unwrap();
    let tokens: Vec<String> = (0..20)
        .map(|i| get(&format!("{}/token?sub=s{i}", iss.url)))
        .collect();
    for t in &tokens {
        v.verify(t, now()).unwrap();
    }
    let stats: serde_json::Value =
        serde_json::from_str(&get(&format!("{}/stats", iss.url))).unwrap();
    assert_eq!(
        (stats["discovery"].as_u64(), stats["jwks"].as_u64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    // Unknown key IDs do not hammer the issuer: one refetch per refresh interval (10 s).
    for _ in 0..5 {
        let t = get(&format!("{}/token?kid=unknown", iss.url));
        assert!(matches!(v.verify(&t, now()), Err(OidcError::UnknownKey(_))));
    }
    let stats: serde_json::Value =
        serde_json::from_str(&get(&format!("{}/stats", iss.url))).unwrap();
    assert!(stats["jwks"].as_u64().unwrap() <= 2, "{stats}");
}

#[test]
fn inline_keys_and_configuration_errors() {
    let iss = start();
    let jwks = sigil_oidc::Jwks::parse(get(&format!("{}/jwks", iss.url)).as_bytes()).unwrap();
    // Inline keys: no discovery at all, even for an issuer URL that cannot be reached.
    let mut offline = Issuer::new("https://issuer.invalid");
    offline.jwks = Some(jwks);
    let v = Verifier::new(vec![offline]).unwrap();
    let t = get(&format!(
        "{}/token?iss=https%3A%2F%2Fissuer.invalid",
        iss.url
    ));
    v.verify(&t, now()).unwrap();
    // http issuers only on loopback.
    assert!(matches!(
        Verifier::new(vec![Issuer::new("http://issuer.example")]),
        Err(OidcError::Config(_))
    ));
}
