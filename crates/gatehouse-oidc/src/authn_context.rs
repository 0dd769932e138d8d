//! How the user authenticated, in the words relying parties understand: `amr` values from
//! RFC 8176 §2 and an `acr` (OIDC Core §2) naming one of Gatehouse's two documented classes.
//! Also the `acr_values` request parameter (OIDC Core §3.1.2.1), which Gatehouse treats as a
//! voluntary claim: it is accepted, and the ID token states the class actually achieved.

use gatehouse_core::AuthenticationMethod;

/// One factor, typically a password (or an upstream source, or a passkey touched without
/// user verification).
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:password";
/// Two or more factors: a password with a one-time code, recovery code or security key, or
/// a passkey whose authenticator verified the user.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// The `acr` values Gatehouse issues, for discovery's `acr_values_supported`.
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// The `amr` and `acr` of a sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticationContext {
    /// RFC 8176 method references, without duplicates, `mfa` last when it applies.
    pub amr: Vec<String>,
    /// [`ACR_PASSWORD`] or [`ACR_MFA`].
    pub acr: &'static str,
}

/// Maps the methods a session recorded to `amr`/`acr`. `pwd` for a password; `otp` for a
/// TOTP or recovery code; `hwk` and `user` for a WebAuthn credential (a key held by an
/// authenticator, and its presence test); `mfa` when at least two factors were used, where a
/// user-verified WebAuthn assertion counts as two (the key, and the PIN or biometric that
/// unlocked it). A source sign-in adds no `amr` value: how the upstream authenticated the
/// user is not known here.
pub fn authentication_context(methods: &[AuthenticationMethod]) -> AuthenticationContext {
    let mut amr: Vec<String> = Vec::new();
    let mut push = |value: &str| {
        if !amr.iter().any(|v| v == value) {
            amr.push(value.to_owned());
        }
    };
    let mut factors = 0usize;
    let mut seen: Vec<AuthenticationMethod> = Vec::new();
    for &method in methods {
        if seen.contains(&method) {
            continue;
        }
        seen.push(method);
        match method {
            AuthenticationMethod::Password => {
                push("pwd");
                factors += 1;
            }
            AuthenticationMethod::Totp | AuthenticationMethod::RecoveryCode => {
                push("otp");
                factors += 1;
            }
            AuthenticationMethod::Webauthn => {
                push("hwk");
                push("user");
                factors += 1;
            }
            AuthenticationMethod::WebauthnUserVerified => {
                push("hwk");
                push("user");
                factors += 2;
            }
            AuthenticationMethod::Source => factors += 1,
        }
    }
    let mfa = factors >= 2;
    if mfa {
        push("mfa");
    }
    AuthenticationContext {
        amr,
        acr: if mfa { ACR_MFA } else { ACR_PASSWORD },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthenticationMethod::*;

    fn amr(methods: &[AuthenticationMethod]) -> (Vec<String>, &'static str) {
        let context = authentication_context(methods);
        (context.amr, context.acr)
    }

    #[test]
    fn password_alone_is_one_factor() {
        assert_eq!(amr(&[Password]), (vec!["pwd".to_owned()], ACR_PASSWORD));
    }

    #[test]
    fn password_and_a_code_is_mfa() {
        assert_eq!(
            amr(&[Password, Totp]),
            (vec!["pwd".into(), "otp".into(), "mfa".into()], ACR_MFA)
        );
        assert_eq!(
            amr(&[Password, RecoveryCode]),
            (vec!["pwd".into(), "otp".into(), "mfa".into()], ACR_MFA)
        );
    }

    #[test]
    fn passkeys_depend_on_user_verification() {
        assert_eq!(
            amr(&[WebauthnUserVerified]),
            (vec!["hwk".into(), "user".into(), "mfa".into()], ACR_MFA)
        );
        assert_eq!(
            amr(&[Webauthn]),
            (vec!["hwk".into(), "user".into()], ACR_PASSWORD)
        );
        assert_eq!(
            amr(&[Password, Webauthn]),
            (
                vec!["pwd".into(), "hwk".into(), "user".into(), "mfa".into()],
                ACR_MFA
            )
        );
    }

    #[test]
    fn repeats_do_not_make_mfa_and_unknown_is_empty() {
        assert_eq!(amr(&[Password, Password]).1, ACR_PASSWORD);
        assert_eq!(amr(&[Totp, Totp]), (vec!["otp".to_owned()], ACR_PASSWORD));
        assert_eq!(amr(&[]), (Vec::new(), ACR_PASSWORD));
        assert_eq!(amr(&[Source]), (Vec::new(), ACR_PASSWORD));
        assert_eq!(amr(&[Source, Totp]).1, ACR_MFA);
    }
}
