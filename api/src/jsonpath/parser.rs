//! Parses templates into text pieces, actions, and `range` blocks.

use super::{ParseError, ParseErrorKind as K};

/// One step of an action: applied to every value the previous step produced.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `.name`: a key of each object. An empty name keeps the value itself.
    Field(String),
    /// `.*`: every value of each object or array.
    Wildcard,
    /// `..`: each value and, recursively, every object and array inside.
    Recursive,
    /// `[i]`, `[a:b:c]`, `[*]`.
    Array([Param; 3]),
    /// `[a,b]`: the results of each alternative, concatenated.
    Union(Vec<Vec<Node>>),
    /// `[?(left op right)]`, or `[?(left)]` (op `exists`).
    Filter {
        left: Vec<Node>,
        op: String,
        right: Vec<Node>,
    },
    /// A string literal.
    Text(String),
    /// An integer literal.
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `range`, `end`, or an unknown word.
    Identifier(String),
}

/// One bound of a slice: start, end, step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Param {
    /// Whether the bound was given.
    pub known: bool,
    pub value: i64,
    /// The end of a single index (`[i]` is `[i:i+1]`).
    pub derived: bool,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    /// Literal text.
    Text(String),
    /// A `{...}` action.
    Action(Vec<Node>),
    /// `{range expr}body{end}` (the body runs to the end when `{end}` is missing).
    Range { expr: Vec<Node>, body: Vec<Segment> },
    /// An `{end}` with no `range`: an error when evaluated, as in kubectl.
    End,
}

/// Parses a whole template.
pub(super) fn parse(template: &str) -> Result<Vec<Segment>, ParseError> {
    let mut flat = Vec::new();
    let mut pos = 0;
    while pos < template.len() {
        let Some(open) = template[pos..].find('{') else {
            flat.push(Segment::Text(template[pos..].to_owned()));
            break;
        };
        if open > 0 {
            flat.push(Segment::Text(template[pos..pos + open].to_owned()));
        }
        let mut p = Parser {
            input: template,
            pos: pos + open + 1,
            end: template.len(),
            nested: false,
        };
        flat.push(Segment::Action(p.action()?));
        pos = p.pos;
    }
    Ok(nest(flat))
}

/// Groups `{range}`...`{end}` into [`Segment::Range`].
fn nest(flat: Vec<Segment>) -> Vec<Segment> {
    // Frames of open ranges: the segments collected so far and the range expression.
    let mut stack: Vec<(Vec<Segment>, Vec<Node>)> = Vec::new();
    let mut current = Vec::new();
    for seg in flat {
        match seg {
            Segment::Action(mut nodes) if is_identifier(&nodes, "range") => {
                nodes.remove(0);
                stack.push((std::mem::take(&mut current), nodes));
            }
            Segment::Action(nodes) if is_identifier(&nodes, "end") => match stack.pop() {
                Some((outer, expr)) => {
                    let body = std::mem::replace(&mut current, outer);
                    current.push(Segment::Range { expr, body });
                }
                None => current.push(Segment::End),
            },
            other => current.push(other),
        }
    }
    while let Some((outer, expr)) = stack.pop() {
        let body = std::mem::replace(&mut current, outer);
        current.push(Segment::Range { expr, body });
    }
    current
}

fn is_identifier(nodes: &[Node], word: &str) -> bool {
    matches!(nodes.first(), Some(Node::Identifier(w)) if w == word)
}

/// A cursor in the template, parsing one action (or a nested piece of one).
struct Parser<'a> {
    input: &'a str,
    pos: usize,
    /// Where this piece ends: the template's end, or the end of a nested piece.
    end: usize,
    /// Nested pieces (filter operands, union parts, quoted keys) end at `end` without `}`.
    nested: bool,
}

fn is_terminator(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(
            c,
            ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
        ),
    }
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..self.end]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, at: usize, kind: K) -> ParseError {
        ParseError { position: at, kind }
    }

    /// Parses a nested piece of `input` (`from..to`) as an action body.
    fn nested(&self, from: usize, to: usize) -> Result<Vec<Node>, ParseError> {
        Parser {
            input: self.input,
            pos: from,
            end: to,
            nested: true,
        }
        .action()
    }

    /// Parses an action's steps up to its `}` (or the end of a nested piece).
    fn action(&mut self) -> Result<Vec<Node>, ParseError> {
        let mut nodes = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with('}') {
                self.pos += 1;
                return Ok(nodes);
            }
            if rest.starts_with("[?(") {
                nodes.push(self.filter()?);
                continue;
            }
            if rest.starts_with("..") {
                if matches!(nodes.last(), Some(Node::Recursive)) {
                    return Err(self.error(self.pos, K::MultipleRecursiveDescent));
                }
                self.pos += 2;
                nodes.push(Node::Recursive);
                if self.peek().is_some_and(is_alphanumeric) {
                    nodes.push(self.field());
                }
                continue;
            }
            let start = self.pos;
            match self.bump() {
                None if self.nested => return Ok(nodes),
                None | Some('\r' | '\n') => return Err(self.error(start, K::UnclosedAction)),
                Some(' ' | '@' | '$') => {}
                Some('[') => nodes.extend(self.array(start)?),
                Some(q @ ('"' | '\'')) => nodes.push(self.quote(start, q)?),
                Some('.') => nodes.push(self.field()),
                Some(c) if c == '+' || c == '-' || c.is_ascii_digit() => {
                    self.pos = start;
                    nodes.push(self.number()?);
                }
                Some(c) if is_alphanumeric(c) => {
                    self.pos = start;
                    nodes.push(self.identifier());
                }
                Some(c) => return Err(self.error(start, K::UnrecognizedCharacter(c))),
            }
        }
    }

    /// A field name after `.`, up to an unescaped terminator; backslashes are dropped.
    fn field(&mut self) -> Node {
        let start = self.pos;
        loop {
            match self.peek() {
                Some('\\') => {
                    self.bump();
                    self.bump();
                }
                c if is_terminator(c) => break,
                _ => {
                    self.bump();
                }
            }
        }
        let name = &self.input[start..self.pos];
        if name == "*" {
            Node::Wildcard
        } else {
            Node::Field(name.replace('\\', ""))
        }
    }

    fn identifier(&mut self) -> Node {
        let start = self.pos;
        while !is_terminator(self.peek()) {
            self.bump();
        }
        match &self.input[start..self.pos] {
            "true" => Node::Bool(true),
            "false" => Node::Bool(false),
            word => Node::Identifier(word.to_owned()),
        }
    }

    fn number(&mut self) -> Result<Node, ParseError> {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.bump();
        }
        while matches!(self.peek(), Some(c) if c == '.' || c.is_ascii_digit()) {
            self.bump();
        }
        let text = &self.input[start..self.pos];
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Node::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if text.bytes().any(|b| b.is_ascii_digit()) => Ok(Node::Float(f)),
            _ => Err(self.error(start, K::BadNumber(text.to_owned()))),
        }
    }

    /// A string literal; `open` is the position of the opening quote.
    fn quote(&mut self, open: usize, quote: char) -> Result<Node, ParseError> {
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.error(open, K::UnterminatedString)),
                Some(c) if c == quote && self.input.as_bytes()[self.pos - 2] != b'\\' => break,
                Some(_) => {}
            }
        }
        let literal = &self.input[open..self.pos];
        unquote(&literal[1..literal.len() - 1], quote)
            .map(Node::Text)
            .ok_or_else(|| self.error(open, K::BadString(literal.to_owned())))
    }

    /// The inside of `[...]`; `open` is the position of `[`.
    fn array(&mut self, open: usize) -> Result<Vec<Node>, ParseError> {
        let from = self.pos;
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.error(open, K::UnterminatedArray)),
                Some(']') => break,
                Some(_) => {}
            }
        }
        self.array_content(from, self.pos - 1)
    }

    /// Parses the text between `[` and `]` (`from..to`): a union, a quoted key, or a slice.
    fn array_content(&self, from: usize, to: usize) -> Result<Vec<Node>, ParseError> {
        let text = &self.input[from..to];
        if text.contains(',') {
            let mut alternatives = Vec::new();
            let mut start = from;
            for part in text.split(',') {
                let lead = part.len() - part.trim_start_matches(' ').len();
                let trimmed = part.trim_matches(' ');
                let part_from = start + lead;
                alternatives.push(self.array_content(part_from, part_from + trimmed.len())?);
                start += part.len() + 1;
            }
            return Ok(vec![Node::Union(alternatives)]);
        }
        if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
            let key = &text[1..text.len() - 1];
            if !key.contains('\'') {
                // `['a.b']` reads as `.a.b`.
                return self.nested_field_path(from + 1, to - 1);
            }
        }
        if text == "*" {
            return Ok(vec![Node::Array([Param::default(); 3])]);
        }
        slice(text)
            .map(|p| vec![Node::Array(p)])
            .map_err(|kind| self.error(from, kind))
    }

    /// Parses `from..to` as the field path `.{text}`.
    fn nested_field_path(&self, from: usize, to: usize) -> Result<Vec<Node>, ParseError> {
        let mut p = Parser {
            input: self.input,
            pos: from,
            end: to,
            nested: true,
        };
        let mut nodes = vec![p.field()];
        nodes.extend(p.action()?);
        Ok(nodes)
    }

    /// `[?(...)]`, positioned at `[`.
    fn filter(&mut self) -> Result<Node, ParseError> {
        let open = self.pos;
        self.pos += 3;
        let from = self.pos;
        let mut begin = false;
        let mut end = false;
        let mut pair = '"';
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.error(open, K::UnterminatedFilter)),
                Some(q @ ('"' | '\'')) => {
                    if !begin {
                        begin = true;
                        pair = q;
                    } else if q == pair && self.input.as_bytes()[self.pos - 2] != b'\\' {
                        end = true;
                    }
                }
                Some(')') if begin == end => break,
                Some(_) => {}
            }
        }
        let to = self.pos - 1;
        if self.bump() != Some(']') {
            return Err(self.error(to, K::UnclosedFilter));
        }
        let text = &self.input[from..to];
        // `left op right`: left has none of `!<>=`, op is a run of `!<>=~`, right the rest.
        let left_len = text.find(['!', '<', '>', '=']).unwrap_or(text.len());
        let op_len = text[left_len..]
            .find(|c: char| !matches!(c, '!' | '<' | '>' | '=' | '~'))
            .unwrap_or(text.len() - left_len);
        if left_len == 0 || op_len == 0 || left_len + op_len == text.len() {
            return Ok(Node::Filter {
                left: self.nested(from, to)?,
                op: "exists".to_owned(),
                right: Vec::new(),
            });
        }
        let op_at = from + left_len;
        Ok(Node::Filter {
            left: self.nested(from, op_at)?,
            op: text[left_len..left_len + op_len].to_owned(),
            right: self.nested(op_at + op_len, to)?,
        })
    }
}

/// Parses `a:b:c` slice syntax (each part an optional signed integer).
fn slice(text: &str) -> Result<[Param; 3], K> {
    let parts: Vec<&str> = text.split(':').collect();
    let valid = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        digits.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.len() > 3 || !parts.iter().all(|p| valid(p)) {
        return Err(K::InvalidArrayIndex(text.to_owned()));
    }
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| K::IndexNotANumber(s.to_owned()))
    };
    let mut params = [Param::default(); 3];
    if !parts[0].is_empty() {
        params[0] = Param {
            known: true,
            value: number(parts[0])?,
            derived: false,
        };
    }
    match parts.get(1) {
        // `[i]`: one element, `[i:i+1]`.
        None => {
            params[1] = Param {
                known: true,
                value: params[0].value.saturating_add(1),
                derived: true,
            };
        }
        Some(&"") => {}
        Some(p) => {
            params[1] = Param {
                known: true,
                value: number(p)?,
                derived: false,
            };
        }
    }
    if let Some(p) = parts.get(2).filter(|p| !p.is_empty()) {
        params[2] = Param {
            known: true,
            value: number(p)?,
            derived: false,
        };
    }
    Ok(params)
}

/// Resolves Go-style escapes in a string literal's body; `None` on a bad escape.
fn unquote(body: &str, quote: char) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
            let digits: String = (0..n).filter_map(|_| chars.next()).collect();
            if digits.len() != n {
                return None;
            }
            u32::from_str_radix(&digits, 16).ok()
        };
        match escaped {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            q @ ('\'' | '"') if q == quote => out.push(q),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
            d @ '0'..='7' => {
                let mut value = d.to_digit(8)?;
                for _ in 0..2 {
                    value = value * 8 + chars.next()?.to_digit(8)?;
                }
                out.push(char::from_u32(value).filter(|_| value <= 255)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
