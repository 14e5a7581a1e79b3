//! Package URLs (<https://github.com/package-url/purl-spec>): `pkg:type/namespace/name@version?qualifiers`.

use std::fmt::Write;

/// Percent-encodes everything outside `A-Z a-z 0-9 . - _ ~` (and `:` where the spec keeps it).
fn encode(out: &mut String, s: &str, keep_colon: bool) {
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'-' | b'_' | b'~')
            || (keep_colon && b == b':');
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Builds a purl. `namespace` may hold several `/`-separated segments (Go module paths, Maven
/// groups are one segment); each segment is encoded on its own. Qualifiers with empty values
/// are left out, the rest are sorted by key as the spec requires.
pub fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = String::with_capacity(16 + name.len() + version.len());
    out.push_str("pkg:");
    out.push_str(ty);
    out.push('/');
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for seg in ns.split('/').filter(|s| !s.is_empty()) {
            encode(&mut out, seg, false);
            out.push('/');
        }
    }
    encode(&mut out, name, false);
    if !version.is_empty() {
        out.push('@');
        encode(&mut out, version, true);
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        encode(&mut out, v, true);
    }
    out
}

/// A PyPI name as the purl spec normalises it: lower case, runs of `-_.` become `-`.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Splits `@scope/name` (npm) into namespace and name.
pub fn npm_parts(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    }
}

/// Splits a Go module path into namespace (all but the last segment) and name.
pub fn go_parts(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            build("npm", Some("@angular"), "animation", "12.3.1", &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "base-files",
                "12.4+deb12u15",
                &[("distro", "debian-12"), ("arch", "amd64")]
            ),
            "pkg:deb/debian/base-files@12.4%2Bdeb12u15?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            build(
                "golang",
                Some("github.com/gorilla"),
                "context",
                "v1.1.1",
                &[]
            ),
            "pkg:golang/github.com/gorilla/context@v1.1.1"
        );
        assert_eq!(
            build("deb", Some("debian"), "curl", "1:7.8", &[("epoch", "")]),
            "pkg:deb/debian/curl@1:7.8"
        );
        assert_eq!(pypi_name("Django_Rest.Framework"), "django-rest-framework");
    }
}
