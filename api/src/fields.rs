//! Field selectors (`metadata.name=x,spec.nodeName!=y`): parsing, matching, canonical form.
//!
//! Follows Kubernetes' `k8s.io/apimachinery/pkg/fields`: terms are separated by unescaped
//! commas, each is `field=value`, `field==value` or `field!=value`; in values `\,`, `\=` and
//! `\\` escape the special characters. Nothing is trimmed. Which fields a resource supports is
//! the caller's business: this module matches through a lookup function, and a field the lookup
//! does not know reads as the empty string, as Kubernetes' `fields.Set` does.

use std::fmt;

/// Why a field selector could not be parsed; `Display` gives Kubernetes' message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A term has no operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    NoOperator {
        /// The whole selector.
        selector: String,
        /// The term without an operator.
        term: String,
    },
    /// A value has a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A value has a bare `=` (or `,`).
    #[error("invalid field selector: unescaped character in value: {0}")]
    UnescapedCharacter(char),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a [`Requirement`] compares a field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=` or `==`.
    Equals,
    /// `!=`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The comparison.
    pub operator: Operator,
    /// The value, unescaped.
    pub value: String,
}

impl Requirement {
    /// Whether the object, seen through `get`, satisfies this term (absent fields read as "").
    pub fn matches<F: Fn(&str) -> Option<String>>(&self, get: F) -> bool {
        let actual = get(&self.field).unwrap_or_default();
        (actual == self.value) == (self.operator == Operator::Equals)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A field selector: terms that must all hold. The default (empty) selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector matching everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Parses a field selector (`fieldSelector=` / kubectl's `--field-selector`). Terms end up
    /// sorted by field (stably), as Kubernetes sorts them.
    ///
    /// # Errors
    ///
    /// [`Error::NoOperator`] for a term without `=`/`==`/`!=`; the escape errors for bad values.
    pub fn parse(selector: &str) -> Result<Self> {
        let mut requirements = Vec::new();
        for term in split_unescaped(selector, ',') {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(Error::NoOperator {
                    selector: selector.to_owned(),
                    term: term.to_owned(),
                });
            };
            requirements.push(Requirement {
                field: field.to_owned(),
                operator,
                value: unescape_value(raw)?,
            });
        }
        requirements.sort_by(|a, b| a.field.cmp(&b.field));
        Ok(Selector { requirements })
    }

    /// Builds a selector from terms, sorting them by field.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.field.cmp(&b.field));
        Selector { requirements }
    }

    /// Whether this selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, sorted by field.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the object, seen through `get` (field path to value), satisfies every term.
    pub fn matches<F: Fn(&str) -> Option<String>>(&self, get: F) -> bool {
        self.requirements.iter().all(|r| r.matches(&get))
    }

    /// The value `field` must equal for this selector to match, if a `=` term pins it (e.g.
    /// `spec.nodeName` for a kubelet's pod watch), so a cache can index on it.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == Operator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::write_comma_separated(f, &self.requirements)
    }
}

impl std::str::FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Selector::parse(s)
    }
}

/// Escapes `\`, `,` and `=` in a value so it can be put in a selector string.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_value`].
///
/// # Errors
///
/// [`Error::InvalidEscape`] for a backslash before another character or at the end;
/// [`Error::UnescapedCharacter`] for a bare `,` or `=`.
pub fn unescape_value(value: &str) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => return Err(Error::InvalidEscape(format!("\\{other}"))),
                None => return Err(Error::InvalidEscape("\\".to_owned())),
            },
            ',' | '=' => return Err(Error::UnescapedCharacter(c)),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Splits on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Splits a term at its first operator: at each position `!=`, then `==`, then `=` is tried,
/// as Kubernetes does.
fn split_term(term: &str) -> Option<(&str, Operator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", Operator::NotEquals),
            ("==", Operator::Equals),
            ("=", Operator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pod() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            ("metadata.name", "web-0"),
            ("metadata.namespace", "default"),
            ("spec.nodeName", "node-a"),
            ("status.phase", "Running"),
        ])
    }

    fn matches(selector: &str) -> bool {
        let fields = pod();
        Selector::parse(selector)
            .unwrap_or_else(|e| panic!("{selector:?}: {e}"))
            .matches(|f| fields.get(f).map(|v| (*v).to_owned()))
    }

    #[test]
    fn parses_and_prints_canonically() {
        let cases = [
            ("", ""),
            (",", ""),
            ("metadata.name=x", "metadata.name=x"),
            ("metadata.name==x", "metadata.name=x"),
            (
                "spec.nodeName!=y,metadata.name=x",
                "metadata.name=x,spec.nodeName!=y",
            ),
            ("spec.nodeName=", "spec.nodeName="),
            ("a=x\\,y", "a=x\\,y"),
            ("a=x\\=y\\\\", "a=x\\=y\\\\"),
            ("b=1,a=2,b=0", "a=2,b=1,b=0"),
        ];
        for (input, canonical) in cases {
            let parsed = Selector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "{input:?}");
        }
        let parsed = Selector::parse("a=x\\,y").expect("valid");
        assert_eq!(parsed.requirements()[0].value, "x,y");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            Selector::parse("metadata.name")
                .expect_err("no operator")
                .to_string(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            Selector::parse("a=b,c")
                .expect_err("no operator")
                .to_string(),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
        assert_eq!(
            Selector::parse("a=b=c").expect_err("bare =").to_string(),
            "invalid field selector: unescaped character in value: ="
        );
        assert_eq!(
            Selector::parse("a=b\\c")
                .expect_err("bad escape")
                .to_string(),
            "invalid field selector: invalid escape sequence: \\c"
        );
        assert_eq!(
            Selector::parse("a=b\\"),
            Err(Error::InvalidEscape("\\".into()))
        );
    }

    #[test]
    fn operator_precedence_matches_kubernetes() {
        let s = Selector::parse("a!=b").expect("valid");
        assert_eq!(s.requirements()[0].operator, Operator::NotEquals);
        // `a=!b` splits at `=`: the value is `!b`.
        let s = Selector::parse("a=!b").expect("valid");
        assert_eq!(
            (
                s.requirements()[0].operator,
                s.requirements()[0].value.as_str()
            ),
            (Operator::Equals, "!b")
        );
    }

    #[test]
    fn matching() {
        for yes in [
            "",
            "metadata.name=web-0",
            "metadata.name==web-0",
            "spec.nodeName!=node-b",
            "spec.nodeName=node-a,status.phase=Running",
            "spec.unknown=",
            "spec.unknown!=x",
        ] {
            assert!(matches(yes), "{yes:?} should match");
        }
        for no in [
            "metadata.name=web-1",
            "spec.nodeName!=node-a",
            "spec.nodeName=node-a,status.phase=Pending",
            "spec.unknown=x",
            "spec.nodeName=",
        ] {
            assert!(!matches(no), "{no:?} should not match");
        }
    }

    #[test]
    fn exact_match() {
        let s = Selector::parse("spec.nodeName=node-a,metadata.name!=x").expect("valid");
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some("node-a"));
        assert_eq!(s.requires_exact_match("metadata.name"), None);
    }

    proptest! {
        #[test]
        fn escape_round_trips(value in "[a-z,=\\\\!.]{0,12}") {
            prop_assert_eq!(unescape_value(&escape_value(&value)), Ok(value.clone()));
            let selector = Selector::from_requirements(vec![Requirement { field: "f".into(), operator: Operator::Equals, value }]);
            prop_assert_eq!(Selector::parse(&selector.to_string()), Ok(selector));
        }
    }
}
