//! Dex-compatible subjects, so applications that stored the `sub` Dex gave their users keep
//! recognising them after the move to Gatehouse.
//!
//! Dex builds `sub` from the user id its connector reported and the connector's id: the
//! protocol-buffers encoding of a message with two string fields (`user_id = 1`,
//! `conn_id = 2`), in unpadded base64url. Users of Dex's password database come from the
//! connector `local`. Protocol buffers leave out empty strings, and so does this encoder.
//!
//! Dex serves one issuer for all its clients, with its own endpoint paths (`/auth`,
//! `/token`, `/keys`, `/userinfo`, `/token/introspect` under the issuer URL). Clients that
//! hard-code those paths keep working against the Dex-compatible alias these endpoints
//! describe.

use crate::discovery::Endpoints;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The connector id Dex gives users of its own password database (`staticPasswords`).
pub const LOCAL_CONNECTOR: &str = "local";

/// User attribute holding the user id Dex knew the user by (set by `gatehouse import dex`).
pub const USER_ID_ATTRIBUTE: &str = "dex_user_id";

/// User attribute holding the Dex connector the user came from (`local` for Dex's own
/// password database).
pub const CONNECTOR_ID_ATTRIBUTE: &str = "dex_connector_id";

/// Dex's authorization endpoint, under its issuer.
pub const AUTH_PATH: &str = "/auth";
/// Dex's token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// Dex's JWKS.
pub const KEYS_PATH: &str = "/keys";
/// Dex's userinfo endpoint.
pub const USERINFO_PATH: &str = "/userinfo";
/// Dex's token introspection endpoint (Dex 2.38 and later).
pub const INTROSPECT_PATH: &str = "/token/introspect";
/// The discovery document, under the issuer (OIDC Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The alias issuer: `issuer_path` (`/dex`, or `/` for an issuer at the host's root) under
/// `base_url`, without a trailing slash, as Dex writes its issuer.
pub fn alias_issuer(base_url: &str, issuer_path: &str) -> String {
    format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        issuer_path.trim_end_matches('/')
    )
}

/// The alias's endpoints, at Dex's paths under `issuer`. Dex has no revocation endpoint:
/// revocation stays at Gatehouse's shared one, `revocation` (RFC 7009 needs no issuer).
/// No logout endpoint: the alias issuer is shared by every application.
pub fn alias_endpoints(issuer: &str, revocation: &str) -> Endpoints {
    let at = |path: &str| format!("{issuer}{path}");
    Endpoints {
        issuer: issuer.to_owned(),
        authorization: at(AUTH_PATH),
        token: at(TOKEN_PATH),
        userinfo: at(USERINFO_PATH),
        introspection: at(INTROSPECT_PATH),
        revocation: revocation.to_owned(),
        jwks: at(KEYS_PATH),
        end_session: None,
        device_authorization: None,
    }
}

/// The `sub` Dex issues for the user `user_id` of the connector `connector_id`.
pub fn subject(user_id: &str, connector_id: &str) -> String {
    let mut message = Vec::with_capacity(user_id.len() + connector_id.len() + 12);
    put_string_field(&mut message, 1, user_id);
    put_string_field(&mut message, 2, connector_id);
    URL_SAFE_NO_PAD.encode(message)
}

/// What to record on a user who signs in through a source imported from a Dex connector, so
/// that subject mode `dex` gives them the `sub` Dex gave: the user id the connector reported
/// (the source's upstream account id: GitHub's and Gitea's numeric id, the OIDC `sub` or the
/// `userIDKey` claim) and the connector id, which `gatehouse import dex` keeps as the source's
/// slug. Attribute name and value pairs, for [`USER_ID_ATTRIBUTE`] and
/// [`CONNECTOR_ID_ATTRIBUTE`]; the source login records them when it creates or links the
/// user (a user Dex knew through several connectors had one `sub` per connector; Gatehouse
/// keeps the first one recorded).
pub fn connector_identity(
    upstream_user_id: &str,
    source_slug: &str,
) -> [(&'static str, String); 2] {
    [
        (USER_ID_ATTRIBUTE, upstream_user_id.to_owned()),
        (CONNECTOR_ID_ATTRIBUTE, source_slug.to_owned()),
    ]
}

/// Appends a length-delimited field (wire type 2), unless the value is empty.
fn put_string_field(message: &mut Vec<u8>, field: u8, value: &str) {
    if value.is_empty() {
        return;
    }
    message.push((field << 3) | 2);
    let mut length = value.len();
    while length >= 0x80 {
        message.push((length as u8 & 0x7f) | 0x80);
        length >>= 7;
    }
    message.push(length as u8);
    message.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_endpoints_sit_at_dexs_paths_under_the_issuer() {
        let issuer = alias_issuer("https://dex.example.com/", "/dex/");
        assert_eq!(issuer, "https://dex.example.com/dex");
        let endpoints = alias_endpoints(&issuer, "https://dex.example.com/application/o/revoke/");
        assert_eq!(endpoints.authorization, "https://dex.example.com/dex/auth");
        assert_eq!(endpoints.token, "https://dex.example.com/dex/token");
        assert_eq!(endpoints.jwks, "https://dex.example.com/dex/keys");
        assert_eq!(endpoints.userinfo, "https://dex.example.com/dex/userinfo");
        assert_eq!(
            endpoints.introspection,
            "https://dex.example.com/dex/token/introspect"
        );
        assert_eq!(endpoints.end_session, None);
        assert_eq!(
            alias_issuer("https://dex.example.com", "/"),
            "https://dex.example.com"
        );
    }

    #[test]
    fn matches_the_sub_dex_gives_its_example_admin() {
        // Dex's example configuration: admin@example.com, userID 08a8684b-…, password DB.
        assert_eq!(
            subject("08a8684b-db88-4b73-90a9-3cd1661f5466", LOCAL_CONNECTOR),
            "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs"
        );
    }

    #[test]
    fn matches_the_protobuf_wire_format_of_dexs_codec_test() {
        // Dex's codec test encodes a message of the same shape (two string fields).
        assert_eq!(
            subject("example.com/type", "test"),
            "ChBleGFtcGxlLmNvbS90eXBlEgR0ZXN0"
        );
    }

    #[test]
    fn connector_users_keep_the_sub_of_their_connector() {
        // A GitHub account with id 1234567 that signed in to Dex through connector `github`.
        let identity = connector_identity("1234567", "github");
        assert_eq!(identity[0], (USER_ID_ATTRIBUTE, "1234567".to_owned()));
        assert_eq!(identity[1], (CONNECTOR_ID_ATTRIBUTE, "github".to_owned()));
        // Field 1 "1234567" (0x0a 0x07 …), field 2 "github" (0x12 0x06 …).
        let expected = URL_SAFE_NO_PAD.encode(b"\x0a\x071234567\x12\x06github");
        assert_eq!(subject(&identity[0].1, &identity[1].1), expected);
        assert_eq!(expected, "CgcxMjM0NTY3EgZnaXRodWI");
    }

    #[test]
    fn empty_fields_are_left_out_as_protobuf_does() {
        assert_eq!(
            subject("", "local"),
            URL_SAFE_NO_PAD.encode(b"\x12\x05local")
        );
        assert_eq!(subject("", ""), "");
    }

    #[test]
    fn long_ids_get_a_multi_byte_length() {
        let id = "x".repeat(300);
        let decoded = URL_SAFE_NO_PAD
            .decode(subject(&id, "c"))
            .expect("base64url");
        // 300 = 0b10_0101100 -> varint 0xAC 0x02.
        assert_eq!(&decoded[..3], &[0x0a, 0xac, 0x02]);
        assert_eq!(&decoded[3..303], id.as_bytes());
        assert_eq!(&decoded[303..], b"\x12\x01c");
    }
}
