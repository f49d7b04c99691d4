//! kubectl's JSONPath templates: `-o jsonpath=...`, `custom-columns`, and the `jsonPath` of CRD
//! `additionalPrinterColumns`.
//!
//! A template mixes literal text with `{...}` actions. Actions hold JSONPath expressions:
//! fields (`.metadata.name`, `['app.kubernetes.io/name']`), the current object (`@`, `$`),
//! recursive descent (`..name`), indices and slices (`[0]`, `[-1]`, `[1:3]`, `[::2]`, `[*]`),
//! unions (`[0,2]`, `['a','b']`), wildcards (`.*`), filters (`[?(@.type=="Ready")]` with
//! `==`, `!=`, `<`, `>`, `<=`, `>=`, or `[?(@.x)]` for existence), string literals
//! (`{"\n"}`), and `{range ...}...{end}` loops. Like kubectl, filters take one comparison:
//! there is no `&&` or `||`.
//!
//! Output follows kubectl: each action prints its results separated by spaces, strings raw,
//! numbers and booleans as text, objects and arrays as compact JSON.
//!
//! Where kubectl's engine depends on Go's random map order (wildcards and recursive descent
//! over objects), values come in key order. A few corners where kubectl errors or prints
//! oddities are made plain: `{.}` is the current value; a `range` over nothing evaluates no
//! body; filters skip `null` instead of failing; recursive descent does not walk into the
//! bytes of strings.
//!
//! ```
//! use rkube_api::jsonpath::JsonPath;
//! let pod = serde_json::json!({"metadata": {"name": "web"}, "status": {"podIP": "10.244.1.5"}});
//! let t = JsonPath::parse("{.metadata.name} {.status.podIP}").unwrap();
//! assert_eq!(t.execute(&pod).unwrap(), "web 10.244.1.5");
//! ```

mod eval;
mod parser;
mod print;

use serde_json::Value;

pub use print::format_value;

/// What went wrong while parsing a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// An action's `{` has no `}`.
    #[error("unclosed action")]
    UnclosedAction,
    /// A `[` has no `]`.
    #[error("unterminated array")]
    UnterminatedArray,
    /// A `[?(` has no `)`.
    #[error("unterminated filter")]
    UnterminatedFilter,
    /// A filter's `)` is not followed by `]`.
    #[error("unclosed array expect ]")]
    UnclosedFilter,
    /// A string literal has no closing quote.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A string literal has a bad escape.
    #[error("unquote string {0} error invalid syntax")]
    BadString(String),
    /// The text inside `[...]` is no index, slice, union or quoted key.
    #[error("invalid array index {0}")]
    InvalidArrayIndex(String),
    /// A slice bound is not a number.
    #[error("array index {0} is not a number")]
    IndexNotANumber(String),
    /// A number literal does not parse.
    #[error("cannot parse number {0}")]
    BadNumber(String),
    /// A character that starts no expression.
    #[error("unrecognized character in action: {}", go_rune(*.0))]
    UnrecognizedCharacter(char),
    /// `....`.
    #[error("invalid multiple recursive descent")]
    MultipleRecursiveDescent,
}

/// Formats a character as Go's `%#U` does: `U+0021 '!'`.
fn go_rune(c: char) -> String {
    format!("U+{:04X} '{c}'", u32::from(c))
}

/// A template that does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at position {position}")]
pub struct ParseError {
    /// Byte offset in the template where the problem was found.
    pub position: usize,
    /// The problem.
    pub kind: ParseErrorKind,
}

/// Why evaluating a template on an object failed. Messages are kubectl's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A field is missing (and missing keys are not allowed).
    #[error("{0} is not found")]
    NotFound(String),
    /// An index or slice applied to something else than an array (named by its Go type).
    #[error("{0} is not array or slice")]
    NotArray(String),
    /// An index outside the array.
    #[error("array index out of bounds: index {index}, length {length}")]
    IndexOutOfBounds {
        /// The index asked for.
        index: i64,
        /// The array's length.
        length: usize,
    },
    /// A slice whose start is after its end.
    #[error("starting index {start} is greater than ending index {end}")]
    StartAfterEnd {
        /// The slice start.
        start: i64,
        /// The slice end.
        end: i64,
    },
    /// A slice step of zero or less.
    #[error("step must be > 0")]
    BadStep,
    /// A filter applied to something else than an array (printed as Go prints it).
    #[error("{0} is not array or slice and cannot be filtered")]
    NotFilterable(String),
    /// A filter operand gave several values.
    #[error("can only compare one element at a time")]
    MultipleOperands,
    /// A filter compared values of different types (a string with a number, ...).
    #[error("incompatible types for comparison")]
    IncompatibleTypes,
    /// A filter compared values that have no order (objects, arrays, null; booleans by `<`).
    #[error("invalid type for comparison")]
    InvalidComparisonType,
    /// A filter operator other than `==`, `!=`, `<`, `>`, `<=`, `>=`.
    #[error("unrecognized filter operator {0}")]
    UnknownOperator(String),
    /// `{end}` outside a `{range}`.
    #[error("not in range, nothing to end")]
    EndOutsideRange,
    /// An identifier other than `range`, `end`, `true`, `false`.
    #[error("unrecognized identifier {0}")]
    UnknownIdentifier(String),
}

/// A parsed JSONPath template, evaluated on as many objects as needed.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    template: String,
    segments: Vec<parser::Segment>,
    allow_missing_keys: bool,
}

impl JsonPath {
    /// Parses a template (`{.metadata.name}`, `{range .items[*]}{.metadata.name}{"\n"}{end}`).
    ///
    /// # Errors
    ///
    /// A [`ParseError`] with the byte position of the problem.
    pub fn parse(template: &str) -> Result<JsonPath, ParseError> {
        Ok(JsonPath {
            template: template.to_owned(),
            segments: parser::parse(template)?,
            allow_missing_keys: false,
        })
    }

    /// Parses a bare expression (`.spec.replicas`), as the API server reads the `jsonPath`
    /// of CRD `additionalPrinterColumns`: wrapped in `{}`, with missing keys allowed.
    ///
    /// # Errors
    ///
    /// A [`ParseError`]; positions count from the start of `path`.
    pub fn parse_expression(path: &str) -> Result<JsonPath, ParseError> {
        let mut parsed = JsonPath::parse(&format!("{{{path}}}")).map_err(|e| ParseError {
            position: e.position.saturating_sub(1),
            kind: e.kind,
        })?;
        parsed.allow_missing_keys = true;
        Ok(parsed)
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Whether a missing field yields no value (`true`) or [`Error::NotFound`] (`false`, the
    /// default). kubectl's `--allow-missing-template-keys` (default `true`) sets this.
    pub fn allow_missing_keys(mut self, allow: bool) -> JsonPath {
        self.allow_missing_keys = allow;
        self
    }

    /// The values each piece of the template produced on `data`: one group per text piece,
    /// action and range iteration, in order.
    ///
    /// # Errors
    ///
    /// An [`Error`] when an expression does not apply to `data`.
    pub fn find_results(&self, data: &Value) -> Result<Vec<Vec<Value>>, Error> {
        let groups = eval::Evaluator {
            allow_missing_keys: self.allow_missing_keys,
        }
        .run(&self.segments, data)?;
        Ok(groups
            .into_iter()
            .map(|g| g.into_iter().map(std::borrow::Cow::into_owned).collect())
            .collect())
    }

    /// Renders the template on `data` as kubectl prints it.
    ///
    /// # Errors
    ///
    /// An [`Error`] when an expression does not apply to `data`.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        let groups = eval::Evaluator {
            allow_missing_keys: self.allow_missing_keys,
        }
        .run(&self.segments, data)?;
        let mut out = String::new();
        for group in &groups {
            for (i, v) in group.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&format_value(v));
            }
        }
        Ok(out)
    }
}

/// Turns the paths kubectl accepts in `custom-columns` and `--sort-by` (`name1.name2`,
/// `.name1.name2`, `{name1.name2}`, `{.name1.name2}`) into a template (`{.name1.name2}`);
/// `None` for anything else. An empty path stays empty.
pub fn relaxed_expression(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some(String::new());
    }
    let inner = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let inner = inner.strip_prefix('.').unwrap_or(inner);
    if inner.is_empty() || inner.contains(['{', '}']) {
        return None;
    }
    Some(format!("{{.{inner}}}"))
}

/// kubectl's message when a template does not parse (`kubectl get -o jsonpath=...`), with the
/// position of the problem added.
pub fn parse_error_message(template: &str, err: &ParseError) -> String {
    format!("error parsing jsonpath {template}, {err}\n")
}

/// kubectl's message when a template fails on an object (`kubectl get -o jsonpath=...`).
pub fn execution_error_message(template: &str, object: &Value, err: &Error) -> String {
    format!(
        "error executing jsonpath {}: Error executing template: {err}. Printing more \
         information for debugging the template:\n\ttemplate was:\n\t\t{template}\n\tobject \
         given to jsonpath engine was:\n\t\t{object}\n\n",
        print::go_quote(template)
    )
}

#[cfg(test)]
mod tests;
