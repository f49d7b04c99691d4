//! Label selectors: parsing kubectl's string syntax, the structured `LabelSelector`, matching.
//!
//! The string syntax is Kubernetes' (`k8s.io/apimachinery/pkg/labels`): comma-separated
//! requirements, each one of `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
//! `k>1`, `k<1`. Requirements are ANDed; the empty selector matches everything. Parsed selectors
//! keep their requirements sorted by key, and `Display` gives the canonical string Kubernetes
//! prints (`==` is normalised to `=`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::names;

/// Why a selector could not be parsed or built; `Display` gives Kubernetes' message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The string does not follow the selector grammar; the message is Kubernetes'.
    #[error("{0}")]
    Syntax(String),
    /// One requirement of a selector string is malformed or invalid.
    #[error("unable to parse requirement: {0}")]
    Requirement(#[source] Box<Error>),
    /// A key is not a qualified name.
    #[error("key: Invalid value: \"{key}\": {source}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// Why it is invalid.
        #[source]
        source: names::Error,
    },
    /// A value is not a valid label value.
    #[error("values[{index}][{key}]: Invalid value: \"{value}\": {source}")]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The position of the value.
        index: usize,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        #[source]
        source: names::Error,
    },
    /// `in`/`notin` with no values.
    #[error("values: Invalid value: []string{{}}: for 'in', 'notin' operators, values set can't be empty")]
    EmptyValues,
    /// `=`, `==` or `!=` with other than exactly one value.
    #[error("values: Invalid value: {}: exact-match compatibility requires one single value", go_strings(.0))]
    NotSingleValue(Vec<String>),
    /// `Exists`/`DoesNotExist` with values.
    #[error("values: Invalid value: {}: values set must be empty for exists and does not exist", go_strings(.0))]
    ValuesForExists(Vec<String>),
    /// `>`/`<` with other than one value.
    #[error("values: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required", go_strings(.0))]
    NotSingleNumber(Vec<String>),
    /// `>`/`<` with a value that is not an integer.
    #[error(
        "values[0]: Invalid value: \"{0}\": for 'Gt', 'Lt' operators, the value must be an integer"
    )]
    NotInteger(String),
    /// A structured selector's operator is not one of `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error("\"{0}\" is not a valid label selector operator")]
    UnknownOperator(String),
}

/// Formats values as Go's `%#v` prints a `[]string`, as Kubernetes' messages show them.
fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

const OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

/// Validates a label key (a qualified name).
///
/// # Errors
///
/// [`Error::InvalidKey`] with Kubernetes' message.
pub fn validate_key(key: &str) -> Result<()> {
    names::validate_qualified_name(key).map_err(|source| Error::InvalidKey {
        key: key.to_owned(),
        source,
    })
}

/// Validates a label value (empty, or at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends).
///
/// # Errors
///
/// [`names::Error`] with Kubernetes' message.
pub fn validate_value(value: &str) -> Result<(), names::Error> {
    names::validate_label_value(value)
}

/// How a [`Requirement`] relates a label to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `k=v` (also written `k==v`): the label is present with that value.
    Equals,
    /// `k!=v`: the label is absent or has another value.
    NotEquals,
    /// `k in (a,b)`: the label is present with one of the values.
    In,
    /// `k notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `k`: the label is present.
    Exists,
    /// `!k`: the label is absent.
    DoesNotExist,
    /// `k>n`: the label is present and an integer greater than `n`.
    GreaterThan,
    /// `k<n`: the label is present and an integer less than `n`.
    LessThan,
}

/// One clause of a selector: a key, an operator and a (sorted) set of values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// Builds a requirement, validating it as Kubernetes' `NewRequirement` does.
    ///
    /// # Errors
    ///
    /// An invalid key or value, or a value count that does not fit the operator.
    pub fn new<I, S>(key: &str, operator: Operator, values: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        validate_key(key)?;
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => return Err(Error::EmptyValues),
            Operator::Equals | Operator::NotEquals if values.len() != 1 => {
                return Err(Error::NotSingleValue(values))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(Error::ValuesForExists(values))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    return Err(Error::NotSingleNumber(values));
                }
                if values[0].parse::<i64>().is_err() {
                    return Err(Error::NotInteger(values[0].clone()));
                }
            }
            _ => {}
        }
        for (index, value) in values.iter().enumerate() {
            validate_value(value).map_err(|source| Error::InvalidValue {
                key: key.to_owned(),
                index,
                value: value.clone(),
                source,
            })?;
        }
        Ok(Requirement {
            key: key.to_owned(),
            operator,
            values: values.into_iter().collect(),
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// Whether a set of labels satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = || {
            self.values
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={}", self.key, joined()),
            Operator::NotEquals => write!(f, "{}!={}", self.key, joined()),
            Operator::GreaterThan => write!(f, "{}>{}", self.key, joined()),
            Operator::LessThan => write!(f, "{}<{}", self.key, joined()),
            Operator::In => write!(f, "{} in ({})", self.key, joined()),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, joined()),
        }
    }
}

/// A label selector: requirements that must all hold. The default (empty) selector matches
/// every object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector matching everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Builds a selector from requirements, sorting them by key.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector { requirements }
    }

    /// The selector requiring every label of `set` with its value (Kubernetes'
    /// `SelectorFromSet`), as used for `spec.selector` of Services.
    ///
    /// # Errors
    ///
    /// An invalid key or value.
    pub fn from_set(set: &BTreeMap<String, String>) -> Result<Self> {
        let requirements = set
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, [v.as_str()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Selector::from_requirements(requirements))
    }

    /// Parses kubectl's selector syntax (`-l`/`labelSelector=`).
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] and friends for bad grammar; validation errors for bad keys and values.
    pub fn parse(s: &str) -> Result<Self> {
        Parser {
            tokens: lex(s),
            pos: 0,
        }
        .parse()
    }

    /// Whether this selector matches every object.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The value `key` must have for this selector to match, if a single `=` or one-value `in`
    /// pins it; an index can use this to narrow a list.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        self.requirements.iter().find_map(|r| {
            (r.key == key
                && matches!(r.operator, Operator::Equals | Operator::In)
                && r.values.len() == 1)
                .then(|| r.values.first().map(String::as_str))
                .flatten()
        })
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

/// The operator of a structured selector expression (`matchExpressions[].operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpressionOperator {
    /// `In`.
    In,
    /// `NotIn`.
    NotIn,
    /// `Exists`.
    Exists,
    /// `DoesNotExist`.
    DoesNotExist,
}

impl std::str::FromStr for ExpressionOperator {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "In" => Ok(Self::In),
            "NotIn" => Ok(Self::NotIn),
            "Exists" => Ok(Self::Exists),
            "DoesNotExist" => Ok(Self::DoesNotExist),
            other => Err(Error::UnknownOperator(other.to_owned())),
        }
    }
}

/// One `matchExpressions` entry of a structured [`LabelSelector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: ExpressionOperator,
    /// The values (non-empty for `In`/`NotIn`, empty otherwise).
    pub values: Vec<String>,
}

/// The structured selector of workload specs (`spec.selector` of Deployments and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// `matchLabels`: each key must have exactly this value.
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`: each must hold.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl TryFrom<&LabelSelector> for Selector {
    type Error = Error;

    /// Converts as Kubernetes' `LabelSelectorAsSelector` does: an empty selector matches
    /// everything. (A *missing* selector matches nothing; callers handle that before converting.)
    fn try_from(selector: &LabelSelector) -> Result<Self> {
        let mut requirements =
            Vec::with_capacity(selector.match_labels.len() + selector.match_expressions.len());
        for (k, v) in &selector.match_labels {
            requirements.push(Requirement::new(k, Operator::Equals, [v.as_str()])?);
        }
        for e in &selector.match_expressions {
            let operator = match e.operator {
                ExpressionOperator::In => Operator::In,
                ExpressionOperator::NotIn => Operator::NotIn,
                ExpressionOperator::Exists => Operator::Exists,
                ExpressionOperator::DoesNotExist => Operator::DoesNotExist,
            };
            requirements.push(Requirement::new(
                &e.key,
                operator,
                e.values.iter().map(String::as_str),
            )?);
        }
        Ok(Selector::from_requirements(requirements))
    }
}

mod parser;

use parser::{lex, Parser};
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn accepts_kubectl_syntax() {
        let cases = [
            ("", ""),
            ("  ", ""),
            ("x=a", "x=a"),
            ("x==a", "x=a"),
            ("x = a", "x=a"),
            ("x!=a", "x!=a"),
            ("x=", "x="),
            ("x", "x"),
            ("!x", "!x"),
            ("! x", "!x"),
            ("x>1", "x>1"),
            ("x<1", "x<1"),
            ("x in ()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("in=notin", "in=notin"),
            ("notin in (in)", "notin in (in)"),
            ("x in (b,a)", "x in (a,b)"),
            ("x in(a)", "x in (a)"),
            ("x notin (a, b , c)", "x notin (a,b,c)"),
            ("x in (a,)", "x in (,a)"),
            ("z=1,a=2,m", "a=2,m,z=1"),
            (
                "a=b,c!=d,e in (x,y),f notin (z),g,!h",
                "a=b,c!=d,e in (x,y),f notin (z),g,!h",
            ),
            (
                "app.kubernetes.io/name=web,tier in (frontend)",
                "app.kubernetes.io/name=web,tier in (frontend)",
            ),
            ("x=in", "x=in"),
        ];
        for (input, canonical) in cases {
            assert_eq!(parse(input).to_string(), canonical, "{input:?}");
        }
    }

    #[test]
    fn rejects_what_kubectl_rejects() {
        let cases = [
            ("x=a,", "found '', expected: identifier after ','"),
            (",x", "found ',', expected: !, identifier, or 'end of string'"),
            ("x=a=b", "found '=', expected: ',' or 'end of string'"),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            ("x in a", "unable to parse requirement: found 'a' expected: '('"),
            ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
            ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
            ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
            ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
            ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            ("x (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ("x=(a)", "unable to parse requirement: found '(', expected: identifier"),
            ("!", "unable to parse requirement: found '', expected: identifier"),
            (
                "x>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value \
                 must be an integer",
            ),
        ];
        for (input, message) in cases {
            let err = Selector::parse(input).expect_err(input);
            assert_eq!(err.to_string(), message, "{input:?}");
        }
    }

    #[test]
    fn validates_keys_and_values() {
        let inner = |e: Error| match e {
            Error::Requirement(inner) => *inner,
            other => panic!("not wrapped: {other:?}"),
        };
        let err = Selector::parse("-x=a").expect_err("bad key");
        assert!(
            err.to_string()
                .starts_with("unable to parse requirement: key: Invalid value"),
            "{err}"
        );
        let err = inner(err);
        assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("key: Invalid value: \"-x\": name part must consist of"),
            "{err}"
        );
        let err = inner(Selector::parse("a/b/c").expect_err("bad key"));
        assert!(matches!(
            err,
            Error::InvalidKey {
                source: names::Error::NotQualifiedName,
                ..
            }
        ));
        let err = inner(Selector::parse("x=-a").expect_err("bad value"));
        assert!(
            err.to_string()
                .starts_with("values[0][x]: Invalid value: \"-a\": a valid label must be"),
            "{err}"
        );
        let long = "v".repeat(64);
        let err = inner(Selector::parse(&format!("x in (a,{long})")).expect_err("long value"));
        assert!(matches!(
            err,
            Error::InvalidValue {
                index: 1,
                source: names::Error::TooLong { max: 63 },
                ..
            }
        ));
        assert_eq!(validate_value("ok.value_1"), Ok(()));
        assert!(validate_key("example.com/ok").is_ok());
    }

    #[test]
    fn matching() {
        let l = labels(&[
            ("app", "web"),
            ("tier", "frontend"),
            ("rank", "3"),
            ("empty", ""),
        ]);
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "missing!=x",
            "app in (web,db)",
            "app notin (db)",
            "missing notin (x)",
            "app",
            "!missing",
            "rank>2",
            "rank<4",
            "empty=",
            "empty",
            "app=web,tier=frontend",
        ];
        for s in yes {
            assert!(parse(s).matches(&l), "{s:?} should match");
        }
        let no = [
            "app=db",
            "app!=web",
            "missing=x",
            "app in (db)",
            "app notin (web)",
            "missing",
            "!app",
            "rank>3",
            "rank<3",
            "app>1",
            "missing>1",
            "app=web,tier=backend",
            "missing=",
        ];
        for s in no {
            assert!(!parse(s).matches(&l), "{s:?} should not match");
        }
    }

    #[test]
    fn structured_selectors() {
        let structured = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: ExpressionOperator::In,
                    values: vec!["frontend".into(), "cache".into()],
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: ExpressionOperator::DoesNotExist,
                    values: vec![],
                },
            ],
        };
        let selector = Selector::try_from(&structured).expect("valid");
        assert_eq!(
            selector.to_string(),
            "app=web,!canary,tier in (cache,frontend)"
        );
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "cache")])));
        assert!(!selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "cache"),
            ("canary", "1")
        ])));
        assert!(Selector::try_from(&LabelSelector::default())
            .expect("empty")
            .is_empty());

        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: ExpressionOperator::Exists,
                values: vec!["a".into()],
            }],
            ..LabelSelector::default()
        };
        assert_eq!(
            Selector::try_from(&bad).expect_err("values on Exists").to_string(),
            "values: Invalid value: []string{\"a\"}: values set must be empty for exists and does not exist"
        );
        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: ExpressionOperator::NotIn,
                values: vec![],
            }],
            ..LabelSelector::default()
        };
        assert_eq!(Selector::try_from(&bad), Err(Error::EmptyValues));
        assert_eq!(
            "In".parse::<ExpressionOperator>(),
            Ok(ExpressionOperator::In)
        );
        assert_eq!(
            "in".parse::<ExpressionOperator>()
                .expect_err("case matters")
                .to_string(),
            "\"in\" is not a valid label selector operator"
        );
    }

    #[test]
    fn from_set_and_exact_match() {
        let set = labels(&[("b", "2"), ("a", "1")]);
        let selector = Selector::from_set(&set).expect("valid");
        assert_eq!(selector.to_string(), "a=1,b=2");
        assert!(selector.matches(&set));
        assert_eq!(selector.requires_exact_match("b"), Some("2"));
        assert_eq!(parse("x in (y)").requires_exact_match("x"), Some("y"));
        assert_eq!(parse("x in (y,z)").requires_exact_match("x"), None);
        assert_eq!(parse("x!=y").requires_exact_match("x"), None);
        assert_eq!(
            Requirement::new("x", Operator::Equals, ["a", "b"]),
            Err(Error::NotSingleValue(vec!["a".into(), "b".into()]))
        );
    }

    fn requirement_strategy() -> impl Strategy<Value = String> {
        let key =
            "k[a-z0-9]{0,6}(\\.[a-z0-9]{1,5})?(/[A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?)?";
        let value = "([A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?)?";
        (
            key,
            proptest::collection::vec(value, 1..4),
            0..8u8,
            0i64..10,
        )
            .prop_map(|(k, vs, op, n)| {
                // Kubernetes rejects runs of empty list elements such as `(,,)`; keep lists to
                // non-empty values (the exact-match value may be empty).
                let list = || {
                    vs.iter()
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                };
                match op {
                    0 => format!("{k}={}", vs[0]),
                    1 => format!("{k}!={}", vs[0]),
                    2 => format!("{k} in ({})", list()),
                    3 => format!("{k} notin ({})", list()),
                    4 => k,
                    5 => format!("!{k}"),
                    6 => format!("{k}>{n}"),
                    _ => format!("{k}<{n}"),
                }
            })
    }

    proptest! {
        #[test]
        fn display_round_trips(reqs in proptest::collection::vec(requirement_strategy(), 0..5)) {
            let input = reqs.join(",");
            let parsed = Selector::parse(&input);
            prop_assert!(parsed.is_ok(), "{input:?}: {parsed:?}");
            let parsed = parsed.unwrap_or_default();
            let printed = parsed.to_string();
            prop_assert_eq!(Selector::parse(&printed), Ok(parsed), "{}", printed);
        }
    }
}
