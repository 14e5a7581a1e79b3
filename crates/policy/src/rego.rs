//! Rego policies (attestation-level and policy-level), evaluated with `regorus` as cosign and
//! policy-controller evaluate them: the input is the document (an attestation's in-toto
//! statement, or the policy-level `authorityMatches`), and the policy decides through
//! `data.sigstore.isCompliant` (`true` passes; `false` or undefined fails) — or, when it defines
//! it, `data.sigstore.result` (`{"allow": bool, "warning": "...", "error": "..."}`). Both Rego
//! syntaxes are read (v1 first, then the v0 syntax of older policies).

/// Largest policy text.
pub const MAX_REGO_LEN: usize = 256 * 1024;

/// Why a Rego policy did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegoError {
    /// The policy does not parse or compile.
    #[error("the Rego policy {name} does not compile: {reason}")]
    Compile {
        /// The policy's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Evaluation failed (a builtin error, a conflict).
    #[error("the Rego policy {name} failed to evaluate: {reason}")]
    Eval {
        /// The policy's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The policy said no.
    #[error("the Rego policy {name} is not satisfied{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    NotCompliant {
        /// The policy's name.
        name: String,
        /// The policy's own error message (`data.sigstore.result.error`).
        message: Option<String>,
    },
}

/// The outcome of a policy that passed: its warning, if it gave one.
pub type Warning = Option<String>;

fn engine(name: &str, rego: &str) -> Result<regorus::Engine, RegoError> {
    let compile = |reason: String| RegoError::Compile {
        name: name.to_owned(),
        reason,
    };
    if rego.len() > MAX_REGO_LEN {
        return Err(compile(format!("over {MAX_REGO_LEN} bytes")));
    }
    let mut e = regorus::Engine::new();
    match e.add_policy(format!("{name}.rego"), rego.to_owned()) {
        Ok(_) => Ok(e),
        Err(v1) => {
            let mut e = regorus::Engine::new();
            e.set_rego_v0(true);
            e.add_policy(format!("{name}.rego"), rego.to_owned())
                .map_err(|_| compile(v1.to_string()))?;
            Ok(e)
        }
    }
}

/// Whether `rego` compiles (when a policy document loads).
pub fn compile_check(rego: &str) -> Result<(), RegoError> {
    engine("policy", rego).map(|_| ())
}

/// Evaluates the policy `rego` (named `name` in messages) over `input`.
pub fn evaluate(name: &str, rego: &str, input: &serde_json::Value) -> Result<Warning, RegoError> {
    let mut e = engine(name, rego)?;
    let eval = |reason: String| RegoError::Eval {
        name: name.to_owned(),
        reason,
    };
    let input =
        regorus::Value::from_json_str(&input.to_string()).map_err(|x| eval(x.to_string()))?;
    e.set_input(input);
    let as_json = |v: regorus::Value| -> serde_json::Value {
        serde_json::to_value(&v).unwrap_or(serde_json::Value::Null)
    };
    if let Ok(v) = e.eval_rule("data.sigstore.result".to_owned()) {
        let r = as_json(v);
        if r.is_object() {
            let message = r["error"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            return if r["allow"] == serde_json::Value::Bool(true) {
                Ok(r["warning"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned))
            } else {
                Err(RegoError::NotCompliant {
                    name: name.to_owned(),
                    message,
                })
            };
        }
    }
    let v = match e.eval_rule("data.sigstore.isCompliant".to_owned()) {
        Ok(v) => v,
        // A policy that defines no isCompliant passes nothing.
        Err(x) if x.to_string().contains("not a valid rule path") => {
            return Err(RegoError::NotCompliant {
                name: name.to_owned(),
                message: Some("the policy defines no data.sigstore.isCompliant".into()),
            });
        }
        Err(x) => return Err(eval(x.to_string())),
    };
    if as_json(v) == serde_json::Value::Bool(true) {
        Ok(None)
    } else {
        Err(RegoError::NotCompliant {
            name: name.to_owned(),
            message: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SLSA: &str = r#"
package sigstore

default isCompliant = false

isCompliant {
  input.predicateType == "https://slsa.dev/provenance/v0.2"
  startswith(input.predicate.builder.id, "https://tekton.example/chains/")
}
"#;

    fn statement(builder: &str) -> serde_json::Value {
        json!({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
               "subject": [{"name": "x", "digest": {"sha256": "ab"}}],
               "predicate": {"builder": {"id": builder}}})
    }

    #[test]
    fn is_compliant_decides_in_both_syntaxes() {
        assert_eq!(
            evaluate("slsa", SLSA, &statement("https://tekton.example/chains/v2")),
            Ok(None)
        );
        assert_eq!(
            evaluate("slsa", SLSA, &statement("https://evil.example/")),
            Err(RegoError::NotCompliant {
                name: "slsa".into(),
                message: None
            })
        );
        let v1 = "package sigstore\nimport rego.v1\ndefault isCompliant := false\nisCompliant if input.predicate.builder.id == \"b\"\n";
        assert_eq!(evaluate("v1", v1, &statement("b")), Ok(None));
        assert!(matches!(
            evaluate("v1", v1, &statement("c")),
            Err(RegoError::NotCompliant { .. })
        ));
    }

    #[test]
    fn result_objects_carry_warnings_and_errors() {
        let r = r#"package sigstore
default result = {"allow": false, "error": "the builder is not ours"}
result = {"allow": true, "warning": "old builder"} { input.predicate.builder.id == "old" }
"#;
        assert_eq!(
            evaluate("r", r, &statement("old")),
            Ok(Some("old builder".into()))
        );
        assert_eq!(
            evaluate("r", r, &statement("x")),
            Err(RegoError::NotCompliant {
                name: "r".into(),
                message: Some("the builder is not ours".into())
            })
        );
    }

    #[test]
    fn undefined_and_broken_policies_fail() {
        let none = "package sigstore\nother = true\n";
        assert!(matches!(
            evaluate("n", none, &json!({})),
            Err(RegoError::NotCompliant { .. })
        ));
        assert!(matches!(
            evaluate("b", "package sigstore\nisCompliant {", &json!({})),
            Err(RegoError::Compile { .. })
        ));
        let huge = "x".repeat(MAX_REGO_LEN + 1);
        assert!(matches!(
            evaluate("h", &huge, &json!({})),
            Err(RegoError::Compile { .. })
        ));
    }
}
