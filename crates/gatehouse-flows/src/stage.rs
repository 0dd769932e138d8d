//! Stages: the steps a flow is made of, each with its own settings. Mirrors authentik's stage
//! types (identification, password, authenticator validation and setup, consent, prompt, user
//! write/login/logout, invitation, email, deny, redirect). A stage here is configuration only;
//! the web layer performs its I/O (checking a password, sending mail) and reports the result to
//! the executor as a [`crate::StageOutcome`]. What can be decided without I/O, such as checking
//! a prompt submission, lives here so every entry point applies the same rules.

use crate::flow::validate_slug;
use crate::next::safe_next;
use gatehouse_core::{UserType, ValidationError, password_policy, validate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// The field name used for errors that belong to the whole form rather than one input.
pub const FORM_ERROR_FIELD: &str = "non_field_errors";

/// A named, configured stage. Serialised flat: `{ "name": …, "type": "password", … }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Unique name within its flow (authentik uses globally unique names; ours are per flow).
    pub name: String,
    /// What the stage does, with its settings.
    #[serde(flatten)]
    pub kind: StageKind,
}

impl Stage {
    /// A stage called `name`.
    pub fn new(name: impl Into<String>, kind: StageKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }

    /// Checks the settings; `path` prefixes field names in errors (`bindings[1].stage`).
    pub fn validate(&self, path: &str) -> Result<(), ValidationError> {
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                format!("{path}.name"),
                "must be non-empty printable text",
            ));
        }
        self.kind.validate(path)
    }
}

/// Which identifiers an identification stage accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserField {
    /// The username.
    Username,
    /// The email address.
    Email,
}

/// Kinds of second-factor device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// Time-based one-time codes (RFC 6238).
    Totp,
    /// WebAuthn credentials: passkeys and security keys.
    Webauthn,
    /// Static recovery codes.
    Static,
}

/// What an authenticator-validation stage does for a user with no device of the accepted
/// classes. Serialised as `{ "action": "skip" }`, `{ "action": "configure", "flow": … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NotConfiguredAction {
    /// Let the user through without a second factor.
    Skip,
    /// Refuse the sign-in.
    Deny,
    /// Send the user through a setup flow first, then continue.
    Configure {
        /// Slug of a `stage_configuration` flow (e.g. `default-authenticator-totp-setup`).
        flow: String,
    },
}

/// How long a consent lasts. Serialised as `{ "type": "remembered", "duration_secs": … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsentMode {
    /// Ask every time.
    Always,
    /// Remember the answer for a while (per user and application).
    Remembered {
        /// How long the consent is remembered, in seconds.
        duration_secs: u64,
    },
    /// Remember the answer until the user revokes it.
    Permanent,
}

/// The input control a prompt field renders as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFieldKind {
    /// Single-line text.
    Text,
    /// Multi-line text.
    TextArea,
    /// An email address (checked and normalised).
    Email,
    /// A new username (checked against the username rules).
    Username,
    /// A secret; never stored in the flow context (only its hash, by the web layer).
    Password,
    /// A number.
    Number,
    /// A checkbox; its value is `true` or `false`.
    Checkbox,
    /// Not shown; its value is `initial_value`.
    Hidden,
}

/// One input of a prompt stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptField {
    /// Key in the submitted form and in `prompt_data` (`username`, `email`, `password`…).
    pub name: String,
    /// The label shown to the user.
    pub label: String,
    /// The input control.
    #[serde(rename = "type")]
    pub kind: PromptFieldKind,
    /// Whether an empty value is refused (a required checkbox must be ticked).
    #[serde(default)]
    pub required: bool,
    /// Placeholder text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Pre-filled value (and the value of a hidden field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_value: Option<String>,
    /// A regular expression the whole value must match (`^…$` is implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Minimum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Name of another field in the same stage whose value this one must repeat
    /// (`password_repeat` → `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_match: Option<String>,
}

impl PromptField {
    /// A field with no constraints beyond its kind.
    pub fn new(
        name: impl Into<String>,
        label: impl Into<String>,
        kind: PromptFieldKind,
        required: bool,
    ) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            kind,
            required,
            placeholder: None,
            initial_value: None,
            regex: None,
            min_length: None,
            max_length: None,
            must_match: None,
        }
    }

    /// The same field, requiring it to repeat `other`.
    pub fn matching(mut self, other: impl Into<String>) -> Self {
        self.must_match = Some(other.into());
        self
    }

    fn compiled_regex(&self) -> Result<Option<regex::Regex>, String> {
        self.regex
            .as_deref()
            .map(|pattern| {
                let build = |source: &str| {
                    regex::RegexBuilder::new(source)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| format!("is not a valid regular expression: {e}"))
                };
                // Compiled alone first, so a pattern like `a)|(b` cannot escape the anchors.
                build(pattern)?;
                build(&format!("^(?:{pattern})$"))
            })
            .transpose()
    }
}

/// What a user-write stage does when there is no pending user (authentik's creation mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserCreationMode {
    /// Update the pending user if there is one, otherwise create a user.
    #[default]
    CreateWhenRequired,
    /// Always create a new user.
    AlwaysCreate,
    /// Only update; fail when there is no pending user.
    NeverCreate,
}

/// Why an email stage sends mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailPurpose {
    /// Prove the address belongs to the user (enrollment).
    Verification,
    /// Let the user back in to set a new password.
    Recovery,
}

/// Where a redirect stage sends the browser. Serialised as `{ "type": "url", "url": … }` or
/// `{ "type": "flow", "slug": … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RedirectTarget {
    /// An absolute `https://`/`http://` URL or a local path.
    Url {
        /// The target.
        url: String,
    },
    /// Another flow, by slug.
    Flow {
        /// The flow's slug.
        slug: String,
    },
}

impl RedirectTarget {
    /// The location to send the browser to.
    pub fn location(&self) -> String {
        match self {
            Self::Url { url } => url.clone(),
            Self::Flow { slug } => format!("/if/flow/{slug}/"),
        }
    }
}

/// The stage types and their settings. Serialised with a `type` tag in snake case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StageKind {
    /// Asks who the user is; may offer source buttons and enrollment/recovery links.
    Identification {
        /// Which identifiers are accepted (empty: only source buttons).
        user_fields: Vec<UserField>,
        /// Source slugs shown as "sign in with …" buttons.
        #[serde(default)]
        sources: Vec<String>,
        /// Flow linked as "Sign up".
        #[serde(default)]
        enrollment_flow: Option<String>,
        /// Flow linked as "Forgot password?".
        #[serde(default)]
        recovery_flow: Option<String>,
    },
    /// Checks the pending user's password.
    Password,
    /// Asks for a second factor (or a passkey) of the accepted classes.
    AuthenticatorValidate {
        /// Accepted device classes.
        device_classes: Vec<DeviceClass>,
        /// What happens for users with no such device.
        not_configured_action: NotConfiguredAction,
    },
    /// Enrols a TOTP authenticator.
    TotpSetup,
    /// Enrols a WebAuthn credential.
    #[serde(rename = "webauthn_setup")]
    WebAuthnSetup,
    /// Generates static recovery codes.
    StaticSetup {
        /// How many codes to generate (1-50).
        token_count: u8,
    },
    /// Asks the user to let an application see their data.
    Consent {
        /// How long the answer lasts.
        mode: ConsentMode,
    },
    /// Asks for arbitrary values.
    Prompt {
        /// The inputs, in display order.
        fields: Vec<PromptField>,
    },
    /// Creates or updates the pending user from the prompt data.
    UserWrite {
        /// New users start inactive (an admin or an email stage activates them).
        #[serde(default)]
        create_users_as_inactive: bool,
        /// Type of newly created users.
        #[serde(default)]
        user_type: UserType,
        /// Group new users are added to.
        #[serde(default)]
        group: Option<String>,
        /// Whether the stage may create or only update.
        #[serde(default)]
        creation: UserCreationMode,
    },
    /// Requires an invitation token to continue (enrollment).
    Invitation {
        /// Without a token, continue anyway instead of refusing.
        continue_without_invitation: bool,
    },
    /// Sends a link by email and waits for it to be followed.
    Email {
        /// Verification or recovery.
        purpose: EmailPurpose,
        /// How long the link works, in minutes.
        token_expiry_minutes: u32,
        /// The message subject.
        subject: String,
        /// The template name.
        template: String,
    },
    /// Starts a session for the pending user.
    UserLogin {
        /// Session length in seconds; 0 ends the session when the browser closes.
        session_duration_secs: u64,
        /// Extra seconds when the user ticks "remember me"; 0 hides the checkbox.
        #[serde(default)]
        remember_me_offset_secs: u64,
    },
    /// Ends the current session.
    UserLogout,
    /// Stops the flow with a message.
    Deny {
        /// Shown to the user; a generic message when empty.
        #[serde(default)]
        message: String,
    },
    /// Ends the flow by sending the browser elsewhere.
    Redirect {
        /// The target.
        to: RedirectTarget,
    },
}

impl StageKind {
    /// The stable type name (`identification`, `user_login`…), as serialised.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Identification { .. } => "identification",
            Self::Password => "password",
            Self::AuthenticatorValidate { .. } => "authenticator_validate",
            Self::TotpSetup => "totp_setup",
            Self::WebAuthnSetup => "webauthn_setup",
            Self::StaticSetup { .. } => "static_setup",
            Self::Consent { .. } => "consent",
            Self::Prompt { .. } => "prompt",
            Self::UserWrite { .. } => "user_write",
            Self::Invitation { .. } => "invitation",
            Self::Email { .. } => "email",
            Self::UserLogin { .. } => "user_login",
            Self::UserLogout => "user_logout",
            Self::Deny { .. } => "deny",
            Self::Redirect { .. } => "redirect",
        }
    }

    /// Whether the stage shows a page and waits for the user. The others (user write, login,
    /// logout, invitation) are carried out by the web layer as soon as they are reached.
    pub fn is_interactive(&self) -> bool {
        !matches!(
            self,
            Self::UserWrite { .. }
                | Self::UserLogin { .. }
                | Self::UserLogout
                | Self::Invitation { .. }
                | Self::Deny { .. }
                | Self::Redirect { .. }
        )
    }

    fn validate(&self, path: &str) -> Result<(), ValidationError> {
        let err = |field: &str, message: &str| {
            Err(ValidationError::new(format!("{path}.{field}"), message))
        };
        let slug = |field: &str, value: &str| {
            validate_slug(value).map_err(|e| ValidationError::new(format!("{path}.{field}"), e))
        };
        match self {
            Self::Identification {
                user_fields,
                sources,
                enrollment_flow,
                recovery_flow,
            } => {
                if user_fields.is_empty() && sources.is_empty() {
                    return err("user_fields", "needs at least one user field or one source");
                }
                if has_duplicates(user_fields) {
                    return err("user_fields", "lists a field twice");
                }
                for (i, source) in sources.iter().enumerate() {
                    slug(&format!("sources[{i}]"), source)?;
                }
                if let Some(flow) = enrollment_flow {
                    slug("enrollment_flow", flow)?;
                }
                if let Some(flow) = recovery_flow {
                    slug("recovery_flow", flow)?;
                }
                Ok(())
            }
            Self::AuthenticatorValidate {
                device_classes,
                not_configured_action,
            } => {
                if device_classes.is_empty() {
                    return err("device_classes", "needs at least one device class");
                }
                if has_duplicates(device_classes) {
                    return err("device_classes", "lists a class twice");
                }
                if let NotConfiguredAction::Configure { flow } = not_configured_action {
                    slug("not_configured_action.flow", flow)?;
                }
                Ok(())
            }
            Self::StaticSetup { token_count } if !(1..=50).contains(token_count) => {
                err("token_count", "must be between 1 and 50")
            }
            Self::Consent {
                mode: ConsentMode::Remembered { duration_secs: 0 },
            } => err("mode.duration_secs", "must be more than 0"),
            Self::Prompt { fields } => validate_prompt_fields(path, fields),
            Self::Email {
                token_expiry_minutes,
                subject,
                template,
                ..
            } => {
                if !(1..=10_080).contains(token_expiry_minutes) {
                    return err(
                        "token_expiry_minutes",
                        "must be between 1 and 10080 (a week)",
                    );
                }
                if subject.trim().is_empty() {
                    return err("subject", "must not be empty");
                }
                if template.trim().is_empty() {
                    return err("template", "must not be empty");
                }
                Ok(())
            }
            Self::UserWrite {
                group: Some(group), ..
            } => validate::group_name(group)
                .map_err(|e| ValidationError::new(format!("{path}.group"), e.message)),
            Self::Redirect {
                to: RedirectTarget::Flow { slug: target },
            } => slug("to.slug", target),
            Self::Redirect {
                to: RedirectTarget::Url { url },
            } => {
                let absolute = (url.starts_with("https://") || url.starts_with("http://"))
                    && url.len() > "https://".len()
                    && !url.chars().any(|c| c.is_control() || c.is_whitespace());
                if absolute || safe_next(url).is_some() {
                    Ok(())
                } else {
                    err(
                        "to.url",
                        "must be an http(s) URL or a local path starting with /",
                    )
                }
            }
            _ => Ok(()),
        }
    }
}

fn has_duplicates<T: Eq + std::hash::Hash>(items: &[T]) -> bool {
    let mut seen = HashSet::new();
    !items.iter().all(|item| seen.insert(item))
}

fn validate_prompt_fields(path: &str, fields: &[PromptField]) -> Result<(), ValidationError> {
    if fields.is_empty() {
        return Err(ValidationError::new(
            format!("{path}.fields"),
            "needs at least one field",
        ));
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    for (i, field) in fields.iter().enumerate() {
        let at = |part: &str| format!("{path}.fields[{i}].{part}");
        let name_ok = !field.name.is_empty()
            && field.name.len() <= 64
            && field
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(ValidationError::new(
                at("name"),
                "must be 1-64 characters of a-z, 0-9 and _",
            ));
        }
        if names[..i].contains(&field.name.as_str()) {
            return Err(ValidationError::new(at("name"), "is used by another field"));
        }
        if field.label.trim().is_empty() && field.kind != PromptFieldKind::Hidden {
            return Err(ValidationError::new(at("label"), "must not be empty"));
        }
        field
            .compiled_regex()
            .map_err(|message| ValidationError::new(at("regex"), message))?;
        if let (Some(min), Some(max)) = (field.min_length, field.max_length)
            && min > max
        {
            return Err(ValidationError::new(
                at("min_length"),
                "must not be more than max_length",
            ));
        }
        if let Some(other) = &field.must_match
            && (other == &field.name || !names.contains(&other.as_str()))
        {
            return Err(ValidationError::new(
                at("must_match"),
                format!("names no other field of this stage ({other:?})"),
            ));
        }
    }
    Ok(())
}

/// A checked prompt submission, split so secrets never reach the flow context.
#[derive(Clone, Default, PartialEq)]
pub struct PromptSubmission {
    /// Non-secret values by field name, typed (`Checkbox` → bool, `Number` → number), for
    /// [`crate::Effect::PromptData`].
    pub data: Map<String, Value>,
    /// Password fields by name (repeats left out). The web layer hashes what it needs and
    /// drops the rest.
    pub secrets: HashMap<String, String>,
}

impl std::fmt::Debug for PromptSubmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptSubmission")
            .field("data", &self.data)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Checks a submitted prompt form against `fields`. `identifiers` are the account's known
/// names (username, email) that a new password must not contain; the submission's own
/// `username`, `email` and `name` values are added to them. Returns every problem, one per
/// field, so the page can show them all at once.
pub fn validate_prompt_submission(
    fields: &[PromptField],
    submitted: &HashMap<String, String>,
    identifiers: &[&str],
) -> Result<PromptSubmission, Vec<ValidationError>> {
    let mut result = PromptSubmission::default();
    let mut errors = Vec::new();
    let mut identifiers: Vec<&str> = identifiers.to_vec();
    for name in ["username", "email", "name"] {
        if let Some(value) = submitted.get(name).filter(|v| !v.trim().is_empty()) {
            identifiers.push(value.trim());
        }
    }
    for field in fields {
        let raw = match field.kind {
            PromptFieldKind::Hidden => field.initial_value.clone().unwrap_or_default(),
            _ => submitted.get(&field.name).cloned().unwrap_or_default(),
        };
        match check_field(field, &raw, submitted, &identifiers) {
            Ok(Some(FieldValue::Public(value))) => {
                result.data.insert(field.name.clone(), value);
            }
            Ok(Some(FieldValue::Secret(value))) => {
                if field.must_match.is_none() {
                    result.secrets.insert(field.name.clone(), value);
                }
            }
            Ok(None) => {}
            Err(message) => errors.push(ValidationError::new(field.name.clone(), message)),
        }
    }
    if errors.is_empty() {
        Ok(result)
    } else {
        Err(errors)
    }
}

enum FieldValue {
    Public(Value),
    Secret(String),
}

fn check_field(
    field: &PromptField,
    raw: &str,
    submitted: &HashMap<String, String>,
    identifiers: &[&str],
) -> Result<Option<FieldValue>, String> {
    if field.kind == PromptFieldKind::Checkbox {
        let checked = matches!(raw, "on" | "true" | "1" | "yes");
        if field.required && !checked {
            return Err("This box must be ticked.".into());
        }
        return Ok(Some(FieldValue::Public(Value::Bool(checked))));
    }
    let value = if field.kind == PromptFieldKind::Password {
        raw.to_owned()
    } else {
        raw.trim().to_owned()
    };
    if value.is_empty() {
        return if field.required {
            Err("This field is required.".into())
        } else {
            Ok(None)
        };
    }
    let length = u32::try_from(value.chars().count()).unwrap_or(u32::MAX);
    if let Some(min) = field.min_length
        && length < min
    {
        return Err(format!("Must be at least {min} characters."));
    }
    if let Some(max) = field.max_length
        && length > max
    {
        return Err(format!("Must be at most {max} characters."));
    }
    if let Ok(Some(pattern)) = field.compiled_regex()
        && !pattern.is_match(&value)
    {
        return Err("Does not have the expected format.".into());
    }
    if let Some(other) = &field.must_match {
        let other_value = submitted.get(other).map(String::as_str).unwrap_or_default();
        let other_value = if field.kind == PromptFieldKind::Password {
            other_value
        } else {
            other_value.trim()
        };
        if other_value != value {
            return Err("Does not match.".into());
        }
    }
    match field.kind {
        PromptFieldKind::Password => {
            if field.must_match.is_none() {
                password_policy::check(&value, identifiers)
                    .map_err(|e| format!("Password {}.", e.message))?;
            }
            Ok(Some(FieldValue::Secret(value)))
        }
        PromptFieldKind::Username => {
            validate::username(&value).map_err(|e| capitalise(&e.message))?;
            Ok(Some(FieldValue::Public(Value::String(value))))
        }
        PromptFieldKind::Email => {
            let email = validate::email(&value).map_err(|e| capitalise(&e.message))?;
            Ok(Some(FieldValue::Public(Value::String(email))))
        }
        PromptFieldKind::Number => {
            let number = value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| "Must be a number.".to_owned())?;
            Ok(Some(FieldValue::Public(Value::Number(number))))
        }
        _ => Ok(Some(FieldValue::Public(Value::String(value)))),
    }
}

fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup_fields() -> Vec<PromptField> {
        vec![
            PromptField::new("username", "Username", PromptFieldKind::Username, true),
            PromptField::new("email", "Email", PromptFieldKind::Email, true),
            PromptField::new("password", "Password", PromptFieldKind::Password, true),
            PromptField::new(
                "password_repeat",
                "Repeat password",
                PromptFieldKind::Password,
                true,
            )
            .matching("password"),
            PromptField::new(
                "terms",
                "I accept the terms",
                PromptFieldKind::Checkbox,
                true,
            ),
        ]
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_good_submission_is_split_into_data_and_secrets() {
        let submission = validate_prompt_submission(
            &signup_fields(),
            &form(&[
                ("username", " alice "),
                ("email", "alice@EXAMPLE.com"),
                ("password", "correct horse battery staple"),
                ("password_repeat", "correct horse battery staple"),
                ("terms", "on"),
            ]),
            &[],
        )
        .expect("valid");
        assert_eq!(submission.data["username"], "alice");
        assert_eq!(submission.data["email"], "alice@example.com");
        assert_eq!(submission.data["terms"], true);
        assert!(!submission.data.contains_key("password"));
        assert_eq!(submission.secrets.len(), 1);
        assert!(!format!("{submission:?}").contains("horse"));
    }

    #[test]
    fn every_problem_is_reported_per_field() {
        let errors = validate_prompt_submission(
            &signup_fields(),
            &form(&[
                ("username", "-bad"),
                ("email", "nope"),
                ("password", "alice-password-1"),
                ("password_repeat", "something else"),
            ]),
            &["alice"],
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["username", "email", "password", "password_repeat", "terms"]
        );
        assert!(
            errors[2].message.starts_with("Password "),
            "{:?}",
            errors[2]
        );
        assert_eq!(errors[3].message, "Does not match.");
    }

    #[test]
    fn regex_and_length_limits_apply_to_the_whole_value() {
        let mut field = PromptField::new("code", "Code", PromptFieldKind::Text, false);
        field.regex = Some("[A-Z]{3}".into());
        field.max_length = Some(3);
        let fields = vec![field];
        assert!(validate_prompt_submission(&fields, &form(&[("code", "ABC")]), &[]).is_ok());
        assert!(validate_prompt_submission(&fields, &form(&[("code", "xABC")]), &[]).is_err());
        assert!(validate_prompt_submission(&fields, &form(&[("code", "ABCD")]), &[]).is_err());
        let mut escaping = PromptField::new("x", "X", PromptFieldKind::Text, false);
        escaping.regex = Some("a)|(b".into());
        let stage = Stage::new(
            "p",
            StageKind::Prompt {
                fields: vec![escaping],
            },
        );
        assert!(stage.validate("s").is_err());
        // Optional and empty: nothing recorded, no error.
        let empty = validate_prompt_submission(&fields, &form(&[]), &[]).expect("optional");
        assert!(empty.data.is_empty());
    }

    #[test]
    fn stage_settings_are_validated() {
        let bad_regex = {
            let mut field = PromptField::new("x", "X", PromptFieldKind::Text, false);
            field.regex = Some("(".into());
            Stage::new(
                "p",
                StageKind::Prompt {
                    fields: vec![field],
                },
            )
        };
        assert_eq!(
            bad_regex
                .validate("bindings[0].stage")
                .expect_err("regex")
                .field,
            "bindings[0].stage.fields[0].regex"
        );
        let dangling = Stage::new(
            "p",
            StageKind::Prompt {
                fields: vec![
                    PromptField::new("a", "A", PromptFieldKind::Password, true).matching("b"),
                ],
            },
        );
        assert!(dangling.validate("s").is_err());
        let no_classes = Stage::new(
            "v",
            StageKind::AuthenticatorValidate {
                device_classes: vec![],
                not_configured_action: NotConfiguredAction::Skip,
            },
        );
        assert!(no_classes.validate("s").is_err());
        let offsite = Stage::new(
            "r",
            StageKind::Redirect {
                to: RedirectTarget::Url {
                    url: "javascript:alert(1)".into(),
                },
            },
        );
        assert!(offsite.validate("s").is_err());
        let fine = Stage::new(
            "r",
            StageKind::Redirect {
                to: RedirectTarget::Url {
                    url: "https://intranet.example.com/".into(),
                },
            },
        );
        assert!(fine.validate("s").is_ok());
        assert!(
            Stage::new("s", StageKind::StaticSetup { token_count: 0 })
                .validate("s")
                .is_err()
        );
    }

    #[test]
    fn stages_serialise_flat_with_a_type_tag() {
        let stage = Stage::new(
            "mfa",
            StageKind::AuthenticatorValidate {
                device_classes: vec![DeviceClass::Webauthn],
                not_configured_action: NotConfiguredAction::Configure {
                    flow: "default-authenticator-webauthn-setup".into(),
                },
            },
        );
        let json = serde_json::to_value(&stage).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "name": "mfa",
                "type": "authenticator_validate",
                "device_classes": ["webauthn"],
                "not_configured_action": {"action": "configure", "flow": "default-authenticator-webauthn-setup"}
            })
        );
        let back: Stage = serde_json::from_value(json).expect("back");
        assert_eq!(back, stage);
        assert_eq!(back.kind.type_name(), "authenticator_validate");
        let webauthn: Stage =
            serde_json::from_str(r#"{"name":"w","type":"webauthn_setup"}"#).expect("unit");
        assert_eq!(webauthn.kind, StageKind::WebAuthnSetup);
    }
}
