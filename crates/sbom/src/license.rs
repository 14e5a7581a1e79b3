//! Declared licenses as SPDX expressions where they can be read as one.

/// A package's declared license.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum License {
    /// A valid SPDX license expression (strict syntax, current identifiers).
    Expression(String),
    /// Text that is not an SPDX expression (`"BSD"`, `"see LICENSE"`), kept as declared.
    Named(String),
}

impl License {
    /// Reads one declared license: an SPDX expression (imprecise names such as `Apache 2.0` or
    /// `GPL-2+`, and `/` for OR, are canonicalised), else the text as a name. Empty and
    /// `UNKNOWN`-like values give `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty()
            || raw.len() > 512
            || matches!(
                raw.to_ascii_uppercase().as_str(),
                "UNKNOWN" | "NONE" | "NOASSERTION" | "UNLICENSED" | "PROPRIETARY" | "(NONE)"
            )
        {
            return None;
        }
        Some(match canonical(raw) {
            Some(e) => Self::Expression(e),
            None => Self::Named(raw.to_owned()),
        })
    }

    /// Joins several declared licenses (all apply) into one: an AND expression when every part
    /// is an expression, else the parts' text joined by `AND`.
    pub fn all(parts: Vec<License>) -> Option<Self> {
        let mut parts = parts;
        parts.sort();
        parts.dedup();
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => {
                if parts.iter().all(|p| matches!(p, Self::Expression(_))) {
                    let joined = parts
                        .iter()
                        .map(|p| match p {
                            Self::Expression(e) if e.contains(' ') => format!("({e})"),
                            Self::Expression(e) | Self::Named(e) => e.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(" AND ");
                    Some(Self::Expression(joined))
                } else {
                    Some(Self::Named(
                        parts
                            .iter()
                            .map(|p| match p {
                                Self::Expression(e) | Self::Named(e) => e.as_str(),
                            })
                            .collect::<Vec<_>>()
                            .join(" AND "),
                    ))
                }
            }
        }
    }

    /// The text, whichever kind.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Expression(e) | Self::Named(e) => e,
        }
    }

    /// For a single current SPDX identifier, that identifier.
    pub fn single_id(&self) -> Option<&str> {
        match self {
            Self::Expression(e) => spdx::license_id(e)
                .filter(|id| !id.is_deprecated())
                .map(|id| id.name),
            Self::Named(_) => None,
        }
    }
}

/// Names that stand for a family, not one license: canonicalising them would be a guess
/// (the `spdx` crate reads a bare "BSD" as BSD-2-Clause).
const AMBIGUOUS: &[&str] = &[
    "BSD", "GPL", "LGPL", "AGPL", "MPL", "CC", "Artistic", "GFDL",
];

fn canonical(raw: &str) -> Option<String> {
    if raw
        .split(|c: char| c.is_whitespace() || "()/,".contains(c))
        .any(|w| AMBIGUOUS.iter().any(|a| a.eq_ignore_ascii_case(w)))
    {
        return None;
    }
    let text = match spdx::Expression::canonicalize(raw) {
        Ok(Some(c)) => c,
        Ok(None) => raw.to_owned(),
        Err(_) => return None,
    };
    let expr = spdx::Expression::parse(&text).ok()?;
    // Only identifiers on the current list: LicenseRef-, DocumentRef- and deprecated ids would
    // each need more than the expression to be valid in every output format.
    let ok = expr.requirements().all(|r| match &r.req.license {
        spdx::LicenseItem::Spdx { id, .. } => !id.is_deprecated(),
        spdx::LicenseItem::Other { .. } => false,
    }) && expr.requirements().all(|r| match &r.req.addition {
        None => true,
        Some(spdx::AdditionItem::Spdx(_)) => true,
        Some(_) => false,
    });
    ok.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declared_licenses() {
        assert_eq!(
            License::parse("MIT"),
            Some(License::Expression("MIT".into()))
        );
        assert_eq!(
            License::parse("MIT/Apache-2.0"),
            Some(License::Expression("MIT OR Apache-2.0".into()))
        );
        assert_eq!(License::parse("BSD"), Some(License::Named("BSD".into())));
        assert_eq!(License::parse(" UNKNOWN "), None);
        assert_eq!(
            License::all(vec![
                License::Expression("MIT OR Apache-2.0".into()),
                License::Expression("Zlib".into())
            ]),
            Some(License::Expression("(MIT OR Apache-2.0) AND Zlib".into()))
        );
        assert_eq!(License::parse("MIT").unwrap().single_id(), Some("MIT"));
    }
}
