//! HTTP to upstream sources: discovery documents, JWKS, the token endpoint, user-info and the
//! Forgejo/GitHub REST APIs. Every request is bounded (connect and total timeouts, a response
//! size cap, no redirects, no proxy) and goes through the SSRF guard: host names are resolved
//! here, every address is checked with `gatehouse_sources::address`, and the connection is
//! made only to the checked addresses (so a name cannot be re-resolved to somewhere else
//! between the check and the connect). Discovery documents and key sets are cached briefly.

use crate::config::SourcesConfig;
use gatehouse_sources::address;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many cached documents are kept at most (a few per source).
const MAX_CACHED: usize = 256;

/// Why an upstream request failed. The messages never carry URLs' queries or tokens.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Connection refused, DNS failure or timeout: worth trying again later.
    #[error("the upstream could not be reached in time")]
    Unreachable,
    /// The SSRF guard refused the upstream's address.
    #[error("the upstream's address is not allowed ({0})")]
    AddressRefused(String),
    /// The upstream answered with an error status and no usable body.
    #[error("the upstream answered HTTP {0}")]
    Status(u16),
    /// The body is larger than `sources.max_response_bytes`.
    #[error("the upstream's answer is too large")]
    TooLarge,
    /// The body is not a JSON document.
    #[error("the upstream's answer is not JSON")]
    NotJson,
    /// The URL cannot be used.
    #[error("the upstream URL is invalid")]
    BadUrl,
}

/// The shared client for upstream requests, with its small document cache.
pub struct Upstream {
    client: reqwest::Client,
    allow_loopback: bool,
    max_bytes: usize,
    cache_for: Duration,
    cache: Mutex<HashMap<String, (Instant, Arc<Value>)>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// The resolver behind the SSRF guard: a name resolves only if every one of its addresses is
/// allowed (a name mixing a public and a metadata address is refused as a whole).
struct GuardedResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err("the name has no address".into());
            }
            for addr in &found {
                if let Err(refused) = address::check(addr.ip(), allow_loopback) {
                    return Err(
                        format!("{host} resolves to a refused address ({refused:?})").into(),
                    );
                }
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl Upstream {
    /// A client with the configured bounds.
    ///
    /// # Errors
    /// When the TLS backend cannot be set up.
    pub fn new(config: &SourcesConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(GuardedResolver {
                allow_loopback: config.allow_loopback,
            })
            .build()?;
        Ok(Self {
            client,
            allow_loopback: config.allow_loopback,
            max_bytes: config.max_response_bytes.max(1024),
            cache_for: Duration::from_secs(config.cache_secs),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Parses `url` and applies the address rule to a literal IP host (names are checked by
    /// the resolver when the connection is made).
    fn checked_url(&self, url: &str) -> Result<reqwest::Url, FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl);
        }
        let host = parsed.host_str().ok_or(FetchError::BadUrl)?;
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal {
            address::check(ip, self.allow_loopback)
                .map_err(|refused| FetchError::AddressRefused(format!("{refused:?}")))?;
        }
        Ok(parsed)
    }

    /// `GET url` (with a bearer token when given), as JSON.
    ///
    /// # Errors
    /// See [`FetchError`]; an error status is [`FetchError::Status`].
    pub async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, FetchError> {
        let mut request = self
            .client
            .get(self.checked_url(url)?)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let (status, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        parse(&body)
    }

    /// `POST url` with a form body, as JSON. An error status with a JSON body (an OAuth2
    /// error response, RFC 6749 §5.2) returns that body for the caller to read.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&'static str, String)],
    ) -> Result<Value, FetchError> {
        let request = self
            .client
            .post(self.checked_url(url)?)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form);
        let (status, body) = self.send(request).await?;
        match parse(&body) {
            Ok(document) if status.is_success() || status.is_client_error() => Ok(document),
            _ if !status.is_success() => Err(FetchError::Status(status.as_u16())),
            other => other,
        }
    }

    /// A discovery document or key set: from the cache when fetched less than
    /// `sources.cache_secs` ago, unless `fresh` (a key set missing the token's key is
    /// fetched again once, for upstream key rotation).
    ///
    /// # Errors
    /// See [`Upstream::get_json`].
    pub async fn cached_json(&self, url: &str, fresh: bool) -> Result<Arc<Value>, FetchError> {
        if !fresh && let Some(hit) = self.cached(url) {
            return Ok(hit);
        }
        let document = Arc::new(self.get_json(url, None).await?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(url.to_owned(), (Instant::now(), Arc::clone(&document)));
        }
        Ok(document)
    }

    fn cached(&self, url: &str) -> Option<Arc<Value>> {
        let cache = self.cache.lock().ok()?;
        let (at, document) = cache.get(url)?;
        (at.elapsed() < self.cache_for).then(|| Arc::clone(document))
    }

    /// Sends `request` and reads at most `max_bytes` of the body.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), FetchError> {
        let mut response = request.send().await.map_err(|error| classify(&error))?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| classify(&error))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

fn parse(body: &[u8]) -> Result<Value, FetchError> {
    serde_json::from_slice(body).map_err(|_| FetchError::NotJson)
}

/// A transport error in words: the guard's refusal, or "unreachable" for the rest.
fn classify(error: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if text.contains("resolves to a refused address") {
            return FetchError::AddressRefused(text);
        }
        source = current.source();
    }
    FetchError::Unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(allow_loopback: bool) -> Upstream {
        let config = SourcesConfig {
            allow_loopback,
            ..SourcesConfig::default()
        };
        Upstream::new(&config).expect("client")
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_before_connecting() {
        let guarded = upstream(false);
        for url in [
            "http://127.0.0.1:9/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9/x",
            "http://0.0.0.0/x",
        ] {
            assert!(
                matches!(
                    guarded.get_json(url, None).await,
                    Err(FetchError::AddressRefused(_))
                ),
                "{url}"
            );
        }
        assert_eq!(
            guarded.get_json("file:///etc/passwd", None).await,
            Err(FetchError::BadUrl)
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_allowed() {
        let guarded = upstream(false);
        assert!(matches!(
            guarded.get_json("http://localhost:9/x", None).await,
            Err(FetchError::AddressRefused(_))
        ));
        // Allowed: the connection is attempted (and fails: nothing listens on port 9).
        assert_eq!(
            upstream(true).get_json("http://localhost:9/x", None).await,
            Err(FetchError::Unreachable)
        );
    }
}
