//! Redirect URI matching. A requested `redirect_uri` must equal a registered one exactly,
//! byte for byte (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3: no prefix or pattern matching). The
//! one exception is RFC 8252 §7.3 for native (public) clients: a registered loopback URI
//! `http://127.0.0.1/...` or `http://[::1]/...` also matches the same URI with any port,
//! because a native app listens on whatever port the OS gives it.

use gatehouse_core::ClientType;

/// Whether `requested` is acceptable for a client of `client_type` with `registered` URIs.
pub fn matches(registered: &[String], requested: &str, client_type: ClientType) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    if client_type != ClientType::Public {
        return false;
    }
    let Some(requested) = Loopback::parse(requested) else {
        return false;
    };
    registered
        .iter()
        .filter_map(|r| Loopback::parse(r))
        .any(|r| r.host == requested.host && r.rest == requested.rest)
}

/// The Content-Security-Policy source expression that admits `redirect_uri` (CSP Level 3
/// §2.3.1): `scheme://authority` for `http`/`https`, `scheme:` for a native app's private
/// scheme. Browsers check `form-action` on every redirect that follows a form submission, so
/// a page whose form ends, through redirects, at a client needs the client's source in its
/// `form-action`. `None` for anything that could not be written safely into the header.
pub fn csp_source(redirect_uri: &str) -> Option<String> {
    let (scheme, rest) = redirect_uri.split_once(':')?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.strip_prefix("//")?;
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    let authority = &authority[..end];
    let safe = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    safe.then(|| format!("{scheme}://{authority}"))
}

/// An `http` loopback URI split around its port: `http://HOST[:PORT]REST`.
struct Loopback<'a> {
    host: &'a str,
    rest: &'a str,
}

impl<'a> Loopback<'a> {
    fn parse(uri: &'a str) -> Option<Self> {
        // Scheme and host compare exactly as registered: no case folding, no `localhost`
        // (RFC 8252 §8.3 says NOT RECOMMENDED), no userinfo.
        let after = uri.strip_prefix("http://")?;
        let host = ["127.0.0.1", "[::1]"]
            .into_iter()
            .find(|h| after.starts_with(h))?;
        let tail = &after[host.len()..];
        let rest = match tail.strip_prefix(':') {
            Some(port_and_rest) => {
                let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
                let port = &port_and_rest[..digits];
                if port.is_empty() || port.len() > 5 || port.parse::<u16>().ok()? == 0 {
                    return None;
                }
                &port_and_rest[digits..]
            }
            None => tail,
        };
        // The authority must end here.
        if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
            return None;
        }
        Some(Self { host, rest })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csp_sources() {
        use super::csp_source;
        assert_eq!(
            csp_source("https://grafana.example.com/login/generic_oauth?x=1").as_deref(),
            Some("https://grafana.example.com")
        );
        assert_eq!(
            csp_source("http://127.0.0.1:8000/").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            csp_source("http://[::1]:9/cb").as_deref(),
            Some("http://[::1]:9")
        );
        assert_eq!(
            csp_source("com.example.app:/callback").as_deref(),
            Some("com.example.app:")
        );
        for bad in [
            "https://evil.example; script-src *",
            "https://user@host/",
            "https:///path",
            "no-scheme",
            "1http://x/",
        ] {
            assert_eq!(csp_source(bad), None, "{bad}");
        }
    }

    use super::*;
    use proptest::prelude::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|u| (*u).to_owned()).collect()
    }

    #[test]
    fn exact_match_only_for_confidential_clients() {
        let r = reg(&["https://app.example/cb", "http://127.0.0.1/cb"]);
        let c = ClientType::Confidential;
        assert!(matches(&r, "https://app.example/cb", c));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://APP.example/cb",
            "https://app.example/c",
            "https://app.example/cb#x",
            "https://app.example/cb/../cb",
            "http://127.0.0.1:8080/cb",
            "",
        ] {
            assert!(!matches(&r, bad, c), "{bad}");
        }
    }

    #[test]
    fn loopback_any_port_for_public_clients() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]:1234/cb?x=1"]);
        let p = ClientType::Public;
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1:65535/callback",
            "http://[::1]/cb?x=1",
            "http://[::1]:9/cb?x=1",
        ] {
            assert!(matches(&r, ok, p), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:80/callbackx",
            "http://127.0.0.1.evil.example/callback",
            "http://127.0.0.1@evil.example/callback",
            "http://127.0.0.1:80@evil.example/callback",
            "https://127.0.0.1:80/callback",
            "http://localhost:80/callback",
            "http://[::1]:9/cb",
            "http://127.0.0.1:8000/cb?x=1",
        ] {
            assert!(!matches(&r, bad, p), "{bad}");
        }
    }

    fn uri_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "https://[a-z]{1,8}\\.example(:[0-9]{1,5})?/[a-z/?=&.%#@:]{0,20}",
            "http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)(:[0-9]{0,6})?[/?@.a-z:]{0,12}",
            "[ -~]{0,40}",
        ]
    }

    proptest! {
        /// A URI that is registered always matches itself.
        #[test]
        fn registered_uris_match_themselves(uri in uri_strategy(), public in any::<bool>()) {
            let t = if public { ClientType::Public } else { ClientType::Confidential };
            prop_assert!(matches(std::slice::from_ref(&uri), &uri, t));
        }

        /// Confidential clients never match anything but an identical string.
        #[test]
        fn confidential_is_exact(a in uri_strategy(), b in uri_strategy()) {
            prop_assert_eq!(
                matches(std::slice::from_ref(&a), &b, ClientType::Confidential),
                a == b
            );
        }

        /// A loopback match never changes host, path or query, and never leaves loopback:
        /// the requested URI with its port removed equals the registered one with its port
        /// removed, and both are http loopback URIs.
        #[test]
        fn loopback_matches_differ_only_in_port(a in uri_strategy(), b in uri_strategy()) {
            if a != b && matches(std::slice::from_ref(&a), &b, ClientType::Public) {
                let la = Loopback::parse(&a).expect("registered is loopback");
                let lb = Loopback::parse(&b).expect("requested is loopback");
                prop_assert_eq!(la.host, lb.host);
                prop_assert_eq!(la.rest, lb.rest);
                prop_assert!(b.starts_with("http://127.0.0.1") || b.starts_with("http://[::1]"));
                let authority_end = b["http://".len()..].find(['/', '?']).map_or(b.len(), |i| i + 7);
                let authority = &b["http://".len()..authority_end];
                prop_assert!(!authority.contains('@'));
            }
        }

        /// Matching never panics on arbitrary input.
        #[test]
        fn never_panics(r in proptest::collection::vec(any::<String>(), 0..4), q in any::<String>()) {
            let _ = matches(&r, &q, ClientType::Public);
        }
    }
}
