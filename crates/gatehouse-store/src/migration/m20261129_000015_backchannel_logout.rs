//! OpenID Connect Back-Channel Logout 1.0 §2.2: each OAuth2 provider may register a
//! `backchannel_logout_uri` and whether it needs `sid` in logout tokens. The URI is nullable
//! and the flag defaults to false, so existing providers keep working as before.
//! Grant artefacts record the browser session they were issued in (`session_id`, indexed,
//! deliberately without a foreign key: sessions may live in Redis), and `backchannel_logouts`
//! queues the deliveries that ending a session causes, shaped like the email outbox.

use sea_orm_migration::prelude::*;

/// Adds `oauth2_providers.backchannel_logout_uri`,
/// `oauth2_providers.backchannel_logout_session_required`, `oauth2_tokens.session_id` and the
/// `backchannel_logouts` queue.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Oauth2Providers {
    Table,
    BackchannelLogoutUri,
    BackchannelLogoutSessionRequired,
}

#[derive(DeriveIden)]
enum Oauth2Tokens {
    Table,
    SessionId,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BackchannelLogouts {
    Table,
    Id,
    ApplicationId,
    UserId,
    SessionId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::BackchannelLogoutUri)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Providers::Table)
                    .add_column(
                        ColumnDef::new(Oauth2Providers::BackchannelLogoutSessionRequired)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Oauth2Tokens::Table)
                    .add_column(ColumnDef::new(Oauth2Tokens::SessionId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oauth2_tokens_session_id_idx")
                    .table(Oauth2Tokens::Table)
                    .col(Oauth2Tokens::SessionId)
                    .to_owned(),
            )
            .await?;
        let at = |column: BackchannelLogouts| {
            let mut def = ColumnDef::new(column);
            def.timestamp_with_time_zone();
            def
        };
        manager
            .create_table(
                Table::create()
                    .table(BackchannelLogouts::Table)
                    .col(
                        ColumnDef::new(BackchannelLogouts::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(BackchannelLogouts::ApplicationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BackchannelLogouts::UserId).uuid().null())
                    .col(
                        ColumnDef::new(BackchannelLogouts::SessionId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BackchannelLogouts::Status).text().not_null())
                    .col(
                        ColumnDef::new(BackchannelLogouts::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(at(BackchannelLogouts::NextAttemptAt).not_null())
                    .col(ColumnDef::new(BackchannelLogouts::LeaseOwner).uuid().null())
                    .col(at(BackchannelLogouts::LeaseUntil).null())
                    .col(ColumnDef::new(BackchannelLogouts::LastError).text().null())
                    .col(at(BackchannelLogouts::CreatedAt).not_null())
                    .col(at(BackchannelLogouts::FinishedAt).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("backchannel_logouts_application_id_fkey")
                            .from(BackchannelLogouts::Table, BackchannelLogouts::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "backchannel_logouts_due_idx",
                [
                    BackchannelLogouts::Status,
                    BackchannelLogouts::NextAttemptAt,
                ],
            ),
            (
                "backchannel_logouts_session_idx",
                [BackchannelLogouts::SessionId, BackchannelLogouts::CreatedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(BackchannelLogouts::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
