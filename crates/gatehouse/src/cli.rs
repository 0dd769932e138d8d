//! Command-line grammar.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Gatehouse: a small, fast identity provider (OIDC, SAML, LDAP).
#[derive(Parser, Debug)]
#[command(name = "gatehouse", version, about)]
pub(crate) struct Cli {
    /// Configuration file (default: /etc/gatehouse/config.yaml when it exists).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the server (HTTP, metrics and, unless --no-worker, the background worker).
    Serve {
        /// Leave background tasks to a separate `gatehouse worker` process.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only the background worker.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration with secrets masked.
    CheckConfig,
    /// Exit 0 when the local server reports ready (for container health checks).
    Healthcheck,
    /// Print the admin API's OpenAPI 3 document (what `/api/v3/schema/` serves and
    /// `openapi.json` holds).
    Openapi,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Inspect flows (change them with `apply`; see docs/flows.md).
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Manage enrollment invitations.
    #[command(subcommand)]
    Invitation(InvitationCommand),
    /// Manage applications and their OAuth2/OIDC providers.
    #[command(subcommand)]
    App(crate::commands::app::AppCommand),
    /// Manage upstream login sources (Forgejo, Gitea, GitHub, OIDC, OAuth2).
    #[command(subcommand)]
    Source(crate::commands::source::SourceCommand),
    /// Manage the signing keys of ID tokens and access tokens (rotation).
    #[command(subcommand)]
    Key(crate::commands::key::KeyCommand),
    /// Read the audit log, newest first.
    Events(crate::commands::events::EventsArgs),
    /// Make users and groups match a YAML document.
    Apply {
        /// The document (`-` for standard input).
        #[arg(short, long)]
        file: PathBuf,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import another identity provider's configuration (see docs/migrating-from-dex.md).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print users and groups as a document `apply` accepts (includes password hashes).
    Export {
        /// Write to this file (mode 0600) instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// `gatehouse import …`: configurations of other identity providers.
#[derive(Subcommand, Debug)]
pub(crate) enum ImportCommand {
    /// Import a Dex configuration file: static clients, static passwords, expiry and
    /// approval settings; prints a report. Running it twice changes nothing.
    Dex {
        /// Dex's config.yaml; `$VAR`, `idEnv`, `secretEnv` and `hashFromEnv` are read from
        /// this process's environment.
        file: PathBuf,
        /// Print the report and the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum UserCommand {
    /// Create a user.
    Create(UserCreate),
    /// List users.
    List(ListArgs),
    /// Show one user with its groups.
    Show {
        /// Username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (read from standard input).
    SetPassword {
        /// Username.
        username: String,
    },
    /// Stop a user from signing in.
    Deactivate {
        /// Username.
        username: String,
    },
    /// Let a deactivated user sign in again.
    Activate {
        /// Username.
        username: String,
    },
    /// Delete a user and its memberships, tokens and sessions.
    Delete {
        /// Username.
        username: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Manage a service account's app passwords (its client_credentials secrets).
    #[command(subcommand)]
    AppPassword(UserSecretCommand),
    /// Manage a user's API tokens (bearer credentials for the admin API, /api/v3/).
    #[command(subcommand)]
    ApiToken(UserSecretCommand),
    /// List a user's linked upstream accounts (source connections).
    Connections {
        /// Username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user's linked account at a source (refused when it is their only way to
    /// sign in).
    Unlink {
        /// Username.
        username: String,
        /// The source's slug.
        source: String,
    },
    /// List a user's live sessions (where and how they signed in).
    Sessions {
        /// Username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a user out: end one session (`--session ID`) or all of them.
    EndSessions {
        /// Username.
        username: String,
        /// Only this session (its id from `sessions`).
        #[arg(long)]
        session: Option<String>,
    },
    /// List a user's MFA devices (TOTP, passkeys, recovery codes; never their secrets).
    Devices {
        /// Username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove one of a user's MFA devices (e.g. a lost phone).
    RemoveDevice {
        /// Username.
        username: String,
        /// The device's id (from `devices`).
        id: String,
    },
    /// Email the user a single-use password recovery link (needs `email.host`).
    SendRecovery {
        /// Username.
        username: String,
    },
}

/// `gatehouse user app-password …` (the secrets a service account presents as `password`
/// in the client_credentials grant) and `gatehouse user api-token …` (bearer tokens for the
/// admin API): secrets stored as keyed digests, shown once.
#[derive(Subcommand, Debug)]
pub(crate) enum UserSecretCommand {
    /// Create one and print it (shown only once).
    Create {
        /// The username.
        username: String,
        /// What it is for, shown in listings.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime: `30m`, `12h`, `7d`, `2w` or `never`.
        #[arg(long, default_value = "never")]
        expires: String,
    },
    /// List them (never the secrets).
    List {
        /// Username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete one; it stops working at once.
    Delete {
        /// Username.
        username: String,
        /// Its id (from `list`).
        id: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct UserCreate {
    /// Login name.
    pub(crate) username: String,
    /// Display name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Email address.
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// `internal` or `service_account`.
    #[arg(long = "type", default_value = "internal")]
    pub(crate) user_type: String,
    /// Direct group membership (repeatable).
    #[arg(long = "group")]
    pub(crate) groups: Vec<String>,
    /// Read a password from standard input.
    #[arg(long)]
    pub(crate) password_stdin: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// Only names (and emails) containing this text.
    #[arg(long)]
    pub(crate) search: Option<String>,
    /// Page size (at most 500).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u64,
    /// Rows to skip.
    #[arg(long, default_value_t = 0)]
    pub(crate) offset: u64,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum GroupCommand {
    /// Create a group.
    Create {
        /// Name.
        name: String,
        /// Parent group.
        #[arg(long)]
        parent: Option<String>,
        /// Members administer Gatehouse.
        #[arg(long)]
        superuser: bool,
    },
    /// List groups.
    List(ListArgs),
    /// Add a user to a group.
    AddMember {
        /// Group name.
        group: String,
        /// Username.
        username: String,
    },
    /// Remove a user from a group.
    RemoveMember {
        /// Group name.
        group: String,
        /// Username.
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FlowCommand {
    /// List the flows: slug, designation, stages, and whether it is a default as shipped.
    List,
    /// Print a flow as a document `apply` accepts: edit it and apply it back.
    Show {
        /// The flow's slug.
        slug: String,
    },
}
#[derive(Subcommand, Debug)]
pub(crate) enum InvitationCommand {
    /// Create an invitation and print its link (shown only once).
    Create(InvitationCreate),
    /// List invitations.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an invitation (its link stops working).
    Delete {
        /// The invitation's id (from `invitation list`).
        id: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct InvitationCreate {
    /// The new account's email address (fixed: the invitee cannot change it).
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// A group the new account joins (repeatable).
    #[arg(long = "group")]
    pub(crate) groups: Vec<String>,
    /// How long the link works: `30m`, `12h`, `7d`, `2w`, or `never`.
    #[arg(long, default_value = "7d")]
    pub(crate) expires: String,
    /// Let several people create accounts with the link (default: one account).
    #[arg(long)]
    pub(crate) multi_use: bool,
    /// The enrollment flow the link opens.
    #[arg(long, default_value = "default-enrollment-flow")]
    pub(crate) flow: String,
    /// Also email the link to `--email` (needs `email.host`; the worker delivers it).
    #[arg(long)]
    pub(crate) send: bool,
}
