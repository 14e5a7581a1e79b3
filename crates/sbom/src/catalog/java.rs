//! Java: `pom.xml` (declared dependencies, properties substituted) and Gradle lockfiles.

use std::collections::HashMap;

use quick_xml::events::Event;

use super::{Ctx, ParseError, line_of};
use crate::{Ecosystem, Package, Scope, purl};

fn maven_package(group: &str, artifact: &str, version: &str) -> Package {
    Package::new(
        Ecosystem::Maven,
        &format!("{group}:{artifact}"),
        version,
        purl::build("maven", Some(group), artifact, version, &[]),
    )
}

#[derive(Default)]
struct Dep {
    group: String,
    artifact: String,
    version: String,
    scope: String,
    optional: String,
    /// A build plugin's dependency (build time only).
    plugin: bool,
}

const DEPENDENCY: &[&str] = &["project", "dependencies", "dependency"];
const PLUGIN_DEPENDENCY: &[&str] = &[
    "project",
    "build",
    "plugins",
    "plugin",
    "dependencies",
    "dependency",
];

pub(super) fn pom(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut props: HashMap<String, String> = HashMap::new();
    let mut deps: Vec<Dep> = Vec::new();
    let mut cur: Option<Dep> = None;
    let mut saw_project = false;
    loop {
        let at = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| ParseError::new(Some(line_of(text, at)), format!("malformed XML: {e}")))?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    saw_project = name == "project";
                }
                path.push(name);
                if path_is(&path, DEPENDENCY) || path_is(&path, PLUGIN_DEPENDENCY) {
                    cur = Some(Dep {
                        plugin: path.len() == PLUGIN_DEPENDENCY.len(),
                        ..Dep::default()
                    });
                }
            }
            Event::End(_) => {
                if path_is(&path, DEPENDENCY) || path_is(&path, PLUGIN_DEPENDENCY) {
                    deps.extend(cur.take());
                }
                path.pop();
            }
            Event::Text(t) => {
                let value = t.decode().map(|c| c.trim().to_owned()).unwrap_or_default();
                if value.is_empty() {
                    continue;
                }
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    ["project", "properties", k] => {
                        props.insert((*k).to_owned(), value);
                    }
                    ["project", field @ ("version" | "groupId" | "artifactId")] => {
                        props.insert(format!("project.{field}"), value);
                    }
                    ["project", "parent", field @ ("version" | "groupId")] => {
                        props.insert(format!("project.parent.{field}"), value.clone());
                        props.entry(format!("project.{field}")).or_insert(value);
                    }
                    [within @ .., field] if within == DEPENDENCY || within == PLUGIN_DEPENDENCY => {
                        if let Some(d) = cur.as_mut() {
                            match *field {
                                "groupId" => d.group = value,
                                "artifactId" => d.artifact = value,
                                "version" => d.version = value,
                                "scope" => d.scope = value,
                                "optional" => d.optional = value,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_project {
        return Err(ParseError::new(
            Some(1),
            "not a Maven POM (no <project> root)",
        ));
    }
    let subst = |s: &str| -> String {
        let mut out = s.to_owned();
        for _ in 0..5 {
            let Some(start) = out.find("${") else { break };
            let Some(len) = out[start..].find('}') else {
                break;
            };
            let key = &out[start + 2..start + len];
            match props.get(key) {
                Some(v) => out = format!("{}{}{}", &out[..start], v, &out[start + len + 1..]),
                None => break,
            }
        }
        out
    };
    Ok(deps
        .into_iter()
        .filter(|d| !d.artifact.is_empty())
        .map(|d| {
            let group = subst(&d.group);
            let version = subst(&d.version);
            // An unresolved property (from a parent POM we do not have) is no version.
            let version = if version.contains("${") {
                String::new()
            } else {
                version
            };
            let mut p = maven_package(&group, &subst(&d.artifact), &version);
            p.scope = match (d.scope.as_str(), d.optional.as_str()) {
                _ if d.plugin => Scope::Dev,
                ("test", _) => Scope::Dev,
                (_, "true") | ("provided", _) => Scope::Optional,
                _ => Scope::Required,
            };
            p
        })
        .collect())
}

fn path_is(path: &[String], want: &[&str]) -> bool {
    path.len() == want.len() && path.iter().zip(want).all(|(a, b)| a == b)
}

pub(super) fn gradle_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("empty=") {
            continue;
        }
        let (coords, confs) = line.split_once('=').unwrap_or((line, ""));
        let parts: Vec<&str> = coords.split(':').collect();
        let [group, artifact, version] = parts.as_slice() else {
            return Err(ParseError::new(
                Some(i + 1),
                format!("expected group:artifact:version=configurations, found {line:?}"),
            ));
        };
        let mut p = maven_package(group, artifact, version);
        let confs: Vec<&str> = confs.split(',').filter(|c| !c.is_empty()).collect();
        if !confs.is_empty()
            && confs
                .iter()
                .all(|c| c.to_ascii_lowercase().contains("test"))
        {
            p.scope = Scope::Dev;
        }
        out.push(p);
    }
    Ok(out)
}
