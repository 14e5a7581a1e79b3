//! The subset of CUE that policy-controller users write, evaluated over a JSON document (an
//! attestation's statement, or `authorityMatches`). No maintained pure-Rust CUE evaluator
//! exists; this one reads:
//!
//! - struct literals `{ a: …, "b-c": … }`, fields at the top level, nested shorthand
//!   `predicate: builder: id: …`, a `package` clause (ignored), `//` comments;
//! - concrete values: strings (JSON escapes), numbers, `true`, `false`, `null`;
//! - types `string`, `int`, `number`, `bool`, `bytes`, `null`, and `_` (anything);
//! - regular expressions `=~"…"` and `!~"…"`; bounds `<`, `<=`, `>`, `>=` (numbers or strings);
//! - disjunctions `a | b`, conjunctions `a & b`, parentheses;
//! - lists `[a, b]` (exactly those elements), `[...a]` (any number of `a`), `[a, ...]`.
//!
//! Anything else (definitions, references, comprehensions, interpolation, defaults, imports,
//! builtins, attributes, multi-line and raw strings) is refused with the construct, line and
//! column. Structs are open, as in CUE: fields the policy does not name may be present. Unlike
//! cosign's `cue.Final()` validation, a field the policy constrains must be present in the
//! document (a provenance without `builder.id` does not pass `builder: id: =~…`): the policy
//! decides, never what the evidence happens to lack.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value;

/// Largest policy text.
pub const MAX_CUE_LEN: usize = 256 * 1024;
/// Deepest nesting of a policy.
pub const MAX_DEPTH: usize = 64;

/// Why a CUE policy does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CUE policy, line {line}, column {column}: {what}")]
pub struct CueError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong (the unsupported construct, or the syntax error).
    pub what: String,
}

/// Why a document does not satisfy a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {what}")]
pub struct Violation {
    /// Where in the document (`predicate.builder.id`, `subject[0].name`, `.` for the root).
    pub path: String,
    /// What is wrong.
    pub what: String,
}

#[derive(Debug, Clone)]
enum Expr {
    Top,
    Type(&'static str),
    Lit(Value),
    Match(Regex, bool),
    Bound(&'static str, Value),
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Struct(Vec<(String, Expr)>),
    List(Vec<Expr>, Option<Box<Expr>>),
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy(Expr);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64, String),
    Punct(&'static str),
    Newline,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    col: usize,
}

fn err(line: usize, column: usize, what: impl Into<String>) -> CueError {
    CueError {
        line,
        column,
        what: what.into(),
    }
}

impl<'a> Lexer<'a> {
    fn tokens(src: &'a str) -> Result<Vec<(Tok, usize, usize)>, CueError> {
        let mut l = Lexer {
            src,
            pos: 0,
            line: 1,
            col: 1,
        };
        let mut out = Vec::new();
        while let Some(c) = l.peek() {
            let (line, col) = (l.line, l.col);
            match c {
                '\n' => {
                    l.bump();
                    out.push((Tok::Newline, line, col));
                }
                ' ' | '\t' | '\r' => {
                    l.bump();
                }
                '/' if l.rest().starts_with("//") => {
                    while l.peek().is_some_and(|c| c != '\n') {
                        l.bump();
                    }
                }
                '"' => {
                    if l.rest().starts_with("\"\"\"") {
                        return Err(err(line, col, "multi-line strings are not supported"));
                    }
                    out.push((Tok::Str(l.string()?), line, col));
                }
                '*' => return Err(err(line, col, "defaults `*value` are not supported")),
                '#' | '\'' => {
                    return Err(err(
                        line,
                        col,
                        format!("`{c}` (definitions, raw or byte strings) is not supported"),
                    ));
                }
                c if c.is_ascii_digit()
                    || (c == '-' && l.rest()[1..].starts_with(|d: char| d.is_ascii_digit())) =>
                {
                    let start = l.pos;
                    l.bump();
                    while l.peek().is_some_and(|c| {
                        c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')
                    }) {
                        l.bump();
                    }
                    let text = &src[start..l.pos];
                    let n: f64 = text
                        .parse()
                        .map_err(|_| err(line, col, format!("`{text}` is not a number")))?;
                    out.push((Tok::Num(n, text.to_owned()), line, col));
                }
                c if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                    let start = l.pos;
                    while l
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                    {
                        l.bump();
                    }
                    out.push((Tok::Ident(src[start..l.pos].to_owned()), line, col));
                }
                _ => {
                    let ops: [&'static str; 20] = [
                        "...", "=~", "!~", "<=", ">=", "==", "!=", "<", ">", "{", "}", "[", "]",
                        "(", ")", ":", ",", "|", "&", "?",
                    ];
                    let Some(op) = ops.iter().find(|o| l.rest().starts_with(**o)) else {
                        return Err(err(line, col, format!("`{c}` is not supported here")));
                    };
                    for _ in 0..op.len() {
                        l.bump();
                    }
                    out.push((Tok::Punct(op), line, col));
                }
            }
        }
        Ok(out)
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }

    /// A double-quoted string with JSON's escapes (CUE's `\(…)` interpolation refused).
    fn string(&mut self) -> Result<String, CueError> {
        let (line, col) = (self.line, self.col);
        let start = self.pos;
        self.bump();
        loop {
            match self.peek() {
                None | Some('\n') => return Err(err(line, col, "unterminated string")),
                Some('\\') => {
                    if self.rest().starts_with("\\(") {
                        return Err(err(
                            self.line,
                            self.col,
                            "string interpolation `\\(…)` is not supported",
                        ));
                    }
                    self.bump();
                    self.bump();
                }
                Some('"') => {
                    self.bump();
                    break;
                }
                Some(_) => self.bump(),
            }
        }
        serde_json::from_str(&self.src[start..self.pos])
            .map_err(|e| err(line, col, format!("bad string: {e}")))
    }
}

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn here(&self) -> (usize, usize) {
        self.toks
            .get(self.i)
            .or(self.toks.last())
            .map_or((1, 1), |t| (t.1, t.2))
    }

    fn fail<T>(&self, what: impl Into<String>) -> Result<T, CueError> {
        let (l, c) = self.here();
        Err(err(l, c, what))
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.i += 1;
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), CueError> {
        if self.eat(p) {
            Ok(())
        } else {
            self.fail(format!("expected `{p}`"))
        }
    }

    /// Fields until `end` (`}`) or the end of input.
    fn fields(&mut self, closing: bool) -> Result<Vec<(String, Expr)>, CueError> {
        let mut out = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek() {
                None if !closing => return Ok(out),
                None => return self.fail("expected `}`"),
                Some(Tok::Punct("}")) if closing => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            if !closing && out.is_empty() && self.peek() == Some(&Tok::Ident("package".into())) {
                self.i += 1;
                if !matches!(self.peek(), Some(Tok::Ident(_))) {
                    return self.fail("expected a package name");
                }
                self.i += 1;
                continue;
            }
            if matches!(self.peek(), Some(Tok::Ident(i)) if i == "import") {
                return self.fail("imports are not supported");
            }
            out.push(self.field()?);
            // A field ends at a comma, a newline, or the closing brace.
            if !self.eat(",") {
                match self.peek() {
                    Some(Tok::Newline) | None => {}
                    Some(Tok::Punct("}")) if closing => {}
                    _ => return self.fail("expected a new line or `,` after a field"),
                }
            }
        }
    }

    fn label(&mut self) -> Result<String, CueError> {
        let l = match self.peek() {
            Some(Tok::Ident(i)) => i.clone(),
            Some(Tok::Str(s)) => s.clone(),
            Some(Tok::Punct("[")) => {
                return self.fail("pattern constraints `[…]: …` are not supported");
            }
            Some(Tok::Punct("(")) => return self.fail("dynamic fields `(…): …` are not supported"),
            _ => return self.fail("expected a field name"),
        };
        self.i += 1;
        if self.eat("?") {
            return self.fail("optional fields `name?:` are not supported");
        }
        if matches!(self.peek(), Some(Tok::Punct("!"))) {
            return self.fail("required-field markers are not supported");
        }
        Ok(l)
    }

    fn field(&mut self) -> Result<(String, Expr), CueError> {
        let label = self.label()?;
        self.expect(":")?;
        // `a: b: c: expr` shorthand: a label followed by `:` is a nested field.
        let save = self.i;
        if matches!(self.peek(), Some(Tok::Ident(_)) | Some(Tok::Str(_))) {
            let is_type =
                matches!(self.peek(), Some(Tok::Ident(i)) if KEYWORDS.contains(&i.as_str()));
            self.i += 1;
            let nested = !is_type && self.peek() == Some(&Tok::Punct(":"));
            self.i = save;
            if nested {
                let inner = self.field()?;
                return Ok((label, Expr::Struct(vec![inner])));
            }
        }
        Ok((label, self.expr()?))
    }

    fn expr(&mut self) -> Result<Expr, CueError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH}"));
        }
        let mut alts = vec![self.conj()?];
        while self.eat("|") {
            alts.push(self.conj()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Expr::Or(alts)
        })
    }

    fn conj(&mut self) -> Result<Expr, CueError> {
        let mut all = vec![self.unary()?];
        while self.eat("&") {
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }

    fn unary(&mut self) -> Result<Expr, CueError> {
        let (line, col) = self.here();
        let Some(tok) = self.peek().cloned() else {
            return self.fail("expected a value");
        };
        self.i += 1;
        Ok(match tok {
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Num(n, text) => Expr::Lit(number(n, &text)),
            Tok::Ident(i) => match i.as_str() {
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "null" => Expr::Lit(Value::Null),
                "_" => Expr::Top,
                "string" | "int" | "number" | "bool" | "bytes" => Expr::Type(
                    KEYWORDS
                        .iter()
                        .find(|k| **k == i)
                        .copied()
                        .unwrap_or("string"),
                ),
                other => {
                    return Err(err(
                        line,
                        col,
                        format!("references and builtins (`{other}`) are not supported"),
                    ));
                }
            },
            Tok::Punct(p @ ("=~" | "!~")) => match self.peek().cloned() {
                Some(Tok::Str(s)) => {
                    self.i += 1;
                    let re = Regex::new(&s)
                        .map_err(|e| err(line, col, format!("bad regular expression: {e}")))?;
                    Expr::Match(re, p == "=~")
                }
                _ => return Err(err(line, col, format!("`{p}` takes a string"))),
            },
            Tok::Punct(p @ ("<" | "<=" | ">" | ">=")) => match self.peek().cloned() {
                Some(Tok::Num(n, text)) => {
                    self.i += 1;
                    Expr::Bound(p, number(n, &text))
                }
                Some(Tok::Str(s)) => {
                    self.i += 1;
                    Expr::Bound(p, Value::String(s))
                }
                _ => return Err(err(line, col, format!("`{p}` takes a number or a string"))),
            },
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Punct("{") => Expr::Struct(self.fields(true)?),
            Tok::Punct("[") => self.list()?,
            Tok::Punct("*") => return Err(err(line, col, "defaults `*value` are not supported")),
            Tok::Punct(p) => return Err(err(line, col, format!("`{p}` is not supported here"))),
            Tok::Newline => return Err(err(line, col, "expected a value")),
        })
    }

    fn list(&mut self) -> Result<Expr, CueError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat("]") {
                return Ok(Expr::List(items, None));
            }
            if self.eat("...") {
                self.skip_newlines();
                let rest = if self.peek() == Some(&Tok::Punct("]")) {
                    Expr::Top
                } else {
                    self.expr()?
                };
                self.skip_newlines();
                self.expect("]")?;
                return Ok(Expr::List(items, Some(Box::new(rest))));
            }
            items.push(self.expr()?);
            self.skip_newlines();
            if !self.eat(",") {
                self.skip_newlines();
                self.expect("]")?;
                return Ok(Expr::List(items, None));
            }
        }
    }
}

const KEYWORDS: [&str; 5] = ["string", "int", "number", "bool", "bytes"];

fn number(n: f64, text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
}

impl Policy {
    /// Parses a policy.
    pub fn parse(text: &str) -> Result<Self, CueError> {
        if text.len() > MAX_CUE_LEN {
            return Err(err(1, 1, format!("the policy is over {MAX_CUE_LEN} bytes")));
        }
        let toks = Lexer::tokens(text)?;
        let mut p = Parser {
            toks,
            i: 0,
            depth: 0,
        };
        Ok(Self(Expr::Struct(p.fields(false)?)))
    }

    /// Checks `doc` against the policy.
    pub fn check(&self, doc: &Value) -> Result<(), Violation> {
        check(&self.0, doc, ".")
    }
}

fn child(path: &str, label: &str) -> String {
    if path == "." {
        label.to_owned()
    } else {
        format!("{path}.{label}")
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(77).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn check(e: &Expr, v: &Value, path: &str) -> Result<(), Violation> {
    let bad = |what: String| {
        Err(Violation {
            path: path.to_owned(),
            what,
        })
    };
    match e {
        Expr::Top => Ok(()),
        Expr::Type(t) => {
            let ok = match *t {
                "string" | "bytes" => v.is_string(),
                "int" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
                "number" => v.is_number(),
                "bool" => v.is_boolean(),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                bad(format!("{} is not of type {t}", describe(v)))
            }
        }
        Expr::Lit(l) => {
            let equal = match (l, v) {
                (Value::Number(_), Value::Number(_)) => compare(l, v) == Some(Ordering::Equal),
                _ => l == v,
            };
            if equal {
                Ok(())
            } else {
                bad(format!("{} is not {}", describe(v), describe(l)))
            }
        }
        Expr::Match(re, want) => match v.as_str() {
            Some(s) if re.is_match(s) == *want => Ok(()),
            Some(_) => bad(format!(
                "{} {} {}",
                describe(v),
                if *want { "does not match" } else { "matches" },
                describe(&Value::String(re.as_str().to_owned()))
            )),
            None => bad(format!("{} is not a string", describe(v))),
        },
        Expr::Bound(op, b) => {
            let Some(ord) = compare(v, b) else {
                return bad(format!(
                    "{} cannot be compared with {}",
                    describe(v),
                    describe(b)
                ));
            };
            let ok = match *op {
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                ">" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            };
            if ok {
                Ok(())
            } else {
                bad(format!("{} is not {op} {}", describe(v), describe(b)))
            }
        }
        Expr::Or(alts) => {
            let mut first = None;
            for a in alts {
                match check(a, v, path) {
                    Ok(()) => return Ok(()),
                    Err(x) => {
                        first.get_or_insert(x);
                    }
                }
            }
            Err(first.map_or_else(
                || Violation {
                    path: path.to_owned(),
                    what: "no alternative".into(),
                },
                |f| Violation {
                    path: f.path,
                    what: format!("no alternative matches ({})", f.what),
                },
            ))
        }
        Expr::And(all) => all.iter().try_for_each(|a| check(a, v, path)),
        Expr::Struct(fields) => {
            let Some(obj) = v.as_object() else {
                return bad(format!("{} is not a struct", describe(v)));
            };
            for (label, e) in fields {
                let p = child(path, label);
                match obj.get(label) {
                    Some(x) => check(e, x, &p)?,
                    None => {
                        return Err(Violation {
                            path: p,
                            what: "is required by the policy and absent".into(),
                        });
                    }
                }
            }
            Ok(())
        }
        Expr::List(items, rest) => {
            let Some(arr) = v.as_array() else {
                return bad(format!("{} is not a list", describe(v)));
            };
            if arr.len() < items.len() || (rest.is_none() && arr.len() != items.len()) {
                return bad(format!(
                    "the list has {} elements, the policy {} {}",
                    arr.len(),
                    if rest.is_some() {
                        "needs at least"
                    } else {
                        "needs exactly"
                    },
                    items.len()
                ));
            }
            for (i, x) in arr.iter().enumerate() {
                let p = format!("{path}[{i}]");
                match items.get(i) {
                    Some(e) => check(e, x, &p)?,
                    None => {
                        if let Some(r) = rest {
                            check(r, x, &p)?;
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(builder: Value) -> Value {
        json!({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
               "subject": [{"name": "app", "digest": {"sha256": "ab"}}],
               "predicate": {"builder": builder, "buildType": "tekton", "invocation": {"parameters": {"replicas": 3}}}})
    }

    /// The issue's seed workload.
    #[test]
    fn slsa_provenance_from_the_organisations_builder() {
        let p = Policy::parse(
            "predicateType: \"https://slsa.dev/provenance/v0.2\"\npredicate: builder: id: =~\"https://tekton.example/chains/\"\n",
        )
        .unwrap();
        assert_eq!(
            p.check(&statement(
                json!({"id": "https://tekton.example/chains/v2"})
            )),
            Ok(())
        );
        let e = p
            .check(&statement(json!({"id": "https://evil.example/"})))
            .unwrap_err();
        assert_eq!(e.path, "predicate.builder.id");
        assert!(e.what.contains("does not match"), "{e}");
        let e = p.check(&statement(json!({}))).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.what.as_str()),
            (
                "predicate.builder.id",
                "is required by the policy and absent"
            )
        );
        let mut other = statement(json!({"id": "https://tekton.example/chains/v2"}));
        other["predicateType"] = json!("https://slsa.dev/provenance/v1");
        assert_eq!(p.check(&other).unwrap_err().path, "predicateType");
    }

    #[test]
    fn types_bounds_disjunctions_lists() {
        let p = Policy::parse(
            r#"
package sigstore
// comments are fine
predicate: {
    buildType: "tekton" | "github"
    invocation: parameters: replicas: int & >=1 & <=5
}
subject: [...{name: string, digest: sha256: =~"^[a-f0-9]+$"}]
_type: !~"Statement/v9"
"#,
        )
        .unwrap();
        let ok = statement(json!({"id": "x"}));
        assert_eq!(p.check(&ok), Ok(()));
        let mut v = ok.clone();
        v["predicate"]["invocation"]["parameters"]["replicas"] = json!(9);
        assert!(p.check(&v).unwrap_err().what.contains("is not <= 5"));
        let mut v = ok.clone();
        v["predicate"]["buildType"] = json!("jenkins");
        assert!(
            p.check(&v)
                .unwrap_err()
                .what
                .contains("no alternative matches")
        );
        let mut v = ok.clone();
        v["subject"][0]["digest"]["sha256"] = json!("XYZ");
        assert_eq!(p.check(&v).unwrap_err().path, "subject[0].digest.sha256");
        let exact = Policy::parse("a: [1, \"x\"]\nb: [int, ...]\n").unwrap();
        assert_eq!(
            exact.check(&json!({"a": [1, "x"], "b": [1, "more"]})),
            Ok(())
        );
        assert!(exact.check(&json!({"a": [1], "b": [1]})).is_err());
        assert!(exact.check(&json!({"a": [1, "x"], "b": []})).is_err());
    }

    #[test]
    fn every_other_construct_is_refused_with_its_position() {
        for (src, want, line, column) in [
            ("#Def: {}", "`#`", 1, 1),
            ("a: b\n", "references and builtins (`b`)", 1, 4),
            ("a: *1 | 2", "defaults", 1, 4),
            ("import \"strings\"", "imports", 1, 1),
            ("a: \"\\(x)\"", "interpolation", 1, 5),
            ("a?: 1", "optional fields", 1, 3),
            ("[string]: int", "pattern constraints", 1, 1),
            (
                "x: {\n  y: [for z in w {z}]\n}",
                "references and builtins (`for`)",
                2,
                7,
            ),
            ("a: \"\"\"\nx\n\"\"\"", "multi-line", 1, 4),
            ("a: 'x'", "`'`", 1, 4),
            ("a: =~1", "takes a string", 1, 4),
            ("a: =~\"(\"", "bad regular expression", 1, 4),
            ("a: {b: 1", "expected `}`", 1, 8),
        ] {
            let e = Policy::parse(src).unwrap_err();
            assert!(e.what.contains(want), "{src:?}: {e}");
            assert_eq!((e.line, e.column), (line, column), "{src:?}: {e}");
        }
        let deep = format!("a: {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(
            Policy::parse(&deep)
                .unwrap_err()
                .what
                .contains("nested deeper")
        );
    }
}
