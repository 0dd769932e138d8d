//! Evaluates an [`Expr`] against a JSON context. Strict typing: `and`, `or` and `not` need
//! booleans, ordering needs two numbers or two strings, and a type mismatch is an error (which
//! the policy layer turns into "did not pass"), never a silent guess.

use super::EvalError;
use super::parser::{CompareOp, Expr, Function};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

/// Evaluates `expr` to a value.
pub(crate) fn evaluate<'a>(
    expr: &'a Expr,
    context: &'a Value,
) -> Result<Cow<'a, Value>, EvalError> {
    match expr {
        Expr::Literal(value) => Ok(Cow::Borrowed(value)),
        Expr::List(items) => items
            .iter()
            .map(|item| evaluate(item, context).map(Cow::into_owned))
            .collect::<Result<Vec<_>, _>>()
            .map(|items| Cow::Owned(Value::Array(items))),
        Expr::Path(segments) => Ok(Cow::Borrowed(resolve(context, segments))),
        Expr::Not(inner) => {
            let value = boolean(&*evaluate(inner, context)?, "not")?;
            Ok(Cow::Owned(Value::Bool(!value)))
        }
        Expr::And(left, right) => {
            if !boolean(&*evaluate(left, context)?, "and")? {
                return Ok(Cow::Owned(Value::Bool(false)));
            }
            let right = boolean(&*evaluate(right, context)?, "and")?;
            Ok(Cow::Owned(Value::Bool(right)))
        }
        Expr::Or(left, right) => {
            if boolean(&*evaluate(left, context)?, "or")? {
                return Ok(Cow::Owned(Value::Bool(true)));
            }
            let right = boolean(&*evaluate(right, context)?, "or")?;
            Ok(Cow::Owned(Value::Bool(right)))
        }
        Expr::Compare { op, left, right } => {
            let left = evaluate(left, context)?;
            let right = evaluate(right, context)?;
            compare(*op, &left, &right).map(|b| Cow::Owned(Value::Bool(b)))
        }
        Expr::Call { function, args } => {
            let args = args
                .iter()
                .map(|arg| evaluate(arg, context))
                .collect::<Result<Vec<_>, _>>()?;
            call(*function, &args).map(Cow::Owned)
        }
    }
}

/// Follows `segments` through nested objects; anything missing is `null`.
fn resolve<'a>(context: &'a Value, segments: &[String]) -> &'a Value {
    static NULL: Value = Value::Null;
    let mut current = context;
    for segment in segments {
        match current.get(segment.as_str()) {
            Some(next) => current = next,
            None => return &NULL,
        }
    }
    current
}

/// The JSON type name used in error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn boolean(value: &Value, operator: &str) -> Result<bool, EvalError> {
    value.as_bool().ok_or_else(|| {
        EvalError(format!(
            "`{operator}` needs true or false, found {}",
            type_name(value)
        ))
    })
}

/// Equality where numbers compare by value (`1 == 1.0`) at any depth.
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| equal(x, y)))
        }
        _ => left == right,
    }
}

fn compare(op: CompareOp, left: &Value, right: &Value) -> Result<bool, EvalError> {
    let mismatch = || {
        EvalError(format!(
            "cannot use `{}` with {} and {}",
            op.symbol(),
            type_name(left),
            type_name(right)
        ))
    };
    match op {
        CompareOp::Eq => Ok(equal(left, right)),
        CompareOp::Ne => Ok(!equal(left, right)),
        CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
            let ordering = match (left, right) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            }
            .ok_or_else(mismatch)?;
            Ok(match op {
                CompareOp::Lt => ordering == Ordering::Less,
                CompareOp::Le => ordering != Ordering::Greater,
                CompareOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            })
        }
        CompareOp::In => member(left, right).ok_or_else(mismatch),
        CompareOp::NotIn => member(left, right).map(|b| !b).ok_or_else(mismatch),
        CompareOp::Contains => member(right, left).ok_or_else(mismatch),
        CompareOp::StartsWith | CompareOp::EndsWith => match (left, right) {
            (Value::String(a), Value::String(b)) => Ok(if op == CompareOp::StartsWith {
                a.starts_with(b.as_str())
            } else {
                a.ends_with(b.as_str())
            }),
            _ => Err(mismatch()),
        },
    }
}

/// `needle in haystack`: list membership, substring, or object key. `None` on a type mismatch.
fn member(needle: &Value, haystack: &Value) -> Option<bool> {
    match (needle, haystack) {
        (_, Value::Array(items)) => Some(items.iter().any(|item| equal(needle, item))),
        (Value::String(n), Value::String(h)) => Some(h.contains(n.as_str())),
        (Value::String(n), Value::Object(map)) => Some(map.contains_key(n)),
        _ => None,
    }
}

fn call(function: Function, args: &[Cow<'_, Value>]) -> Result<Value, EvalError> {
    let text = |index: usize| -> Result<&str, EvalError> {
        match args.get(index).map(|v| v.as_ref()) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(EvalError(format!(
                "{}: argument {} must be a string, found {}",
                function.name(),
                index + 1,
                type_name(other)
            ))),
            None => Err(EvalError(format!(
                "{}: missing argument {}",
                function.name(),
                index + 1
            ))),
        }
    };
    match function {
        Function::Lower => Ok(Value::String(text(0)?.to_lowercase())),
        Function::Cidr => {
            let network = parse_network(text(1)?).map_err(EvalError)?;
            // An unknown address is in no network, so `not cidr(...)` guards fail closed.
            if args.first().is_some_and(|a| a.is_null()) {
                return Ok(Value::Bool(false));
            }
            let address: IpAddr = text(0)?
                .parse()
                .map_err(|_| EvalError("cidr: argument 1 is not an IP address".into()))?;
            Ok(Value::Bool(network.contains(address)))
        }
    }
}

/// An IP network: its address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `address` lies inside; IPv4-mapped IPv6 addresses also count as IPv4.
    fn contains(self, address: IpAddr) -> bool {
        self.matches(address) || self.matches(address.to_canonical())
    }

    fn matches(self, address: IpAddr) -> bool {
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses `address/prefix` (a bare address means a single host).
pub(crate) fn parse_network(text: &str) -> Result<Network, String> {
    let bad = || format!("cidr: {text:?} is not a network like \"10.0.0.0/8\" or \"fd00::/8\"");
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
            p.parse::<u8>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if prefix > max {
        return Err(bad());
    }
    if let IpAddr::V6(v6) = address
        && prefix >= 96
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        // ::ffff:a.b.c.d/120 is the IPv4 network a.b.c.d/24.
        return Ok(Network {
            address: IpAddr::V4(v4),
            prefix: prefix - 96,
        });
    }
    Ok(Network { address, prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(network: &str, address: &str) -> bool {
        parse_network(network)
            .expect("network")
            .contains(address.parse().expect("address"))
    }

    #[test]
    fn networks_match_addresses() {
        assert!(contains("10.0.0.0/8", "10.200.1.1"));
        assert!(!contains("10.0.0.0/8", "11.0.0.1"));
        assert!(contains("0.0.0.0/0", "192.0.2.1"));
        assert!(contains("192.0.2.7", "192.0.2.7"));
        assert!(!contains("192.0.2.7", "192.0.2.8"));
        assert!(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(contains("fd00::/8", "fd12::1"));
        assert!(!contains("fd00::/8", "fe80::1"));
        assert!(!contains("10.0.0.0/8", "fd00::1"));
        assert!(contains("::ffff:10.0.0.0/104", "10.9.9.9"));
    }

    #[test]
    fn bad_networks_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "10.0.0.0/+8",
            "x/1",
            "::/129",
        ] {
            assert!(parse_network(bad).is_err(), "{bad}");
        }
    }
}
