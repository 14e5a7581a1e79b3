//! `Gemfile.lock`: the specs of its GEM, GIT and PATH sections, with their dependencies.

use std::collections::HashMap;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Package, purl};

/// `1.13.0-x86_64-linux` → (`1.13.0`, `x86_64-linux`): gem versions have no `-`, so what
/// follows one is the platform.
fn version_platform(v: &str) -> (&str, &str) {
    v.split_once('-').unwrap_or((v, ""))
}

fn gem_purl(name: &str, v: &str) -> String {
    let (ver, platform) = version_platform(v);
    purl::build("gem", None, name, ver, &[("platform", platform)])
}

pub(super) fn gemfile_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut in_specs = false;
    let mut specs: Vec<(String, String, Vec<String>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if indent == 0 {
            in_specs = false;
            continue;
        }
        if indent == 2 {
            in_specs = body == "specs:";
            continue;
        }
        if !in_specs {
            continue;
        }
        let (name, paren) = match body.split_once(' ') {
            Some((n, rest)) => (n, Some(rest)),
            None => (body, None),
        };
        match indent {
            4 => {
                let Some(v) = paren
                    .and_then(|p| p.strip_prefix('('))
                    .and_then(|p| p.strip_suffix(')'))
                else {
                    return Err(ParseError::new(
                        Some(i + 1),
                        format!("expected 'name (version)', found {body:?}"),
                    ));
                };
                specs.push((name.to_owned(), v.to_owned(), Vec::new()));
            }
            6 => {
                if let Some(s) = specs.last_mut() {
                    s.2.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    let by_name: HashMap<&str, &str> = specs
        .iter()
        .map(|(n, v, _)| (n.as_str(), v.as_str()))
        .collect();
    Ok(specs
        .iter()
        .map(|(name, v, deps)| {
            let (ver, _) = version_platform(v);
            let mut p = Package::new(Ecosystem::Gem, name, ver, gem_purl(name, v));
            p.download = Some(format!("https://rubygems.org/gems/{name}-{v}.gem"));
            p.depends_on = deps
                .iter()
                .filter_map(|d| by_name.get(d.as_str()).map(|dv| gem_purl(d, dv)))
                .collect();
            p
        })
        .collect())
}
