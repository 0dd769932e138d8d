//! Enrollment: turning what an enrollment flow gathered (prompt values, the chosen password's
//! hash, the invitation's fixed data) into the account a user-write stage creates. Pure, so
//! every entry point (pages, API, tests) builds the same account from the same context.

use crate::context::FlowContext;
use crate::stage::{PromptField, StageKind, UserCreationMode};
use gatehouse_core::{NewUser, ValidationError};
use serde_json::Value;
use std::collections::HashMap;

/// The account a user-write stage creates from `context`, or why it cannot. Values the
/// invitation fixes win over typed ones. `None` when `stage` is not a user-write stage that
/// may create users.
pub fn new_user_from_context(
    stage: &StageKind,
    context: &FlowContext,
) -> Option<Result<NewUser, ValidationError>> {
    let StageKind::UserWrite {
        create_users_as_inactive,
        user_type,
        group,
        creation,
    } = stage
    else {
        return None;
    };
    if *creation == UserCreationMode::NeverCreate {
        return None;
    }
    let text = |key: &str| {
        context
            .invitation
            .as_ref()
            .and_then(|i| i.fixed_data.get(key))
            .or_else(|| context.prompt_data.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let Some(username) = text("username") else {
        return Some(Err(ValidationError::new(
            "username",
            "no username was entered",
        )));
    };
    let user = NewUser {
        name: text("name").unwrap_or_default(),
        email: text("email"),
        active: !create_users_as_inactive,
        user_type: *user_type,
        password_hash: context.password_hash.clone(),
        groups: group.iter().cloned().collect(),
        ..NewUser::named(username)
    };
    Some(user.validate())
}

/// The submitted form with the invitation's fixed values put in place of whatever was sent
/// for those fields, so a fixed email cannot be changed by editing the page.
pub fn with_fixed_values(
    fields: &[PromptField],
    submitted: &HashMap<String, String>,
    context: &FlowContext,
) -> HashMap<String, String> {
    let mut form = submitted.clone();
    if let Some(invitation) = &context.invitation {
        for field in fields {
            if let Some(Value::String(fixed)) = invitation.fixed_data.get(&field.name) {
                form.insert(field.name.clone(), fixed.clone());
            }
        }
    }
    form
}

/// The value a prompt field is fixed to by the flow's invitation, if any.
pub fn fixed_value<'c>(field: &PromptField, context: &'c FlowContext) -> Option<&'c str> {
    context
        .invitation
        .as_ref()
        .and_then(|i| i.fixed_data.get(&field.name))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::InvitationFacts;
    use crate::stage::PromptFieldKind;
    use gatehouse_core::{TokenId, UserType};
    use serde_json::json;

    fn write(group: Option<&str>, creation: UserCreationMode) -> StageKind {
        StageKind::UserWrite {
            create_users_as_inactive: false,
            user_type: UserType::Internal,
            group: group.map(str::to_owned),
            creation,
        }
    }

    fn context() -> FlowContext {
        let mut context = FlowContext {
            password_hash: Some("$argon2id$hash".into()),
            invitation: Some(InvitationFacts {
                token_id: TokenId::new(),
                fixed_data: json!({"email": "fixed@example.com"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            }),
            ..FlowContext::default()
        };
        for (k, v) in [
            ("username", "newbie"),
            ("name", "New Person"),
            ("email", "typed@example.com"),
        ] {
            context.prompt_data.insert(k.into(), Value::from(v));
        }
        context
    }

    #[test]
    fn the_account_comes_from_the_prompt_with_fixed_values_winning() {
        let user = new_user_from_context(
            &write(Some("staff"), UserCreationMode::AlwaysCreate),
            &context(),
        )
        .expect("creates")
        .expect("valid");
        assert_eq!(user.username, "newbie");
        assert_eq!(user.name, "New Person");
        assert_eq!(user.email.as_deref(), Some("fixed@example.com"));
        assert_eq!(user.password_hash.as_deref(), Some("$argon2id$hash"));
        assert_eq!(user.groups, ["staff"]);
        assert!(user.active);
    }

    #[test]
    fn no_username_or_no_creation_is_refused() {
        let mut missing = context();
        missing.prompt_data.remove("username");
        let stage = write(None, UserCreationMode::CreateWhenRequired);
        assert!(matches!(
            new_user_from_context(&stage, &missing),
            Some(Err(e)) if e.field == "username"
        ));
        assert!(
            new_user_from_context(&write(None, UserCreationMode::NeverCreate), &context())
                .is_none()
        );
        assert!(new_user_from_context(&StageKind::Password, &context()).is_none());
    }

    #[test]
    fn fixed_values_replace_submitted_ones() {
        let fields = vec![
            PromptField::new("email", "Email", PromptFieldKind::Email, true),
            PromptField::new("username", "Username", PromptFieldKind::Username, true),
        ];
        let submitted: HashMap<String, String> = [
            ("email".to_owned(), "attacker@example.com".to_owned()),
            ("username".to_owned(), "newbie".to_owned()),
        ]
        .into();
        let form = with_fixed_values(&fields, &submitted, &context());
        assert_eq!(form["email"], "fixed@example.com");
        assert_eq!(form["username"], "newbie");
        assert_eq!(
            fixed_value(&fields[0], &context()),
            Some("fixed@example.com")
        );
        assert_eq!(fixed_value(&fields[1], &context()), None);
    }
}
