//! The claim templates of Fulcio's `ci-issuer-metadata`: a value without `{{` names a claim
//! (or a default) whose value is used as is; otherwise the text is a Go `text/template` of
//! which Fulcio's configurations use `{{ .name }}` and `{{if eq .name "literal"}}…{{ else
//! }}…{{end}}`: that subset is what is read here, and anything else is refused when the
//! configuration loads. A name neither in the claims nor in the defaults is an error, as in
//! Fulcio (`missingkey=error`).

use std::collections::BTreeMap;

/// A template that could not be read or could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Not the supported subset.
    #[error("template {template:?}: {reason}")]
    Syntax {
        /// The template.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// A name neither the token's claims nor the defaults hold.
    #[error("the token has no claim {0:?} (and the issuer sets no default)")]
    Missing(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Field(String),
    IfEq {
        field: String,
        literal: String,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

enum Token {
    Text(String),
    Action(String),
}

fn tokens(source: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Token::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("an action is not closed with }}")?;
        out.push(Token::Action(after[..end].trim().to_owned()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Token::Text(rest.to_owned()));
    }
    Ok(out)
}

fn field(action: &str) -> Result<String, String> {
    let name = action
        .strip_prefix('.')
        .ok_or_else(|| format!("{{{{ {action} }}}}: only .name, if eq and else/end are read"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("{{{{ {action} }}}}: not a field name"));
    }
    Ok(name.to_owned())
}

/// Parses nodes until `else`/`end` (returned) or the end of input.
fn parse_nodes(
    toks: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
    depth: usize,
) -> Result<(Vec<Node>, Option<String>), String> {
    if depth > 8 {
        return Err("if nested too deeply".into());
    }
    let mut nodes = Vec::new();
    while let Some(t) = toks.next() {
        match t {
            Token::Text(s) => nodes.push(Node::Text(s)),
            Token::Action(a) if a == "else" || a == "end" => return Ok((nodes, Some(a))),
            Token::Action(a) if a.starts_with("if ") => {
                let cond: Vec<&str> = a["if ".len()..].split_whitespace().collect();
                let [eq, f, lit] = cond.as_slice() else {
                    return Err(format!(
                        "{{{{ {a} }}}}: only if eq .name \"literal\" is read"
                    ));
                };
                let literal = lit
                    .strip_prefix('"')
                    .and_then(|l| l.strip_suffix('"'))
                    .filter(|l| !l.contains(['"', '\\']));
                let (true, Some(literal)) = (*eq == "eq", literal) else {
                    return Err(format!(
                        "{{{{ {a} }}}}: only if eq .name \"literal\" is read"
                    ));
                };
                let field = field(f)?;
                let (then, stop) = parse_nodes(toks, depth + 1)?;
                let otherwise = match stop.as_deref() {
                    Some("else") => {
                        let (o, stop) = parse_nodes(toks, depth + 1)?;
                        if stop.as_deref() != Some("end") {
                            return Err("an else is not followed by end".into());
                        }
                        o
                    }
                    Some("end") => Vec::new(),
                    _ => return Err("an if is not closed with end".into()),
                };
                nodes.push(Node::IfEq {
                    field,
                    literal: literal.to_owned(),
                    then,
                    otherwise,
                });
            }
            Token::Action(a) => nodes.push(Node::Field(field(&a)?)),
        }
    }
    Ok((nodes, None))
}

impl Template {
    /// Reads `source`: a claim name, or a template of the supported subset.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let syntax = |reason: String| TemplateError::Syntax {
            template: source.to_owned(),
            reason,
        };
        let nodes = if source.contains("{{") {
            let mut toks = tokens(source).map_err(syntax)?.into_iter().peekable();
            let (nodes, stop) = parse_nodes(&mut toks, 0).map_err(syntax)?;
            if let Some(s) = stop {
                return Err(syntax(format!("{{{{ {s} }}}} without an if")));
            }
            nodes
        } else {
            vec![Node::Field(source.to_owned())]
        };
        Ok(Self {
            source: source.to_owned(),
            nodes,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Applies the template to `values` (the defaults overlaid with the token's claims).
    pub fn apply(&self, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        let mut out = String::new();
        render(&self.nodes, values, &mut out)?;
        Ok(out)
    }
}

fn render(
    nodes: &[Node],
    values: &BTreeMap<String, String>,
    out: &mut String,
) -> Result<(), TemplateError> {
    let get = |f: &str| {
        values
            .get(f)
            .ok_or_else(|| TemplateError::Missing(f.to_owned()))
    };
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Field(f) => out.push_str(get(f)?),
            Node::IfEq {
                field,
                literal,
                then,
                otherwise,
            } => {
                let branch = if get(field)? == literal {
                    then
                } else {
                    otherwise
                };
                render(branch, values, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn claim_names_fields_and_if_eq() {
        let v = values(&[
            ("url", "https://gitlab.example"),
            ("ref_type", "branch"),
            ("ref", "main"),
            ("sha", "abc"),
        ]);
        assert_eq!(Template::parse("sha").unwrap().apply(&v).unwrap(), "abc");
        let t = Template::parse(
            r#"refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}"#,
        )
        .unwrap();
        assert_eq!(t.apply(&v).unwrap(), "refs/heads/main");
        let mut tag = v.clone();
        tag.insert("ref_type".into(), "tag".into());
        assert_eq!(t.apply(&tag).unwrap(), "refs/tags/main");
        assert_eq!(
            Template::parse("{{ .url }}/{{ .missing }}")
                .unwrap()
                .apply(&v),
            Err(TemplateError::Missing("missing".into()))
        );
        assert_eq!(
            Template::parse("nope").unwrap().apply(&v),
            Err(TemplateError::Missing("nope".into()))
        );
    }

    #[test]
    fn outside_the_subset_is_refused_at_load() {
        for bad in [
            "{{ .a ",
            "{{ printf \"%s\" .a }}",
            "{{if .a}}x{{end}}",
            "{{if eq .a \"b\"}}x",
            "x{{ end }}",
            "{{ .a.b }}",
        ] {
            assert!(
                matches!(Template::parse(bad), Err(TemplateError::Syntax { .. })),
                "{bad}"
            );
        }
    }
}
