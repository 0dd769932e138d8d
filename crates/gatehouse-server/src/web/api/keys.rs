//! `/api/v3/crypto/keys/`: signing keys of ID tokens and JWT access tokens.

use super::{Admin, ApiErrorBody, ApiJson, ApiQuery, ApiResult, ListParams, Paginated};
use crate::admin::keys as service;
use crate::services::Services;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use gatehouse_core::SigningKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A signing key (never its private part).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyOut {
    /// Also the JWK `kid`.
    id: Uuid,
    name: String,
    /// `RS256`, `ES256` or `EdDSA`.
    alg: String,
    /// Whether it signs new tokens (retired keys only verify).
    active: bool,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    /// A retired key stays published until then.
    verify_until: Option<DateTime<Utc>>,
}

impl From<SigningKey> for KeyOut {
    fn from(k: SigningKey) -> Self {
        Self {
            id: k.id.0,
            name: k.name,
            alg: k.algorithm.as_str().into(),
            active: k.retired_at.is_none(),
            created_at: k.created_at,
            retired_at: k.retired_at,
            verify_until: k.verify_until,
        }
    }
}

/// Which algorithm's key to rotate.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct KeyRotate {
    /// `RS256`, `ES256` or `EdDSA`.
    alg: String,
}

/// A private key to import.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct KeyImport {
    /// The private key as PEM: `BEGIN PRIVATE KEY` (PKCS#8: RSA, P-256 or Ed25519),
    /// `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` (P-256). Its algorithm (RS256, ES256
    /// or EdDSA) follows from the key.
    pem: String,
    /// A name for the key (default `imported-<alg>-<time>`).
    #[serde(default)]
    name: Option<String>,
}

/// The outcome of a rotation or an import.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyRotated {
    /// The new active key.
    active: KeyOut,
    /// The keys it replaced, still published for verification.
    retired: Vec<KeyOut>,
}

/// Lists keys, newest first; `ordering`: `-created_at` or `created_at`.
#[utoipa::path(get, path = "/api/v3/crypto/keys/", tag = "keys", params(ListParams),
    responses(
        (status = 200, body = Paginated<KeyOut>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn list(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Paginated<KeyOut>>> {
    let query = params.ordered("created_at", true)?;
    let page = service::list(&services, &caller, &query).await?;
    Ok(Json(Paginated::of(page, &query, KeyOut::from)))
}

/// Makes a new active key for an algorithm and retires the current one.
#[utoipa::path(post, path = "/api/v3/crypto/keys/rotate/", tag = "keys", request_body = KeyRotate,
    responses(
        (status = 200, body = KeyRotated),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn rotate(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<KeyRotate>,
) -> ApiResult<Json<KeyRotated>> {
    let (active, retired) = service::rotate(&services, &caller, &body.alg).await?;
    Ok(Json(KeyRotated {
        active: active.into(),
        retired: retired.into_iter().map(KeyOut::from).collect(),
    }))
}

/// Makes an imported private key the active key of its algorithm and retires the current one
/// (kept in JWKS until its tokens expire), e.g. to keep the key another IdP signed with.
#[utoipa::path(post, path = "/api/v3/crypto/keys/import/", tag = "keys", request_body = KeyImport,
    responses(
        (status = 201, body = KeyRotated),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub(crate) async fn import(
    State(services): State<Services>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<KeyImport>,
) -> ApiResult<(StatusCode, Json<KeyRotated>)> {
    let (active, retired) =
        service::import(&services, &caller, &body.pem, body.name.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyRotated {
            active: active.into(),
            retired: retired.into_iter().map(KeyOut::from).collect(),
        }),
    ))
}
