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

/// A `Set-Cookie` value for a browser-session, script-inaccessible cookie sent only on
/// same-site requests.
pub(crate) fn set(name: &str, value: &str, https: bool) -> String {
    with_same_site(name, value, "Strict", https)
}

/// Like [`set`] but also sent on top-level cross-site navigations (`SameSite=Lax`), which the
/// sign-in session needs so links from applications arrive signed in.
pub(crate) fn set_lax(name: &str, value: &str, https: bool) -> String {
    with_same_site(name, value, "Lax", https)
}

/// Like [`set_lax`], but kept by the browser for `max_age_secs` instead of until it closes
/// ("Stay signed in").
pub(crate) fn set_lax_for(name: &str, value: &str, https: bool, max_age_secs: i64) -> String {
    format!("{}; Max-Age={max_age_secs}", set_lax(name, value, https))
}

fn with_same_site(name: &str, value: &str, same_site: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}{secure}")
}

/// A `Set-Cookie` value that makes the browser forget cookie `name`.
pub(crate) fn clear(name: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

/// Adds a `Set-Cookie` header to a response.
pub(crate) fn append(response: &mut axum::response::Response, cookie: &str) {
    if let Ok(value) = cookie.parse() {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
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
