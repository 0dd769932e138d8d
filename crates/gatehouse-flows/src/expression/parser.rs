//! Recursive-descent parser from tokens to the [`Expr`] tree. Precedence, loosest first:
//! `or`, `and`, `not`, one comparison (never chained), then values. Nesting is limited to
//! [`super::MAX_DEPTH`] so neither parsing nor evaluation can exhaust the stack.

use super::lexer::{Token, TokenKind};
use super::{ExpressionError, MAX_DEPTH, ROOTS};
use serde_json::Value;

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
}

impl CompareOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "in",
            Self::NotIn => "not in",
            Self::Contains => "contains",
            Self::StartsWith => "startswith",
            Self::EndsWith => "endswith",
        }
    }
}

/// The built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    /// `cidr(address, "network/prefix")`: whether the address lies in the network.
    Cidr,
    /// `lower(text)`: the text in lower case.
    Lower,
}

impl Function {
    fn lookup(name: &str) -> Option<(Self, usize)> {
        match name {
            "cidr" => Some((Self::Cidr, 2)),
            "lower" => Some((Self::Lower, 1)),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cidr => "cidr",
            Self::Lower => "lower",
        }
    }
}

/// The syntax tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Literal(Value),
    List(Vec<Expr>),
    Path(Vec<String>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Call {
        function: Function,
        args: Vec<Expr>,
    },
}

pub(crate) struct Parser {
    tokens: Vec<Token>,
    index: usize,
    depth: usize,
}

const VALUE_START: &str = "a value (string, number, true, false, null, list, name or `(`)";

impl Parser {
    pub(crate) fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens,
            index: 0,
            depth: 0,
        }
    }

    /// Parses a whole expression; trailing tokens are an error.
    pub(crate) fn parse(mut self) -> Result<Expr, ExpressionError> {
        let expr = self.or()?;
        let token = self.peek();
        match &token.kind {
            TokenKind::End => Ok(expr),
            kind if comparison(kind, self.peek_kind_at(1)).is_some() => Err(ExpressionError::new(
                token.column,
                format!(
                    "comparisons cannot be chained (found {}); join them with `and`",
                    kind.describe()
                ),
            )),
            kind => Err(ExpressionError::new(
                token.column,
                format!(
                    "expected an operator, `and`, `or` or the end of the expression, found {}",
                    kind.describe()
                ),
            )),
        }
    }

    fn peek(&self) -> &Token {
        // The token list always ends with `End`, and `bump` never moves past it.
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn peek_kind_at(&self, offset: usize) -> Option<&TokenKind> {
        self.tokens.get(self.index + offset).map(|t| &t.kind)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.index < self.tokens.len() - 1 {
            self.index += 1;
        }
        token
    }

    fn expect(&mut self, wanted: &TokenKind, what: &str) -> Result<Token, ExpressionError> {
        let token = self.bump();
        if &token.kind == wanted {
            Ok(token)
        } else {
            Err(ExpressionError::new(
                token.column,
                format!("expected {what}, found {}", token.kind.describe()),
            ))
        }
    }

    fn descend(&mut self) -> Result<(), ExpressionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExpressionError::new(
                self.peek().column,
                format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ExpressionError> {
        self.descend()?;
        let mut left = self.and()?;
        while self.peek().kind == TokenKind::Or {
            self.bump();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExpressionError> {
        let mut left = self.not()?;
        while self.peek().kind == TokenKind::And {
            self.bump();
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ExpressionError> {
        if self.peek().kind == TokenKind::Not {
            self.bump();
            self.descend()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ExpressionError> {
        let left = self.value()?;
        let Some((op, width)) = comparison(&self.peek().kind, self.peek_kind_at(1)) else {
            return Ok(left);
        };
        for _ in 0..width {
            self.bump();
        }
        let right = self.value()?;
        Ok(Expr::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    fn value(&mut self) -> Result<Expr, ExpressionError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Str(s) => Ok(Expr::Literal(Value::String(s))),
            TokenKind::Num(n) => Ok(Expr::Literal(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            TokenKind::True => Ok(Expr::Literal(Value::Bool(true))),
            TokenKind::False => Ok(Expr::Literal(Value::Bool(false))),
            TokenKind::Null => Ok(Expr::Literal(Value::Null)),
            TokenKind::LParen => {
                let inner = self.or()?;
                self.expect(&TokenKind::RParen, "`)`")?;
                Ok(inner)
            }
            TokenKind::LBracket => self.list(),
            TokenKind::Ident(name) if self.peek().kind == TokenKind::LParen => {
                self.call(&name, token.column)
            }
            TokenKind::Ident(name) => self.path(name, token.column),
            other => Err(ExpressionError::new(
                token.column,
                format!("expected {VALUE_START}, found {}", other.describe()),
            )),
        }
    }

    fn list(&mut self) -> Result<Expr, ExpressionError> {
        self.descend()?;
        let mut items = Vec::new();
        loop {
            if self.peek().kind == TokenKind::RBracket {
                self.bump();
                break;
            }
            items.push(self.or()?);
            let token = self.bump();
            match token.kind {
                TokenKind::Comma => {}
                TokenKind::RBracket => break,
                other => {
                    return Err(ExpressionError::new(
                        token.column,
                        format!(
                            "expected `,` or `]` in the list, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
        self.depth -= 1;
        Ok(Expr::List(items))
    }

    fn call(&mut self, name: &str, column: usize) -> Result<Expr, ExpressionError> {
        let Some((function, arity)) = Function::lookup(name) else {
            return Err(ExpressionError::new(
                column,
                format!("unknown function `{name}` (available: cidr, lower)"),
            ));
        };
        self.descend()?;
        self.expect(&TokenKind::LParen, "`(`")?;
        let mut args = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            self.bump();
        } else {
            loop {
                args.push(self.or()?);
                let token = self.bump();
                match token.kind {
                    TokenKind::Comma => {}
                    TokenKind::RParen => break,
                    other => {
                        return Err(ExpressionError::new(
                            token.column,
                            format!(
                                "expected `,` or `)` after an argument of {name}, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        }
        self.depth -= 1;
        if args.len() != arity {
            return Err(ExpressionError::new(
                column,
                format!(
                    "{name} takes {arity} argument{}, found {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        if function == Function::Cidr
            && let Some(Expr::Literal(Value::String(network))) = args.get(1)
            && let Err(message) = super::eval::parse_network(network)
        {
            return Err(ExpressionError::new(column, message));
        }
        Ok(Expr::Call { function, args })
    }

    fn path(&mut self, root: String, column: usize) -> Result<Expr, ExpressionError> {
        if !ROOTS.contains(&root.as_str()) {
            return Err(ExpressionError::new(
                column,
                format!("unknown name `{root}` (expected user, request, flow or context)"),
            ));
        }
        let mut segments = vec![root];
        while self.peek().kind == TokenKind::Dot {
            self.bump();
            let token = self.bump();
            match token.kind {
                TokenKind::Ident(name) => segments.push(name),
                other => {
                    return Err(ExpressionError::new(
                        token.column,
                        format!(
                            "expected a field name after `.`, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
        Ok(Expr::Path(segments))
    }
}

/// The comparison operator starting at `kind` (with `next` for `not in`) and how many tokens
/// it spans.
fn comparison(kind: &TokenKind, next: Option<&TokenKind>) -> Option<(CompareOp, usize)> {
    let op = match kind {
        TokenKind::Eq => CompareOp::Eq,
        TokenKind::Ne => CompareOp::Ne,
        TokenKind::Lt => CompareOp::Lt,
        TokenKind::Le => CompareOp::Le,
        TokenKind::Gt => CompareOp::Gt,
        TokenKind::Ge => CompareOp::Ge,
        TokenKind::In => CompareOp::In,
        TokenKind::Contains => CompareOp::Contains,
        TokenKind::StartsWith => CompareOp::StartsWith,
        TokenKind::EndsWith => CompareOp::EndsWith,
        TokenKind::Not if next == Some(&TokenKind::In) => return Some((CompareOp::NotIn, 2)),
        _ => return None,
    };
    Some((op, 1))
}
