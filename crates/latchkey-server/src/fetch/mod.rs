//! The one outbound HTTP fetcher: every URL a client hands us (`jwks_uri`,
//! `sector_identifier_uri`, client ID metadata documents, software-statement keys) is
//! fetched through [`Fetcher`], under these rules: https only (loopback http only in
//! dev mode), private and special-use addresses refused, no redirects, time and size limits.
//!
//! Why each piece is here:
//! - The URL a client registers points wherever it likes; without the address guard it
//!   would make the server probe its own network (SSRF: cloud metadata at 169.254.169.254,
//!   admin ports on 127.0.0.1, hosts on 10/8…).
//! - The guard runs inside the DNS resolver the HTTP client connects with, so the address
//!   that was vetted is the address connected to: checking a name first and connecting
//!   later would let a DNS answer change in between (rebinding). IP-literal hosts never
//!   reach a resolver, so [`Fetcher::check_url`] vets them before anything is sent.
//! - Redirects are not followed: a vetted public URL could otherwise send us to a private
//!   one, and a client's metadata URL must be the document itself.
//! - Every error message is short, lowercase and safe to put in an `error_description`
//!   after a prefix (`"jwks_uri: address 10.0.0.1 is not allowed"`); network failures are
//!   reduced to a few fixed phrases so that the server is no oracle for what lies behind a
//!   name.
//!
//! Here: the policy, the errors and the client; the address guard and the resolver it runs
//! in are `guard`; `cache` keeps fetched documents per node, one fetch per key at a time.

pub mod cache;
mod guard;

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Url, header, redirect};

use guard::{GuardedResolver, ResolveError, is_loopback_host, literal_ip};
pub use guard::{StaticDns, address_allowed};

/// What a [`Fetcher`] may do.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Allow loopback addresses, and plain http to a loopback host (dev mode only).
    pub allow_loopback: bool,
    /// Limit for the whole exchange: resolving, connecting, and reading the body.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
}

impl FetchPolicy {
    /// `latchkey start`: no loopback, 5 s, 64 KiB (a JWKS or metadata document is a few KiB;
    /// the same bound as our own request bodies, `BODY_LIMIT`).
    pub fn production() -> Self {
        FetchPolicy {
            allow_loopback: false,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
        }
    }

    /// `latchkey start-dev`: as production, but loopback (and http to it) is allowed so that
    /// a developer can serve keys from their own machine.
    pub fn dev() -> Self {
        FetchPolicy {
            allow_loopback: true,
            ..Self::production()
        }
    }
}

/// Why a fetch failed. The messages are meant to be shown to the client that gave the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid url: {0}")]
    BadUrl(&'static str),
    #[error("url must use https")]
    NotHttps,
    #[error("address {0} is not allowed")]
    ForbiddenAddress(String),
    #[error("redirects are not followed")]
    Redirect,
    #[error("server answered with http status {0}")]
    Status(u16),
    #[error("response exceeds the size limit")]
    TooLarge,
    #[error("request timed out")]
    Timeout,
    /// One of a few fixed phrases (see `classify`), never the underlying error's text.
    #[error("{0}")]
    Network(String),
    #[error("response is not valid json")]
    NotJson,
}

/// A fetched body with the response headers that decide how long it may be cached
/// (RFC 9111 §4.2): `Cache-Control`, `Expires`, `Date`, `Age`.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub date: Option<String>,
    pub age: Option<String>,
}

/// The outbound HTTP client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: FetchPolicy,
    /// `None` only if the client could not be built (logged at construction); every fetch
    /// then fails with a network error rather than the constructor panicking.
    client: Option<Client>,
}
impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Self {
        Self::build(policy, None)
    }

    /// A fetcher whose resolver answers from `dns` (names missing from it do not resolve),
    /// so tests can make a name point at any address. The guard vets the answers exactly
    /// as it vets the system resolver's.
    pub fn with_static_dns(policy: FetchPolicy, dns: StaticDns) -> Self {
        Self::build(policy, Some(dns))
    }

    fn build(policy: FetchPolicy, dns: Option<StaticDns>) -> Self {
        let client = match build_client(&policy, dns) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!(error = %e, "outbound http client could not be built");
                None
            }
        };
        Fetcher { policy, client }
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// GET the URL and parse the body as JSON.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, FetchError> {
        let body = self.get_bytes(url).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
    }

    /// GET the URL and return its body, under every rule of the policy.
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        Ok(self.get_document(url, self.policy.max_bytes).await?.body)
    }

    /// GET the URL under every rule of the policy, with a smaller body limit of its own
    /// (`max_bytes`, at most the policy's); the answer keeps the headers that say how long
    /// it may be cached.
    pub async fn get_document(&self, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
        let url = self.check_url(url)?;
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| FetchError::Network("http client unavailable".into()))?;
        let limit = max_bytes.min(self.policy.max_bytes);
        // The client has the same timeout; this outer one also bounds the time between
        // body chunks and anything the client's timer might not cover.
        match tokio::time::timeout(self.policy.timeout, self.exchange(client, url, limit)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// The checks that need no network: a parseable URL without user info, https (or http
    /// to a loopback host in dev mode), and, for an IP-literal host, an allowed address.
    /// Registration can call this to refuse a bad URL before fetching anything.
    pub fn check_url(&self, raw: &str) -> Result<Url, FetchError> {
        let url = Url::parse(raw).map_err(|_| FetchError::BadUrl("not a valid url"))?;
        // Credentials in a URL would be sent to whatever host the client chose, and have
        // no place in a public metadata URL.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::BadUrl("user info is not allowed"));
        }
        match url.scheme() {
            "https" | "http" => {}
            _ => return Err(FetchError::NotHttps),
        }
        let host = url.host_str().ok_or(FetchError::BadUrl("no host"))?;
        let literal = literal_ip(host);
        if url.scheme() == "http"
            && !(self.policy.allow_loopback && is_loopback_host(host, literal))
        {
            return Err(FetchError::NotHttps);
        }
        // IP literals are connected to directly, without the guarded resolver.
        match literal {
            Some(ip) if !address_allowed(ip, self.policy.allow_loopback) => {
                Err(FetchError::ForbiddenAddress(ip.to_string()))
            }
            _ => Ok(url),
        }
    }

    async fn exchange(
        &self,
        client: &Client,
        url: Url,
        limit: usize,
    ) -> Result<Fetched, FetchError> {
        let mut resp = client
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let header = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (cache_control, expires, date, age) = (
            header(header::CACHE_CONTROL),
            header(header::EXPIRES),
            header(header::DATE),
            header(header::AGE),
        );
        // Refuse early when the server announces too much; the loop below still counts,
        // since Content-Length may be absent (chunked) or wrong.
        let announced = resp.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if chunk.len() > limit.saturating_sub(body.len()) {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            cache_control,
            expires,
            date,
            age,
        })
    }
}

/// Make aws-lc-rs rustls' process-wide default. [`Fetcher`] does not need this (it names its
/// provider itself), but reqwest, built without `ring`, panics ("No provider set") in
/// `Client::new()` when no default is installed: any other reqwest client in the process (a
/// test's) must call this first. Idempotent; a default installed earlier is kept.
pub fn install_default_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn build_client(policy: &FetchPolicy, dns: Option<StaticDns>) -> Result<Client, String> {
    // TLS on aws-lc-rs, the project's one crypto library, chosen here explicitly rather than
    // through rustls' process-wide default; Mozilla's roots, so the result does not depend
    // on the host's certificate store.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];

    Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(GuardedResolver {
            allow_loopback: policy.allow_loopback,
            dns,
        }))
        .redirect(redirect::Policy::none())
        // A proxy would resolve the name itself, out of the guard's reach.
        .no_proxy()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .referer(false)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// A reqwest error reduced to a [`FetchError`]; the guard's own refusal is found in the
/// error chain so it reads as a refusal, not as a network failure.
fn classify(err: reqwest::Error) -> FetchError {
    tracing::debug!(error = ?err, "outbound fetch failed");
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = source {
        match e.downcast_ref::<ResolveError>() {
            Some(ResolveError::Refused(what)) => {
                return FetchError::ForbiddenAddress(what.clone());
            }
            Some(ResolveError::NoAddress) => {
                return FetchError::Network("host name does not resolve".into());
            }
            None => source = e.source(),
        }
    }
    if err.is_timeout() {
        FetchError::Timeout
    } else if err.is_connect() {
        FetchError::Network("could not connect".into())
    } else if err.is_body() || err.is_decode() {
        FetchError::Network("connection broken while reading the response".into())
    } else {
        FetchError::Network("request failed".into())
    }
}

#[cfg(test)]
mod tests;
