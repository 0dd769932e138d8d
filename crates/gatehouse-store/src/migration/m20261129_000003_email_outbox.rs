//! The email outbox: messages queued in the transaction that caused them, delivered by the
//! worker. `lease_owner`/`lease_until` let several workers share the queue without sending a
//! message twice; the index serves the "due and unleased" scan.

use sea_orm_migration::prelude::*;

/// Creates `email_outbox`.
#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Recipient,
    Subject,
    Kind,
    SealedBody,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |column: EmailOutbox| {
            let mut def = ColumnDef::new(column);
            def.timestamp_with_time_zone();
            def
        };
        manager
            .create_table(
                Table::create()
                    .table(EmailOutbox::Table)
                    .col(
                        ColumnDef::new(EmailOutbox::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EmailOutbox::Recipient).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::Subject).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::Kind).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::SealedBody).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::Status).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::Attempts).integer().not_null())
                    .col(at(EmailOutbox::NextAttemptAt).not_null())
                    .col(ColumnDef::new(EmailOutbox::LeaseOwner).uuid().null())
                    .col(at(EmailOutbox::LeaseUntil).null())
                    .col(ColumnDef::new(EmailOutbox::LastError).text().null())
                    .col(at(EmailOutbox::CreatedAt).not_null())
                    .col(at(EmailOutbox::SentAt).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_outbox_due_idx")
                    .table(EmailOutbox::Table)
                    .col(EmailOutbox::Status)
                    .col(EmailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }
}
