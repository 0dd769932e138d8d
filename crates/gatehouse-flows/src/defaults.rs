//! The flows a fresh installation starts with, equivalent to authentik's default blueprints
//! (`default-authentication-flow`, `default-recovery-flow`, …) so migrating admins find the
//! slugs and shapes they know. The store seeds them on first start; admins may edit them.

use crate::flow::{Flow, FlowAuthentication, FlowDesignation, StageBinding};
use crate::policy::{Policy, PolicyBinding};
use crate::stage::{
    ConsentMode, DeviceClass, EmailPurpose, NotConfiguredAction, PromptField, PromptFieldKind,
    Stage, StageKind, UserCreationMode, UserField,
};
use gatehouse_core::UserType;
use gatehouse_core::group::DEFAULT_ADMIN_GROUP;

/// Slug of the flow the login page runs.
pub const DEFAULT_AUTHENTICATION_FLOW: &str = "default-authentication-flow";
/// Slug of the first-run setup flow (served at `/if/flow/initial-setup/`).
pub const INITIAL_SETUP_FLOW: &str = "initial-setup";
/// Slug of the sign-out flow.
pub const DEFAULT_INVALIDATION_FLOW: &str = "default-invalidation-flow";
/// Slug of the password recovery flow.
pub const DEFAULT_RECOVERY_FLOW: &str = "default-recovery-flow";
/// Slug of the invitation-only enrollment flow.
pub const DEFAULT_ENROLLMENT_FLOW: &str = "default-enrollment-flow";
/// Slug of the enrollment flow for people signing in through an upstream source for the
/// first time (set as a source's `enrollment_flow`).
pub const DEFAULT_SOURCE_ENROLLMENT_FLOW: &str = "default-source-enrollment";
/// Slug of the password change flow in the user portal.
pub const DEFAULT_PASSWORD_CHANGE_FLOW: &str = "default-password-change";
/// Slug of the TOTP setup flow.
pub const DEFAULT_TOTP_SETUP_FLOW: &str = "default-authenticator-totp-setup";
/// Slug of the WebAuthn (passkey) setup flow.
pub const DEFAULT_WEBAUTHN_SETUP_FLOW: &str = "default-authenticator-webauthn-setup";
/// Slug of the recovery-codes setup flow.
pub const DEFAULT_STATIC_SETUP_FLOW: &str = "default-authenticator-static-setup";
/// Slug of the authorization flow that always asks for consent.
pub const DEFAULT_EXPLICIT_CONSENT_FLOW: &str = "default-provider-authorization-explicit-consent";
/// Slug of the authorization flow that never asks.
pub const DEFAULT_IMPLICIT_CONSENT_FLOW: &str = "default-provider-authorization-implicit-consent";

/// Sessions from the default login last until the browser closes…
const SESSION_BROWSER: u64 = 0;
/// …or 30 days with "remember me".
const REMEMBER_ME_SECS: u64 = 30 * 24 * 3600;

fn flow(slug: &str, name: &str, title: &str, designation: FlowDesignation) -> Flow {
    Flow::new(slug, name, title, designation)
}

fn bind<'a>(flow: &'a mut Flow, order: i32, name: &str, kind: StageKind) -> &'a mut StageBinding {
    flow.bindings
        .push(StageBinding::new(order, Stage::new(name, kind)));
    let last = flow.bindings.len() - 1;
    &mut flow.bindings[last]
}

fn new_password_fields() -> Vec<PromptField> {
    vec![
        PromptField::new("password", "Password", PromptFieldKind::Password, true),
        PromptField::new(
            "password_repeat",
            "Repeat password",
            PromptFieldKind::Password,
            true,
        )
        .matching("password"),
    ]
}

fn user_login() -> StageKind {
    StageKind::UserLogin {
        session_duration_secs: SESSION_BROWSER,
        remember_me_offset_secs: REMEMBER_ME_SECS,
    }
}

fn user_write(group: Option<&str>, creation: UserCreationMode) -> StageKind {
    StageKind::UserWrite {
        create_users_as_inactive: false,
        user_type: UserType::Internal,
        group: group.map(str::to_owned),
        creation,
    }
}

/// Skips a binding when the execution was resumed from a recovery link (authentik's
/// `default-recovery-skip-if-restored`), judged when the stage is reached.
fn unless_restored(binding: &mut StageBinding) {
    binding
        .policies
        .push(PolicyBinding::new(Policy::Expression {
            expression: "not context.is_restored".into(),
        }));
    binding.evaluate_on_plan = false;
    binding.re_evaluate = true;
}

/// Builds the default flows.
pub fn default_flows() -> Vec<Flow> {
    let mut authentication = flow(
        DEFAULT_AUTHENTICATION_FLOW,
        "Welcome to Gatehouse!",
        "Welcome to Gatehouse!",
        FlowDesignation::Authentication,
    );
    bind(
        &mut authentication,
        10,
        "default-authentication-identification",
        StageKind::Identification {
            user_fields: vec![UserField::Username, UserField::Email],
            sources: Vec::new(),
            enrollment_flow: None,
            recovery_flow: Some(DEFAULT_RECOVERY_FLOW.into()),
        },
    );
    bind(
        &mut authentication,
        20,
        "default-authentication-password",
        StageKind::Password,
    );
    bind(
        &mut authentication,
        30,
        "default-authentication-mfa-validation",
        StageKind::AuthenticatorValidate {
            device_classes: vec![
                DeviceClass::Totp,
                DeviceClass::Webauthn,
                DeviceClass::Static,
            ],
            not_configured_action: NotConfiguredAction::Skip,
        },
    );
    bind(
        &mut authentication,
        100,
        "default-authentication-login",
        user_login(),
    );

    let mut setup = flow(
        INITIAL_SETUP_FLOW,
        "Initial setup",
        "Create the administrator",
        FlowDesignation::StageConfiguration,
    );
    setup.authentication = FlowAuthentication::RequireUnauthenticated;
    setup.denied_message = Some(
        "This setup link has been used or has expired. If Gatehouse still has no \
         administrator, restart it to print a new link."
            .into(),
    );
    let mut setup_fields = vec![
        PromptField::new("username", "Username", PromptFieldKind::Username, true),
        PromptField::new("email", "Email", PromptFieldKind::Email, true),
    ];
    setup_fields.extend(new_password_fields());
    bind(
        &mut setup,
        10,
        "initial-setup-prompt",
        StageKind::Prompt {
            fields: setup_fields,
        },
    );
    bind(
        &mut setup,
        20,
        "initial-setup-write",
        user_write(Some(DEFAULT_ADMIN_GROUP), UserCreationMode::AlwaysCreate),
    );
    bind(&mut setup, 100, "initial-setup-login", user_login());

    let mut invalidation = flow(
        DEFAULT_INVALIDATION_FLOW,
        "Logout",
        "Signed out",
        FlowDesignation::Invalidation,
    );
    bind(
        &mut invalidation,
        0,
        "default-invalidation-logout",
        StageKind::UserLogout,
    );

    let mut recovery = flow(
        DEFAULT_RECOVERY_FLOW,
        "Default recovery flow",
        "Reset your password",
        FlowDesignation::Recovery,
    );
    recovery.authentication = FlowAuthentication::RequireUnauthenticated;
    unless_restored(bind(
        &mut recovery,
        10,
        "default-recovery-identification",
        StageKind::Identification {
            user_fields: vec![UserField::Username, UserField::Email],
            sources: Vec::new(),
            enrollment_flow: None,
            recovery_flow: None,
        },
    ));
    unless_restored(bind(
        &mut recovery,
        20,
        "default-recovery-email",
        StageKind::Email {
            purpose: EmailPurpose::Recovery,
            token_expiry_minutes: 30,
            subject: "Reset your password".into(),
            template: "email/password_reset.html".into(),
        },
    ));
    bind(
        &mut recovery,
        30,
        "default-recovery-new-password",
        StageKind::Prompt {
            fields: new_password_fields(),
        },
    );
    bind(
        &mut recovery,
        40,
        "default-recovery-user-write",
        user_write(None, UserCreationMode::NeverCreate),
    );
    bind(&mut recovery, 100, "default-recovery-login", user_login());

    let mut enrollment = flow(
        DEFAULT_ENROLLMENT_FLOW,
        "Default enrollment flow",
        "Create your account",
        FlowDesignation::Enrollment,
    );
    enrollment.authentication = FlowAuthentication::RequireUnauthenticated;
    bind(
        &mut enrollment,
        10,
        "default-enrollment-invitation",
        StageKind::Invitation {
            continue_without_invitation: false,
        },
    );
    let mut enrollment_fields = vec![
        PromptField::new("username", "Username", PromptFieldKind::Username, true),
        PromptField::new("name", "Name", PromptFieldKind::Text, true),
        PromptField::new("email", "Email", PromptFieldKind::Email, true),
    ];
    enrollment_fields.extend(new_password_fields());
    bind(
        &mut enrollment,
        20,
        "default-enrollment-prompt",
        StageKind::Prompt {
            fields: enrollment_fields,
        },
    );
    bind(
        &mut enrollment,
        30,
        "default-enrollment-user-write",
        user_write(None, UserCreationMode::AlwaysCreate),
    );
    bind(
        &mut enrollment,
        100,
        "default-enrollment-login",
        user_login(),
    );

    // authentik's `default-source-enrollment`: the upstream's values are pre-filled, and the
    // prompt is shown only when the username (missing, invalid or taken here) or the email
    // is missing. The flow applies only to a sign-in through a source; it has no user-login
    // stage because the authentication flow continues (with its MFA stages) once the
    // account exists.
    let mut source_enrollment = flow(
        DEFAULT_SOURCE_ENROLLMENT_FLOW,
        "Default source enrollment flow",
        "Choose your account details",
        FlowDesignation::Enrollment,
    );
    source_enrollment.authentication = FlowAuthentication::RequireUnauthenticated;
    source_enrollment
        .policies
        .push(PolicyBinding::new(Policy::FromSource { source: None }));
    source_enrollment.denied_message = Some(
        "This page is part of signing in with another service. Start from the sign-in page.".into(),
    );
    bind(
        &mut source_enrollment,
        10,
        "default-source-enrollment-prompt",
        StageKind::Prompt {
            fields: vec![
                PromptField::new("username", "Username", PromptFieldKind::Username, true),
                PromptField::new("name", "Name", PromptFieldKind::Text, false),
                PromptField::new("email", "Email", PromptFieldKind::Email, false),
            ],
        },
    )
    .policies
    .push(PolicyBinding::new(Policy::Expression {
        expression: "context.prompt_data.username == null or context.prompt_data.email == null"
            .into(),
    }));
    bind(
        &mut source_enrollment,
        20,
        "default-source-enrollment-write",
        user_write(None, UserCreationMode::AlwaysCreate),
    );

    let mut password_change = flow(
        DEFAULT_PASSWORD_CHANGE_FLOW,
        "Change password",
        "Change your password",
        FlowDesignation::StageConfiguration,
    );
    password_change.authentication = FlowAuthentication::RequireAuthenticated;
    bind(
        &mut password_change,
        0,
        "default-password-change-prompt",
        StageKind::Prompt {
            fields: new_password_fields(),
        },
    );
    bind(
        &mut password_change,
        1,
        "default-password-change-write",
        user_write(None, UserCreationMode::NeverCreate),
    );

    let setup_flow = |slug: &str, name: &str, title: &str, stage: &str, kind: StageKind| {
        let mut f = flow(slug, name, title, FlowDesignation::StageConfiguration);
        f.authentication = FlowAuthentication::RequireAuthenticated;
        bind(&mut f, 0, stage, kind);
        f
    };
    let totp = setup_flow(
        DEFAULT_TOTP_SETUP_FLOW,
        "Set up an authenticator app",
        "Set up an authenticator app",
        "default-authenticator-totp-setup",
        StageKind::TotpSetup,
    );
    let webauthn = setup_flow(
        DEFAULT_WEBAUTHN_SETUP_FLOW,
        "Set up a passkey",
        "Set up a passkey or security key",
        "default-authenticator-webauthn-setup",
        StageKind::WebAuthnSetup,
    );
    let recovery_codes = setup_flow(
        DEFAULT_STATIC_SETUP_FLOW,
        "Set up recovery codes",
        "Set up recovery codes",
        "default-authenticator-static-setup",
        StageKind::StaticSetup { token_count: 6 },
    );

    let mut explicit = flow(
        DEFAULT_EXPLICIT_CONSENT_FLOW,
        "Authorize application",
        "Authorize application",
        FlowDesignation::Authorization,
    );
    explicit.authentication = FlowAuthentication::RequireAuthenticated;
    bind(
        &mut explicit,
        0,
        "default-provider-authorization-consent",
        StageKind::Consent {
            mode: ConsentMode::Always,
        },
    );
    let mut implicit = flow(
        DEFAULT_IMPLICIT_CONSENT_FLOW,
        "Authorize application",
        "Authorize application",
        FlowDesignation::Authorization,
    );
    implicit.authentication = FlowAuthentication::RequireAuthenticated;

    vec![
        authentication,
        setup,
        invalidation,
        recovery,
        enrollment,
        source_enrollment,
        password_change,
        totp,
        webauthn,
        recovery_codes,
        explicit,
        implicit,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(flow: &Flow) -> Vec<&'static str> {
        flow.ordered_binding_indexes()
            .into_iter()
            .map(|i| flow.bindings[i].stage.kind.type_name())
            .collect()
    }

    fn find<'a>(flows: &'a [Flow], slug: &str) -> &'a Flow {
        flows
            .iter()
            .find(|f| f.slug == slug)
            .unwrap_or_else(|| panic!("{slug} missing"))
    }

    #[test]
    fn every_default_flow_is_valid_and_unique() {
        let flows = default_flows();
        assert_eq!(flows.len(), 12);
        let mut slugs: Vec<&str> = flows.iter().map(|f| f.slug.as_str()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), flows.len());
        for flow in &flows {
            flow.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", flow.slug));
        }
    }

    #[test]
    fn default_flows_have_the_authentik_shapes() {
        let flows = default_flows();
        let expected: &[(&str, FlowDesignation, &[&str])] = &[
            (
                DEFAULT_AUTHENTICATION_FLOW,
                FlowDesignation::Authentication,
                &[
                    "identification",
                    "password",
                    "authenticator_validate",
                    "user_login",
                ],
            ),
            (
                INITIAL_SETUP_FLOW,
                FlowDesignation::StageConfiguration,
                &["prompt", "user_write", "user_login"],
            ),
            (
                DEFAULT_INVALIDATION_FLOW,
                FlowDesignation::Invalidation,
                &["user_logout"],
            ),
            (
                DEFAULT_RECOVERY_FLOW,
                FlowDesignation::Recovery,
                &[
                    "identification",
                    "email",
                    "prompt",
                    "user_write",
                    "user_login",
                ],
            ),
            (
                DEFAULT_ENROLLMENT_FLOW,
                FlowDesignation::Enrollment,
                &["invitation", "prompt", "user_write", "user_login"],
            ),
            (
                DEFAULT_SOURCE_ENROLLMENT_FLOW,
                FlowDesignation::Enrollment,
                &["prompt", "user_write"],
            ),
            (
                DEFAULT_PASSWORD_CHANGE_FLOW,
                FlowDesignation::StageConfiguration,
                &["prompt", "user_write"],
            ),
            (
                DEFAULT_TOTP_SETUP_FLOW,
                FlowDesignation::StageConfiguration,
                &["totp_setup"],
            ),
            (
                DEFAULT_WEBAUTHN_SETUP_FLOW,
                FlowDesignation::StageConfiguration,
                &["webauthn_setup"],
            ),
            (
                DEFAULT_STATIC_SETUP_FLOW,
                FlowDesignation::StageConfiguration,
                &["static_setup"],
            ),
            (
                DEFAULT_EXPLICIT_CONSENT_FLOW,
                FlowDesignation::Authorization,
                &["consent"],
            ),
            (
                DEFAULT_IMPLICIT_CONSENT_FLOW,
                FlowDesignation::Authorization,
                &[],
            ),
        ];
        for (slug, designation, stages) in expected {
            let flow = find(&flows, slug);
            assert_eq!(flow.designation, *designation, "{slug}");
            assert_eq!(shape(flow), *stages, "{slug}");
        }
    }

    #[test]
    fn key_settings_of_the_defaults() {
        let flows = default_flows();
        let login = find(&flows, DEFAULT_AUTHENTICATION_FLOW);
        assert_eq!(
            login.bindings[2].stage.kind,
            StageKind::AuthenticatorValidate {
                device_classes: vec![
                    DeviceClass::Totp,
                    DeviceClass::Webauthn,
                    DeviceClass::Static
                ],
                not_configured_action: NotConfiguredAction::Skip,
            }
        );

        let setup = find(&flows, INITIAL_SETUP_FLOW);
        let StageKind::Prompt { fields } = &setup.bindings[0].stage.kind else {
            panic!("setup starts with a prompt");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["username", "email", "password", "password_repeat"]);
        assert!(matches!(
            &setup.bindings[1].stage.kind,
            StageKind::UserWrite { group: Some(g), .. } if g == DEFAULT_ADMIN_GROUP
        ));

        let enrollment = find(&flows, DEFAULT_ENROLLMENT_FLOW);
        assert_eq!(
            enrollment.bindings[0].stage.kind,
            StageKind::Invitation {
                continue_without_invitation: false
            }
        );

        let recovery = find(&flows, DEFAULT_RECOVERY_FLOW);
        for binding in &recovery.bindings[..2] {
            assert!(binding.re_evaluate && !binding.evaluate_on_plan);
        }

        let consent = find(&flows, DEFAULT_EXPLICIT_CONSENT_FLOW);
        assert_eq!(
            consent.bindings[0].stage.kind,
            StageKind::Consent {
                mode: ConsentMode::Always
            }
        );
    }
}
