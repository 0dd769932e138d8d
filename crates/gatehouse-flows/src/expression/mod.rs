//! The expression policy language: a small, safe stand-in for authentik's Python expression
//! policies. There is no `eval` and no way to call out: an expression is parsed into a tree of
//! literals, paths into a read-only JSON context (`user`, `request`, `flow`, `context`),
//! comparison and boolean operators and two pure functions (`cidr`, `lower`), then evaluated.
//! Size and nesting are bounded ([`MAX_EXPRESSION_LEN`], [`MAX_DEPTH`]), so a stored policy
//! cannot exhaust memory or the stack.
//!
//! ```text
//! "staff" in user.groups and cidr(request.ip, "10.0.0.0/8")
//! not (user.attributes.department == "sales") or context.source == "forgejo"
//! ```

mod eval;
mod lexer;
mod parser;

use serde_json::Value;

/// The longest accepted expression, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 2048;
/// The deepest accepted nesting of parentheses, `not`, lists and function calls.
pub const MAX_DEPTH: usize = 32;
/// The names a path may start with.
pub(crate) const ROOTS: &[&str] = &["user", "request", "flow", "context"];

/// Why an expression does not parse: where (1-based column, in characters) and what was
/// expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ExpressionError {
    /// 1-based character column of the problem.
    pub column: usize,
    /// What is wrong, phrased as "expected …, found …" where possible.
    pub message: String,
}

impl ExpressionError {
    pub(crate) fn new(column: usize, message: impl Into<String>) -> Self {
        Self {
            column,
            message: message.into(),
        }
    }
}

/// Why a parsed expression could not be evaluated (a type mismatch, a malformed address).
/// Policies treat it as "did not pass".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// A parsed expression, ready to evaluate any number of times.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    source: String,
    tree: parser::Expr,
}

impl Expression {
    /// Parses `source`, reporting the first problem with its column.
    pub fn parse(source: &str) -> Result<Self, ExpressionError> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(ExpressionError::new(
                1,
                format!("expression is longer than {MAX_EXPRESSION_LEN} bytes"),
            ));
        }
        let tokens = lexer::tokenize(source)?;
        let tree = parser::Parser::new(tokens).parse()?;
        Ok(Self {
            source: source.to_owned(),
            tree,
        })
    }

    /// The text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `context` (an object with `user`, `request`, `flow` and `context`
    /// members; missing members read as `null`). The result must be a boolean.
    pub fn evaluate(&self, context: &Value) -> Result<bool, EvalError> {
        let value = eval::evaluate(&self.tree, context)?;
        value.as_bool().ok_or_else(|| {
            EvalError(format!(
                "the expression produced {}, not true or false",
                eval::type_name(&value)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn context() -> Value {
        json!({
            "user": {
                "username": "alice",
                "email": "Alice@Example.com",
                "groups": ["staff", "grafana-admins"],
                "attributes": {"department": "engineering", "level": 3},
                "is_authenticated": true
            },
            "request": {"ip": "10.1.2.3", "user_agent": "Mozilla/5.0 (X11; Linux)"},
            "flow": {"slug": "default-authentication-flow", "designation": "authentication"},
            "context": {"source": "forgejo", "is_restored": false}
        })
    }

    fn eval(source: &str) -> Result<bool, EvalError> {
        Expression::parse(source)
            .unwrap_or_else(|e| panic!("{source}: {e}"))
            .evaluate(&context())
    }

    fn holds(source: &str) -> bool {
        eval(source).unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    fn parse_error(source: &str) -> ExpressionError {
        Expression::parse(source).expect_err(source)
    }

    #[test]
    fn comparison_operators() {
        for yes in [
            "user.username == \"alice\"",
            "user.username != 'bob'",
            "user.attributes.level > 2",
            "user.attributes.level >= 3",
            "user.attributes.level < 3.5",
            "user.attributes.level <= 3",
            "user.attributes.level == 3.0",
            "'b' > 'a'",
            "\"staff\" in user.groups",
            "'admins' not in user.groups",
            "user.groups contains 'grafana-admins'",
            "'Linux' in request.user_agent",
            "request.user_agent startswith 'Mozilla/'",
            "user.email endswith '@Example.com'",
            "lower(user.email) == 'alice@example.com'",
            "'department' in user.attributes",
            "user.username in ['bob', 'alice']",
            "[1, 2] == [1.0, 2]",
            "user.missing.deeper == null",
            "context.source == 'forgejo'",
            "flow.designation == 'authentication'",
            "cidr(request.ip, '10.0.0.0/8')",
            "not cidr(request.ip, '192.168.0.0/16')",
            "not cidr(request.missing, '10.0.0.0/8')",
            "true",
        ] {
            assert!(holds(yes), "{yes}");
        }
        for no in [
            "user.username == 'bob'",
            "'x' in []",
            "user.groups contains 'root'",
            "context.is_restored",
            "false",
        ] {
            assert!(!holds(no), "{no}");
        }
    }

    #[test]
    fn precedence_and_short_circuit() {
        // `and` binds tighter than `or`.
        assert!(holds("true or false and false"));
        assert!(!holds("(true or false) and false"));
        // `not` binds looser than comparison and tighter than `and`.
        assert!(holds("not user.username == 'bob' and true"));
        assert!(holds("not not true"));
        // The right side is not evaluated when the left decides (it would be a type error).
        assert!(holds("true or user.username < 3"));
        assert!(!holds("false and user.username < 3"));
    }

    #[test]
    fn type_mismatches_are_evaluation_errors() {
        for bad in [
            "user.username < 3",
            "user.username and true",
            "not user.username",
            "'x' in user.nothing",
            "user.attributes.level startswith '3'",
            "user.username",
            "cidr(user.username, '10.0.0.0/8')",
            "cidr(request.ip, user.username)",
            "lower(user.attributes.level) == '3'",
        ] {
            let err = eval(bad).expect_err(bad);
            assert!(!err.0.is_empty());
        }
    }

    #[test]
    fn parse_errors_say_where_and_what_was_expected() {
        let e = parse_error("user.username ==");
        assert_eq!(e.column, 17);
        assert!(e.message.starts_with("expected a value"), "{e}");
        assert!(e.message.contains("found the end of the expression"), "{e}");

        let e = parse_error("(true");
        assert_eq!(
            (e.column, e.message.as_str()),
            (6, "expected `)`, found the end of the expression")
        );

        let e = parse_error("usr.name == 'x'");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("unknown name `usr`"), "{e}");

        let e = parse_error("1 < 2 < 3");
        assert_eq!(e.column, 7);
        assert!(e.message.contains("cannot be chained"), "{e}");

        let e = parse_error("true true");
        assert_eq!(e.column, 6);

        let e = parse_error("exec('rm')");
        assert!(e.message.contains("unknown function `exec`"), "{e}");

        let e = parse_error("cidr(request.ip)");
        assert!(e.message.contains("takes 2 arguments, found 1"), "{e}");

        let e = parse_error("cidr(request.ip, '10.0.0.0/99')");
        assert!(e.message.contains("is not a network"), "{e}");

        let e = parse_error("user. == 1");
        assert!(e.message.contains("field name after `.`"), "{e}");

        let e = parse_error("[1, 2");
        assert!(e.message.contains("`,` or `]`"), "{e}");

        assert_eq!(
            parse_error("user.a == 1 2").to_string(),
            "column 13: expected an operator, `and`, `or` or the end of the expression, found number 2"
        );
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let long = format!("'{}'", "a".repeat(MAX_EXPRESSION_LEN));
        assert!(parse_error(&long).message.contains("longer than"));

        let deep = format!(
            "{}true{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(parse_error(&deep).message.contains("nested too deeply"));
        let ok = format!(
            "{}true{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(holds(&ok));

        let nots = format!("{}true", "not ".repeat(200));
        assert!(parse_error(&nots).message.contains("nested too deeply"));
        let lists = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(parse_error(&lists).message.contains("nested too deeply"));
    }

    #[test]
    fn trailing_comma_and_empty_lists() {
        assert!(holds("'a' in ['a',]"));
        assert!(holds("[] == []"));
        assert!(parse_error("[,]").message.starts_with("expected a value"));
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_text(source in "\\PC{0,300}") {
            let _ = Expression::parse(&source);
        }

        #[test]
        fn parser_never_panics_on_token_soup(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("user"), Just("."), Just("groups"), Just("=="), Just("!="),
                    Just("<"), Just(">="), Just("and"), Just("or"), Just("not"), Just("in"),
                    Just("contains"), Just("startswith"), Just("("), Just(")"), Just("["),
                    Just("]"), Just(","), Just("'x'"), Just("1"), Just("-2.5"), Just("null"),
                    Just("true"), Just("cidr"), Just("lower"), Just("request.ip"),
                    Just("'10.0.0.0/8'"), Just("\""), Just("'"), Just("\\"),
                ],
                0..60,
            )
        ) {
            let source = parts.join(" ");
            if let Ok(expression) = Expression::parse(&source) {
                let _ = expression.evaluate(&context());
            }
        }
    }
}
