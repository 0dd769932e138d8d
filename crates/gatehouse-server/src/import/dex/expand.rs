//! Dex expands `$NAME` and `${NAME}` in connector (and storage) settings from its
//! environment. The import does the same, with one difference on purpose: a variable that
//! is not set is an error naming it, where Dex would quietly use an empty string, because
//! an import that turns a missing secret into an empty one would fail much later and far
//! from the cause.

use serde_yaml::Value;

/// Expands every string inside `value` in place; `path` names `value` in messages.
pub fn expand_value(
    value: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    match value {
        Value::String(text) => {
            *text = expand(text, env)
                .map_err(|name| format!("{path}: environment variable {name} is not set"))?;
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{index}]"), env)?;
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = key.as_str().unwrap_or("?");
                expand_value(item, &format!("{path}.{key}"), env)?;
            }
        }
        Value::Tagged(tagged) => expand_value(&mut tagged.value, path, env)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Expands one string; the error is the name of the first unset variable. A `$` that starts
/// no name (`$5`, `${}`, a trailing `$`) is kept as it is.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if is_name(&braced[..end]) => (&braced[..end], end + 2),
                _ => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if is_name(&after[..end]) {
                (&after[..end], end)
            } else {
                ("", 0)
            }
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A variable name: a letter or `_`, then letters, digits and `_`.
fn is_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ID" => Some("client-1".into()),
            "SECRET" => Some("s3cr$t".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_both_forms_and_keeps_stray_dollars() {
        assert_eq!(expand("$ID", &env).as_deref(), Ok("client-1"));
        assert_eq!(expand("x-${ID}-y", &env).as_deref(), Ok("x-client-1-y"));
        assert_eq!(
            expand("$ID/$SECRET", &env).as_deref(),
            Ok("client-1/s3cr$t")
        );
        assert_eq!(
            expand("cost $5 or ${}", &env).as_deref(),
            Ok("cost $5 or ${}")
        );
        assert_eq!(expand("end$", &env).as_deref(), Ok("end$"));
        assert_eq!(expand("plain", &env).as_deref(), Ok("plain"));
    }

    #[test]
    fn an_unset_variable_is_named() {
        assert_eq!(expand("a $MISSING b", &env), Err("MISSING".to_owned()));
        let mut value: Value =
            serde_yaml::from_str("clientSecret: ${NOPE}\norgs: [{name: $ID}]").expect("yaml");
        let error = expand_value(&mut value, "connectors[0].config", &env).expect_err("unset");
        assert_eq!(
            error,
            "connectors[0].config.clientSecret: environment variable NOPE is not set"
        );
    }

    #[test]
    fn expands_inside_nested_values() -> Result<(), String> {
        let mut value: Value =
            serde_yaml::from_str("orgs: [{name: $ID, teams: [\"${ID}-admins\"]}]\nn: 3")
                .map_err(|e| e.to_string())?;
        expand_value(&mut value, "c", &env)?;
        assert_eq!(value["orgs"][0]["name"], Value::from("client-1"));
        assert_eq!(value["orgs"][0]["teams"][0], Value::from("client-1-admins"));
        Ok(())
    }
}
