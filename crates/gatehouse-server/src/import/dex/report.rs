//! What `gatehouse import dex` tells the operator: what it imported, what it changed on
//! the way and why, what it left behind, which keys it did not know, and the URLs each
//! client must point at afterwards.

use crate::declarative::ApplicationSpec;
use std::fmt::{self, Write};

/// Where a note belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Carried over as it was.
    Imported,
    /// Carried over with a difference the operator should know about.
    Changed,
    /// Recognised, with no Gatehouse equivalent.
    NotImported,
    /// Left out because importing it would have overwritten something.
    Skipped,
    /// Keys this import does not know.
    Unknown,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Self::Imported => "Imported",
            Self::Changed => "Imported with a difference",
            Self::NotImported => "Not imported",
            Self::Skipped => "Skipped",
            Self::Unknown => "Unknown keys (ignored)",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Its section.
    pub section: Section,
    /// The place in the Dex file (`staticClients[1]`, `expiry.idTokens`).
    pub place: String,
    /// What happened, and why.
    pub message: String,
}

/// The URLs one client uses after the move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInstructions {
    /// The client id.
    pub client_id: String,
    /// The application's slug.
    pub slug: String,
    /// The new issuer (`…/application/o/<slug>/`).
    pub issuer: String,
}

/// The whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Notes in the order they were made.
    pub notes: Vec<Note>,
    /// Dex's issuer, replaced by the per-application issuers.
    pub dex_issuer: Option<String>,
    /// Gatehouse's external URL.
    pub base_url: String,
    /// One entry per imported client.
    pub clients: Vec<ClientInstructions>,
    /// The Dex-compatible alias issuer, when `dex_compat.issuer_path` is set: every client
    /// may keep Dex's paths under it.
    pub dex_alias: Option<String>,
}

impl Report {
    /// Adds a note.
    pub fn note(&mut self, section: Section, place: &str, message: impl Into<String>) {
        self.notes.push(Note {
            section,
            place: place.to_owned(),
            message: message.into(),
        });
    }

    /// The notes of one section.
    pub fn section(&self, section: Section) -> impl Iterator<Item = &Note> {
        self.notes.iter().filter(move |n| n.section == section)
    }

    /// Records the URLs each imported client moves to.
    pub(super) fn client_instructions(
        &mut self,
        base_url: &str,
        dex_issuer: Option<&str>,
        applications: &[ApplicationSpec],
    ) {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self.dex_issuer = dex_issuer.map(str::to_owned);
        self.clients = applications
            .iter()
            .filter_map(|app| {
                let client_id = app.oidc.as_ref()?.client_id.clone()?;
                Some(ClientInstructions {
                    issuer: gatehouse_oidc::discovery::issuer(&self.base_url, &app.slug),
                    client_id,
                    slug: app.slug.clone(),
                })
            })
            .collect();
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for section in [
            Section::Imported,
            Section::Changed,
            Section::NotImported,
            Section::Skipped,
            Section::Unknown,
        ] {
            let mut notes = self.section(section).peekable();
            if notes.peek().is_none() {
                continue;
            }
            writeln!(f, "{}:", section.title())?;
            for note in notes {
                writeln!(f, "  - {}: {}", note.place, note.message)?;
            }
            writeln!(f)?;
        }
        if !self.clients.is_empty() {
            let mut header = String::from("What to change in each client");
            if let Some(issuer) = &self.dex_issuer {
                let _ = write!(header, " (replacing Dex's issuer {issuer})");
            }
            writeln!(f, "{header}:")?;
            let base = &self.base_url;
            for client in &self.clients {
                writeln!(f, "  {} (application {}):", client.client_id, client.slug)?;
                writeln!(f, "    issuer / discovery: {}", client.issuer)?;
                writeln!(f, "    authorization:      {base}/application/o/authorize/")?;
                writeln!(f, "    token:              {base}/application/o/token/")?;
                writeln!(f, "    userinfo:           {base}/application/o/userinfo/")?;
                writeln!(f, "    JWKS:               {}jwks/", client.issuer)?;
            }
            writeln!(f)?;
            self.write_dex_alias(f)?;
        }
        Ok(())
    }
}

impl Report {
    /// The alias's URLs, or how to turn it on with Dex's own issuer path.
    fn write_dex_alias(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use gatehouse_oidc::dex::{AUTH_PATH, KEYS_PATH, TOKEN_PATH, USERINFO_PATH};
        let Some(alias) = &self.dex_alias else {
            let path = self.dex_issuer.as_deref().map_or("/dex", issuer_path);
            writeln!(
                f,
                "Or keep Dex's URLs for every client: serve Gatehouse at Dex's host name with \
                 `dex_compat: {{ issuer_path: \"{path}\" }}` in its configuration, and run this \
                 import again to see the alias URLs."
            )?;
            return Ok(());
        };
        let same = self.dex_issuer.as_deref() == Some(alias.as_str());
        writeln!(
            f,
            "Or, for every client, Dex's paths under the Dex-compatible issuer{}:",
            if same {
                " (Dex's issuer unchanged)"
            } else {
                ""
            }
        )?;
        writeln!(f, "    issuer / discovery: {alias}")?;
        writeln!(f, "    authorization:      {alias}{AUTH_PATH}")?;
        writeln!(f, "    token:              {alias}{TOKEN_PATH}")?;
        writeln!(f, "    userinfo:           {alias}{USERINFO_PATH}")?;
        writeln!(f, "    JWKS:               {alias}{KEYS_PATH}")
    }
}

/// The path of an issuer URL (`https://dex.example.com/dex` → `/dex`; `/` when it has none).
fn issuer_path(issuer: &str) -> &str {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(at) if after_scheme.len() > at + 1 => &after_scheme[at..],
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_paths_of_dex_issuers() {
        assert_eq!(issuer_path("https://dex.example.com/dex"), "/dex");
        assert_eq!(issuer_path("https://dex.example.com/"), "/");
        assert_eq!(issuer_path("https://dex.example.com"), "/");
        assert_eq!(issuer_path("http://127.0.0.1:5556/a/b"), "/a/b");
    }
}
