//! Dex-compatible subjects, so applications that stored the `sub` Dex gave their users keep
//! recognising them after the move to Gatehouse.
//!
//! Dex builds `sub` from the user id its connector reported and the connector's id: the
//! protocol-buffers encoding of a message with two string fields (`user_id = 1`,
//! `conn_id = 2`), in unpadded base64url. Users of Dex's password database come from the
//! connector `local`. Protocol buffers leave out empty strings, and so does this encoder.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The connector id Dex gives users of its own password database (`staticPasswords`).
pub const LOCAL_CONNECTOR: &str = "local";

/// User attribute holding the user id Dex knew the user by (set by `gatehouse import dex`).
pub const USER_ID_ATTRIBUTE: &str = "dex_user_id";

/// User attribute holding the Dex connector the user came from (`local` for Dex's own
/// password database).
pub const CONNECTOR_ID_ATTRIBUTE: &str = "dex_connector_id";

/// The `sub` Dex issues for the user `user_id` of the connector `connector_id`.
pub fn subject(user_id: &str, connector_id: &str) -> String {
    let mut message = Vec::with_capacity(user_id.len() + connector_id.len() + 12);
    put_string_field(&mut message, 1, user_id);
    put_string_field(&mut message, 2, connector_id);
    URL_SAFE_NO_PAD.encode(message)
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
