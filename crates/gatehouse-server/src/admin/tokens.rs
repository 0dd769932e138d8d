//! API tokens and app passwords: API tokens are bearer credentials for `/api/v3/` that act
//! as a user; app passwords are the secrets a service account presents in the
//! client_credentials grant. The secret is returned once at creation; only its keyed digest
//! is stored. A token for a user who holds administrative rights is an administrator's
//! credential, so only superusers mint or revoke those.

use super::{AdminError, AdminResult, Caller, page_in_memory, user_is_privileged};
use crate::services::Services;
use chrono::{DateTime, Utc};
use gatehouse_core::{
    AdminArea, ListQuery, NewToken, Page, Token, TokenId, TokenIntent, UserId, UserType,
};

/// The kinds of token administrators manage (the others are links the flows mint).
pub const MANAGED: [TokenIntent; 2] = [TokenIntent::Api, TokenIntent::AppPassword];

/// A page of tokens of the given `kinds` (a subset of [`MANAGED`]; never their secrets),
/// optionally of one user.
pub async fn list(
    services: &Services,
    caller: &Caller,
    user: Option<UserId>,
    kinds: &[TokenIntent],
    query: &ListQuery,
) -> AdminResult<Page<Token>> {
    caller.require_read(AdminArea::Tokens)?;
    let tokens: Vec<Token> = services
        .store
        .list_tokens(user)
        .await?
        .into_iter()
        .filter(|t| kinds.contains(&t.intent) && MANAGED.contains(&t.intent))
        .collect();
    Ok(page_in_memory(tokens, query, |t| t.description.clone()))
}

/// Mints a token of `kind` (one of [`MANAGED`]) for `user`; returns it with its secret
/// (shown once). App passwords only work for service accounts, so only those get one.
pub async fn create(
    services: &Services,
    caller: &Caller,
    user: UserId,
    kind: TokenIntent,
    description: String,
    expires_at: Option<DateTime<Utc>>,
) -> AdminResult<(Token, String)> {
    caller.require_write(AdminArea::Tokens)?;
    if !MANAGED.contains(&kind) {
        return Err(AdminError::field("intent", "choose api or app_password"));
    }
    let description = description.trim().to_owned();
    if description.is_empty() || description.chars().count() > 150 {
        return Err(AdminError::field(
            "description",
            "must be 1 to 150 characters",
        ));
    }
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AdminError::field("expires_at", "must be in the future"));
    }
    let owner = services
        .store
        .user_by_id(user)
        .await?
        .ok_or_else(|| AdminError::field("user", "no such user"))?;
    if kind == TokenIntent::AppPassword && owner.user_type != UserType::ServiceAccount {
        return Err(AdminError::field(
            "user",
            "app passwords only work for service accounts",
        ));
    }
    if user_is_privileged(services, owner.id).await? {
        caller.require_privileged("create API tokens for users who hold administrative rights")?;
    }
    let secret = gatehouse_crypto::generate_token("");
    let token = services
        .store
        .create_token(
            NewToken {
                intent: kind,
                user_id: Some(owner.id),
                description,
                digest: services.digester.digest(&secret),
                expires_at,
                state: None,
            },
            &caller.audit,
        )
        .await?;
    Ok((token, secret))
}

/// The token `id` if it is of one of `kinds` (a subset of [`MANAGED`]).
pub async fn get(
    services: &Services,
    caller: &Caller,
    id: TokenId,
    kinds: &[TokenIntent],
) -> AdminResult<Token> {
    caller.require_read(AdminArea::Tokens)?;
    services
        .store
        .list_tokens(None)
        .await?
        .into_iter()
        .find(|t| t.id == id && kinds.contains(&t.intent) && MANAGED.contains(&t.intent))
        .ok_or_else(|| AdminError::not_found("token"))
}

/// Deletes a token of one of `kinds`; it stops working at once.
pub async fn delete(
    services: &Services,
    caller: &Caller,
    id: TokenId,
    kinds: &[TokenIntent],
) -> AdminResult<()> {
    caller.require_write(AdminArea::Tokens)?;
    let token = get(services, caller, id, kinds).await?;
    if let Some(owner) = token.user_id
        && user_is_privileged(services, owner).await?
    {
        caller.require_privileged("revoke API tokens of users who hold administrative rights")?;
    }
    Ok(services.store.delete_token(token.id, &caller.audit).await?)
}
