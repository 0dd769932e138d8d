//! The client address of a request, resolved once per request from the connection and, behind
//! trusted proxies, their forwarding headers (see [`crate::client_addr`]). Handlers take
//! [`ClientIp`] instead of the raw connection address, so throttling and audit events see the
//! person, not the proxy.

use crate::client_addr::TrustedProxies;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{FORWARDED, HeaderMap, HeaderName};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The resolved client address of the current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Resolves the client address and stores it in the request for [`ClientIp`].
pub(crate) async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let client = if proxies.is_empty() {
        peer
    } else {
        let headers = request.headers();
        proxies.client_ip(
            peer,
            &values(headers, &FORWARDED),
            &values(headers, &X_FORWARDED_FOR),
        )
    };
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

fn values<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect()
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The router always runs `resolve`; the fallback only matters for a handler mounted
        // without it.
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or_else(|| {
                ClientIp(
                    parts
                        .extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip()),
                )
            }))
    }
}
