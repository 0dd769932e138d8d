//! Reading hidden form fields out of server-rendered pages, for tests that drive forms over
//! plain HTTP (the CSRF token every form carries, the consent page's sealed request).

/// The value of the hidden input `name` in `html`; panics, showing the page, when missing.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name} field in {html}"));
    html[start..].split('"').next().expect("value").to_owned()
}

/// The CSRF token of the form in `html`.
pub fn csrf_of(html: &str) -> String {
    hidden_field(html, "csrf")
}
