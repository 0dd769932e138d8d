//! Splits an expression into tokens, each with the column it starts at, so parse errors can
//! point at the exact place.

use super::ExpressionError;

/// One lexical element.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    Str(String),
    Num(f64),
    Ident(String),
    True,
    False,
    Null,
    And,
    Or,
    Not,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    End,
}

impl TokenKind {
    /// How the token is named in "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Str(s) => format!("string {s:?}"),
            Self::Num(n) => format!("number {n}"),
            Self::Ident(name) => format!("name `{name}`"),
            Self::True => "`true`".into(),
            Self::False => "`false`".into(),
            Self::Null => "`null`".into(),
            Self::And => "`and`".into(),
            Self::Or => "`or`".into(),
            Self::Not => "`not`".into(),
            Self::In => "`in`".into(),
            Self::Contains => "`contains`".into(),
            Self::StartsWith => "`startswith`".into(),
            Self::EndsWith => "`endswith`".into(),
            Self::Eq => "`==`".into(),
            Self::Ne => "`!=`".into(),
            Self::Lt => "`<`".into(),
            Self::Le => "`<=`".into(),
            Self::Gt => "`>`".into(),
            Self::Ge => "`>=`".into(),
            Self::LParen => "`(`".into(),
            Self::RParen => "`)`".into(),
            Self::LBracket => "`[`".into(),
            Self::RBracket => "`]`".into(),
            Self::Comma => "`,`".into(),
            Self::Dot => "`.`".into(),
            Self::End => "the end of the expression".into(),
        }
    }
}

/// A token and the 1-based column (in characters) where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) column: usize,
}

/// Tokenises `source`; the last token is always [`TokenKind::End`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ExpressionError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let peek = chars.get(i + 1).copied();
        let (kind, width) = match c {
            '(' => (TokenKind::LParen, 1),
            ')' => (TokenKind::RParen, 1),
            '[' => (TokenKind::LBracket, 1),
            ']' => (TokenKind::RBracket, 1),
            ',' => (TokenKind::Comma, 1),
            '.' => (TokenKind::Dot, 1),
            '=' if peek == Some('=') => (TokenKind::Eq, 2),
            '=' => {
                return Err(ExpressionError::new(
                    column,
                    "found `=`; use `==` to compare",
                ));
            }
            '!' if peek == Some('=') => (TokenKind::Ne, 2),
            '!' => {
                return Err(ExpressionError::new(
                    column,
                    "found `!`; use `not` to negate or `!=` to compare",
                ));
            }
            '<' if peek == Some('=') => (TokenKind::Le, 2),
            '<' => (TokenKind::Lt, 1),
            '>' if peek == Some('=') => (TokenKind::Ge, 2),
            '>' => (TokenKind::Gt, 1),
            '"' | '\'' => {
                let (text, width) = string_literal(&chars, i)?;
                (TokenKind::Str(text), width)
            }
            '-' if peek.is_some_and(|p| p.is_ascii_digit()) => number_literal(&chars, i)?,
            d if d.is_ascii_digit() => number_literal(&chars, i)?,
            a if a.is_ascii_alphabetic() || a == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || **ch == '_')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                (keyword_or_ident(word), len)
            }
            other => {
                return Err(ExpressionError::new(
                    column,
                    format!("unexpected character {other:?}"),
                ));
            }
        };
        tokens.push(Token { kind, column });
        i += width;
    }
    tokens.push(Token {
        kind: TokenKind::End,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

fn keyword_or_ident(word: String) -> TokenKind {
    match word.as_str() {
        "true" => TokenKind::True,
        "false" => TokenKind::False,
        "null" => TokenKind::Null,
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "not" => TokenKind::Not,
        "in" => TokenKind::In,
        "contains" => TokenKind::Contains,
        "startswith" => TokenKind::StartsWith,
        "endswith" => TokenKind::EndsWith,
        _ => TokenKind::Ident(word),
    }
}

/// Reads a quoted string starting at `start`; returns its value and its width in characters.
fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), ExpressionError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let escaped = match chars.get(i + 1) {
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some(other) => {
                        return Err(ExpressionError::new(
                            i + 1,
                            format!(
                                "unknown escape `\\{other}` (expected \\\\, \\\", \\', \\n, \\t or \\r)"
                            ),
                        ));
                    }
                    None => break,
                };
                text.push(escaped);
                i += 2;
            }
            c if c == quote => return Ok((text, i + 1 - start)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(ExpressionError::new(
        start + 1,
        format!("string is not closed (expected a closing {quote})"),
    ))
}

/// Reads `-?digits(.digits)?` starting at `start`.
fn number_literal(chars: &[char], start: usize) -> Result<(TokenKind, usize), ExpressionError> {
    let mut i = start;
    if chars.get(i) == Some(&'-') {
        i += 1;
    }
    while chars.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
    }
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        i += 1;
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
    }
    let text: String = chars[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok((TokenKind::Num(value), i - start)),
        _ => Err(ExpressionError::new(
            start + 1,
            format!("number {text} is out of range"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .expect("tokens")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn splits_operators_literals_and_names() {
        assert_eq!(
            kinds("user.age >= -1.5 and 'a\\'b' != \"c\""),
            vec![
                TokenKind::Ident("user".into()),
                TokenKind::Dot,
                TokenKind::Ident("age".into()),
                TokenKind::Ge,
                TokenKind::Num(-1.5),
                TokenKind::And,
                TokenKind::Str("a'b".into()),
                TokenKind::Ne,
                TokenKind::Str("c".into()),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn reports_columns_of_bad_input() {
        let err = tokenize("a = b").expect_err("single equals");
        assert_eq!(err.column, 3);
        let err = tokenize("x == 'open").expect_err("unterminated");
        assert_eq!(err.column, 6);
        assert!(err.message.contains("not closed"));
        let err = tokenize("é $").expect_err("unknown char");
        assert_eq!(err.column, 1);
        let err = tokenize("'\\q'").expect_err("bad escape");
        assert!(err.message.contains("unknown escape"));
    }

    #[test]
    fn refuses_numbers_that_do_not_fit() {
        let huge = "9".repeat(400);
        assert!(tokenize(&huge).is_err());
    }
}
