//! `go.mod`, with the `go.sum` beside it.
//!
//! With a `go.sum`, the packages are the module versions it holds content hashes for (what
//! the build downloads; `/go.mod`-only lines are left out); `go.mod` tells which are direct.
//! Without one, the `require`d modules (after `replace`) are the packages.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ctx, ParseError};
use crate::{Ecosystem, Package, purl};

fn go_purl(module: &str, version: &str) -> String {
    let (ns, n) = purl::go_parts(module);
    purl::build("golang", ns, n, version, &[])
}

struct GoMod {
    requires: Vec<(String, String, bool, usize)>,
    replaces: BTreeMap<String, (String, String)>,
}

fn parse_go_mod(text: &str) -> Result<GoMod, ParseError> {
    let mut m = GoMod {
        requires: Vec::new(),
        replaces: BTreeMap::new(),
    };
    let mut block: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let (code, comment) = match raw.find("//") {
            Some(c) => (&raw[..c], &raw[c + 2..]),
            None => (raw, ""),
        };
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let indirect = comment.trim().starts_with("indirect");
        let (verb, rest) = match block {
            Some(b) => {
                if code == ")" {
                    block = None;
                    continue;
                }
                (b, code)
            }
            None => {
                let (verb, rest) = code.split_once(char::is_whitespace).unwrap_or((code, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(match verb {
                        "require" => "require",
                        "replace" => "replace",
                        "exclude" => "exclude",
                        "retract" => "retract",
                        "tool" => "tool",
                        "godebug" => "godebug",
                        "ignore" => "ignore",
                        _ => {
                            return Err(ParseError::new(
                                Some(i + 1),
                                format!("unknown block {verb:?}"),
                            ));
                        }
                    });
                    continue;
                }
                (verb, rest)
            }
        };
        let unq = |s: &str| s.trim_matches('"').to_owned();
        match verb {
            "require" => {
                let mut f = rest.split_whitespace();
                let (Some(path), Some(ver)) = (f.next(), f.next()) else {
                    return Err(ParseError::new(
                        Some(i + 1),
                        format!("require needs a module and a version: {rest:?}"),
                    ));
                };
                m.requires.push((unq(path), unq(ver), indirect, i + 1));
            }
            "replace" => {
                let Some((from, to)) = rest.split_once("=>") else {
                    return Err(ParseError::new(Some(i + 1), "replace needs '=>'"));
                };
                let from = from.split_whitespace().next().unwrap_or("");
                let mut t = to.split_whitespace();
                let target = t.next().unwrap_or("");
                let ver = t.next().unwrap_or("");
                m.replaces.insert(unq(from), (unq(target), unq(ver)));
            }
            "module" | "go" | "toolchain" | "exclude" | "retract" | "tool" | "godebug"
            | "ignore" => {}
            other => {
                return Err(ParseError::new(
                    Some(i + 1),
                    format!("unknown directive {other:?}"),
                ));
            }
        }
    }
    Ok(m)
}

pub(super) fn go_mod(ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let m = parse_go_mod(text)?;
    let sum_path = format!("{}go.sum", ctx.dir());
    let sum = ctx.tree.read(&sum_path).ok().flatten();
    let mut out = Vec::new();
    match sum {
        Some(sum) => {
            let sum = String::from_utf8_lossy(&sum);
            let mut seen = BTreeSet::new();
            for line in sum.lines() {
                let mut f = line.split_whitespace();
                let (Some(module), Some(ver)) = (f.next(), f.next()) else {
                    continue;
                };
                if ver.ends_with("/go.mod") || !seen.insert((module, ver)) {
                    continue;
                }
                let mut p = Package::new(Ecosystem::Go, module, ver, go_purl(module, ver));
                p.locations = vec![ctx.path.to_owned(), sum_path.clone()];
                out.push(p);
            }
        }
        None => {
            for (path, ver, _, _) in &m.requires {
                let (path, ver) = match m.replaces.get(path) {
                    // A local directory replacement has no version; keep the required one.
                    Some((to, v)) if !v.is_empty() => (to.as_str(), v.as_str()),
                    _ => (path.as_str(), ver.as_str()),
                };
                out.push(Package::new(Ecosystem::Go, path, ver, go_purl(path, ver)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_mod() {
        let m = parse_go_mod(
            "module x\n\ngo 1.22\n\nrequire (\n\tgithub.com/a/b v1.0.0\n\tgolang.org/x/c v0.1.0 // indirect\n)\nrequire d.io/e v2.0.0+incompatible\nreplace github.com/a/b => github.com/f/b v1.0.1\n",
        )
        .unwrap();
        assert_eq!(m.requires.len(), 3);
        assert!(m.requires[1].2);
        assert_eq!(m.replaces["github.com/a/b"].1, "v1.0.1");
        let e = parse_go_mod("module x\nfrobnicate y\n").err().unwrap();
        assert_eq!(e.line, Some(2));
        assert_eq!(
            go_purl("github.com/gorilla/context", "v1.1.1"),
            "pkg:golang/github.com/gorilla/context@v1.1.1"
        );
    }
}
