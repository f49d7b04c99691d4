//! The lexer and recursive-descent parser for the label selector string syntax.

use super::{validate_key, Error, Operator, Requirement, Result, Selector, OPERATORS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Identifier(String),
    Not,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    In,
    NotIn,
    OpenParen,
    CloseParen,
    Comma,
    End,
}

impl Token {
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::Not => "!",
            Token::NotEquals => "!=",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

pub(super) fn lex(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if is_special(c) {
            chars.next();
            let next_is_eq = chars.peek().is_some_and(|&(_, n)| n == '=');
            let token = match c {
                '!' if next_is_eq => Token::NotEquals,
                '=' if next_is_eq => Token::DoubleEquals,
                '!' => Token::Not,
                '=' => Token::Equals,
                '>' => Token::GreaterThan,
                '<' => Token::LessThan,
                '(' => Token::OpenParen,
                ')' => Token::CloseParen,
                _ => Token::Comma,
            };
            if matches!(token, Token::NotEquals | Token::DoubleEquals) {
                chars.next();
            }
            tokens.push(token);
            continue;
        }
        let mut end = s.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || is_special(c) {
                end = i;
                break;
            }
            chars.next();
        }
        let word = &s[start..end];
        tokens.push(match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word.to_owned()),
        });
    }
    tokens.push(Token::End);
    tokens
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Token>,
    pub(super) pos: usize,
}

/// Mirrors Kubernetes' parser contexts: where values (and keys) are read, the keywords `in` and
/// `notin` are ordinary identifiers, so `in=notin` is a valid requirement.
fn as_value(token: Token) -> Token {
    match token {
        Token::In | Token::NotIn => Token::Identifier(token.literal().to_owned()),
        other => other,
    }
}

fn syntax(message: String) -> Error {
    Error::Syntax(message)
}

impl Parser {
    fn peek_value(&self) -> Token {
        as_value(self.tokens.get(self.pos).cloned().unwrap_or(Token::End))
    }

    fn next_raw(&mut self) -> Token {
        let token = self.tokens.get(self.pos).cloned().unwrap_or(Token::End);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn next_value(&mut self) -> Token {
        as_value(self.next_raw())
    }

    pub(super) fn parse(mut self) -> Result<Selector> {
        let mut requirements = Vec::new();
        loop {
            match self.peek_value() {
                Token::Identifier(_) | Token::Not => {}
                Token::End => return Ok(Selector::from_requirements(requirements)),
                other => {
                    return Err(syntax(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    )))
                }
            }
            let requirement = self
                .requirement()
                .map_err(|e| Error::Requirement(Box::new(e)))?;
            requirements.push(requirement);
            match self.next_value() {
                Token::End => return Ok(Selector::from_requirements(requirements)),
                Token::Comma => match self.peek_value() {
                    Token::Identifier(_) | Token::Not => {}
                    other => {
                        return Err(syntax(format!(
                            "found '{}', expected: identifier after ','",
                            other.literal()
                        )))
                    }
                },
                other => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        other.literal()
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement> {
        let mut token = self.next_value();
        let negated = token == Token::Not;
        if negated {
            token = self.next_value();
        }
        let Token::Identifier(key) = token else {
            return Err(syntax(format!(
                "found '{}', expected: identifier",
                token.literal()
            )));
        };
        validate_key(&key)?;
        if negated {
            return Requirement::new(&key, Operator::DoesNotExist, Vec::<String>::new());
        }
        if matches!(self.peek_value(), Token::End | Token::Comma) {
            return Requirement::new(&key, Operator::Exists, Vec::<String>::new());
        }
        let operator = match self.next_raw() {
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return Err(syntax(format!(
                    "found '{}', expected: {OPERATORS}",
                    other.literal()
                )))
            }
        };
        let values = if matches!(operator, Operator::In | Operator::NotIn) {
            self.value_set()?
        } else {
            vec![self.exact_value()?]
        };
        Requirement::new(&key, operator, values)
    }

    /// `a=` and `a=,b` mean "a has the empty value", as in Kubernetes.
    fn exact_value(&mut self) -> Result<String> {
        if matches!(self.peek_value(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.next_value() {
            Token::Identifier(v) => Ok(v),
            other => Err(syntax(format!(
                "found '{}', expected: identifier",
                other.literal()
            ))),
        }
    }

    /// `(a,b)`; empty elements (`()`, `(,a)`, `(a,,b)`, `(a,)`) are the empty value, as in
    /// Kubernetes.
    fn value_set(&mut self) -> Result<Vec<String>> {
        let open = self.next_value();
        if open != Token::OpenParen {
            return Err(syntax(format!("found '{}' expected: '('", open.literal())));
        }
        let first = self.peek_value();
        match first {
            Token::Identifier(_) | Token::Comma => {}
            Token::CloseParen => {
                self.next_value();
                return Ok(vec![String::new()]);
            }
            other => {
                return Err(syntax(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    other.literal()
                )))
            }
        }
        let values = self.identifier_list()?;
        if self.next_value() != Token::CloseParen {
            return Err(syntax(format!(
                "found '{}', expected: ')'",
                first.literal()
            )));
        }
        Ok(values)
    }

    fn identifier_list(&mut self) -> Result<Vec<String>> {
        let mut values = Vec::new();
        loop {
            match self.next_value() {
                Token::Identifier(v) => {
                    values.push(v);
                    match self.peek_value() {
                        Token::Comma => {}
                        Token::CloseParen => return Ok(values),
                        other => {
                            return Err(syntax(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            )))
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek_value() {
                        Token::CloseParen => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.next_value();
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    )))
                }
            }
        }
    }
}
