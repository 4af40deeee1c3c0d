//! HTTPS served by Latchkey itself: rustls on aws-lc-rs (the stack reqwest already uses),
//! TLS 1.2 and 1.3 only, HTTP/2 or HTTP/1.1 chosen by ALPN (RFC 7301), and a certificate
//! that is reloaded when its files change, without restarting or dropping the listener.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How often the certificate files' modification times are compared.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);
/// A client that has not finished its handshake by then is dropped, so a slow or silent
/// client holds a socket, never the accept loop.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `--https-certificate-file` and `--https-certificate-key-file` (PEM).
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Reads and checks the pair: the chain, the key, and that the key is the chain's.
    fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| format!("certificate file {}: {e}", self.cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "certificate file {}: no PEM certificate in it",
                self.cert.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("certificate key file {}: {e}", self.key.display()))?;
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("certificate key file {}: {e}", self.key.display()))?;
        let certified = CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|e| {
            format!(
                "{} does not hold the key of {}: {e}",
                self.key.display(),
                self.cert.display()
            )
        })?;
        Ok(certified)
    }

    fn modified(&self) -> Option<(SystemTime, SystemTime)> {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((m(&self.cert)?, m(&self.key)?))
    }
}

/// Hands every handshake the certificate loaded last.
#[derive(Debug)]
struct ReloadingCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

/// The TLS configuration for `files`, failing when they cannot be loaded now; a watcher
/// task then swaps in each good new version of the files and keeps the old certificate,
/// logging an error, when a new version is bad.
pub fn acceptor(files: CertFiles) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let first = files.load(&provider)?;
    let resolver = Arc::new(ReloadingCert(RwLock::new(Arc::new(first))));
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio::spawn(watch(files, provider, resolver));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn watch(files: CertFiles, provider: Arc<CryptoProvider>, into: Arc<ReloadingCert>) {
    let mut seen = files.modified();
    let mut tick = tokio::time::interval(RELOAD_INTERVAL);
    loop {
        tick.tick().await;
        let now = files.modified();
        if now == seen || now.is_none() {
            continue;
        }
        seen = now;
        match files.load(&provider) {
            Ok(new) => {
                if let Ok(mut current) = into.0.write() {
                    *current = Arc::new(new);
                }
                tracing::info!(certificate = %files.cert.display(), "reloaded the HTTPS certificate");
            }
            Err(e) => tracing::error!(
                "the HTTPS certificate files changed but cannot be used; still serving the previous certificate: {e}"
            ),
        }
    }
}

/// A listener yielding connections whose TLS handshake is done. Handshakes run in their
/// own tasks, so one slow client does not delay the others.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
