//! The YAML document's shape. Field names are a stable contract (see docs/apply.md); absent
//! optional fields leave existing values alone.

use crate::reference;
use gatehouse_core::UserType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Groups, in any order (parents are created first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSpec>,
    /// Users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserSpec>,
    /// Flows, matched by slug and replaced as a whole (docs/flows.md describes their shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<gatehouse_flows::Flow>,
    /// Applications with their OAuth2/OIDC providers, matched by slug.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<super::app_spec::ApplicationSpec>,
    /// Upstream login sources, matched by slug and replaced as a whole (docs/sources.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<super::source_spec::SourceSpec>,
}

/// A group, matched by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Unique name.
    pub name: String,
    /// Parent group's name; `null` makes it a root group.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub parent: Option<Option<String>>,
    /// Members administer Gatehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
    /// Free-form attributes (replaced as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

/// A user, matched by username.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Unique login name.
    pub username: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Whether the user may sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// `internal`, `external` or `service_account`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserType>,
    /// A plain password (usually `env://NAME`); hashed with Argon2id on apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A ready hash: `$argon2id$…` or bcrypt `$2a$/$2b$/$2y$…` (rehashed on first login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Direct group memberships, exactly (absent: memberships are left alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Free-form attributes (replaced as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    /// Not YAML, or not this document's shape.
    #[error("{0}")]
    Syntax(String),
    /// A reference value could not be resolved.
    #[error("{path}: {reason}")]
    Reference {
        /// Where in the document (`users[0].password`).
        path: String,
        /// Why.
        reason: String,
    },
}

impl Document {
    /// Parses YAML text, resolving `env://` and `file://` values first.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let mut value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| DocumentError::Syntax(e.to_string()))?;
        if value.is_null() {
            return Ok(Self::default());
        }
        resolve_references(&mut value, &mut String::new())?;
        serde_yaml::from_value(value).map_err(|e| DocumentError::Syntax(e.to_string()))
    }

    /// Renders the document as YAML.
    pub fn to_yaml(&self) -> Result<String, DocumentError> {
        serde_yaml::to_string(self).map_err(|e| DocumentError::Syntax(e.to_string()))
    }
}

fn resolve_references(
    value: &mut serde_yaml::Value,
    path: &mut String,
) -> Result<(), DocumentError> {
    match value {
        serde_yaml::Value::String(text) => {
            if let Some(resolved) =
                reference::resolve(text).map_err(|e| DocumentError::Reference {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            {
                *text = resolved;
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                resolve_references(item, path)?;
                path.truncate(len);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key.as_str().unwrap_or("?"));
                resolve_references(item, path)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// `Option<Option<T>>` that tells "absent" (outer `None`) from `null` (inner `None`).
pub(super) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(in crate::declarative) fn deserialize<'de, D, T>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }

    pub(in crate::declarative) fn serialize<S, T>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() -> Result<(), DocumentError> {
        let doc = Document::parse(
            "groups:\n  - name: staff\n  - name: grafana-admins\n    parent: staff\nusers:\n  - username: alice\n    email: alice@example.com\n    password_hash: \"$2b$04$abc\"\n    groups: [grafana-admins]\n",
        )?;
        assert_eq!(doc.groups.len(), 2);
        assert_eq!(doc.groups[1].parent, Some(Some("staff".into())));
        assert_eq!(doc.groups[0].parent, None);
        assert_eq!(
            doc.users[0].groups.as_deref(),
            Some(&["grafana-admins".to_owned()][..])
        );
        Ok(())
    }

    #[test]
    fn null_parent_differs_from_absent() -> Result<(), DocumentError> {
        let doc = Document::parse("groups:\n  - name: a\n    parent: null\n")?;
        assert_eq!(doc.groups[0].parent, Some(None));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Document::parse("users:\n  - username: a\n    emial: x@y.z\n").expect_err("typo");
        assert!(err.to_string().contains("emial"), "{err}");
    }

    #[test]
    fn missing_env_reference_names_the_path() {
        let err = Document::parse(
            "users:\n  - username: a\n    password: env://GATEHOUSE_TEST_UNSET_VAR\n",
        )
        .expect_err("unset");
        assert_eq!(
            err,
            DocumentError::Reference {
                path: "users[0].password".into(),
                reason: "environment variable GATEHOUSE_TEST_UNSET_VAR is not set".into()
            }
        );
    }
}
