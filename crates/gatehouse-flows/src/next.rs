//! The `next` parameter: where to go after a flow completes. Only local paths are accepted,
//! so a crafted login link cannot bounce the user to another site after they sign in (an
//! open redirect; OWASP "Unvalidated Redirects and Forwards"). authentik applies the same rule
//! to its `?next=` query parameter.

/// The longest `next` value accepted, in bytes.
pub const MAX_NEXT_LEN: usize = 2048;

/// Returns `candidate` if it is a safe local path: it starts with exactly one `/` (not `//`,
/// not `/\`), contains no backslash, no control or whitespace character, and is at most
/// [`MAX_NEXT_LEN`] bytes. Anything else (absolute URLs, scheme-relative `//host`, `javascript:`
/// and friends, relative paths) is refused with `None`.
pub fn safe_next(candidate: &str) -> Option<String> {
    let mut chars = candidate.chars();
    if chars.next() != Some('/') {
        return None;
    }
    if matches!(chars.next(), Some('/' | '\\')) {
        return None;
    }
    let acceptable = candidate.len() <= MAX_NEXT_LEN
        && !candidate
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    acceptable.then(|| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn local_paths_are_accepted() {
        for ok in [
            "/",
            "/if/user/",
            "/application/o/authorize/?client_id=grafana&state=x%2F%2Fy",
            "/a//b",
            "/path:with:colons",
            "/über",
        ] {
            assert_eq!(safe_next(ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "if/user/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/a\\b",
            "https://evil.example/",
            "javascript:alert(1)",
            " /leading-space",
            "/\t/evil.example",
            "/\n/evil.example",
            "/a b",
            "/\u{0}",
            "/\u{2028}",
            "///evil.example",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_NEXT_LEN))), None);
    }

    proptest! {
        #[test]
        fn accepted_values_are_unchanged_single_slash_paths(candidate in "\\PC{0,64}|[/\\\\ \t:a-z.]{0,12}") {
            if let Some(accepted) = safe_next(&candidate) {
                prop_assert_eq!(&accepted, &candidate);
                prop_assert!(accepted.starts_with('/'));
                prop_assert!(!accepted.starts_with("//"));
                prop_assert!(!accepted.contains('\\'));
                prop_assert!(!accepted.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }

        #[test]
        fn scheme_and_host_prefixes_are_always_refused(
            prefix in prop_oneof![
                Just("//"), Just("/\\"), Just("\\"), Just("http://"), Just("https:"),
                Just("javascript:"), Just("data:"), Just(" /"), Just("\t/"), Just("/\t/"),
            ],
            rest in "\\PC{0,40}",
        ) {
            let candidate = format!("{prefix}{rest}");
            prop_assert_eq!(safe_next(&candidate), None);
        }

        #[test]
        fn plain_paths_are_accepted(segments in proptest::collection::vec("[A-Za-z0-9._~%-]{1,10}", 0..6), query in "(\\?[a-z]=[A-Za-z0-9%]{0,8})?") {
            let candidate = format!("/{}{}", segments.join("/"), query);
            prop_assert_eq!(safe_next(&candidate), Some(candidate.clone()));
        }
    }
}
