//! Reading and writing cookies without a framework dependency: the few we set are simple.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The value of cookie `name` from the request, if present.
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The cookie name to use: the `__Host-` prefix pins the cookie to this host and path `/` and
/// requires `Secure`, so it is used only when Gatehouse is served over HTTPS.
pub(crate) fn name(base: &str, https: bool) -> String {
    if https {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` value for a session-lifetime, script-inaccessible cookie.
pub(crate) fn set(name: &str, value: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; gatehouse_csrf=xyz; b=2"),
        );
        assert_eq!(read(&headers, "gatehouse_csrf").as_deref(), Some("xyz"));
        assert_eq!(read(&headers, "missing"), None);
    }

    #[test]
    fn host_prefix_only_over_https() {
        assert_eq!(name("c", true), "__Host-c");
        assert_eq!(name("c", false), "c");
        assert!(set("c", "v", true).ends_with("; Secure"));
        assert!(!set("c", "v", false).contains("Secure"));
    }
}
