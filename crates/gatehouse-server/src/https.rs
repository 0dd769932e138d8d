//! The optional HTTPS listener: rustls with the process's aws-lc-rs provider, a certificate
//! read from PEM files and swapped in when the files change, so renewals (cert-manager, ACME
//! clients) take effect without a restart and a broken renewal never replaces a working
//! certificate.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the certificate and its key live.
#[derive(Clone, Debug)]
pub struct CertificateFiles {
    /// Certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The leaf's private key.
    pub private_key: PathBuf,
}

impl CertificateFiles {
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
        };
        Ok((read(&self.certificate)?, read(&self.private_key)?))
    }
}

/// Parses a PEM chain and key into a certificate rustls can serve, checking that the key
/// belongs to the leaf. Errors name the file at fault and never include key material.
pub fn parse_certificate(
    files: &CertificateFiles,
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            format!(
                "{}: not a PEM certificate chain ({error})",
                files.certificate.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate found",
            files.certificate.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        format!(
            "{}: no PEM private key (PKCS#8, PKCS#1 or SEC1) found",
            files.private_key.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|error| {
        format!(
            "{} and {}: {error}",
            files.certificate.display(),
            files.private_key.display()
        )
    })
}

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Serves whichever certificate was loaded last.
#[derive(Debug)]
pub struct ReloadingCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCertificate {
    /// Starts with `initial`.
    pub fn new(initial: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(initial)),
        }
    }

    fn replace(&self, next: CertifiedKey) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(next);
        }
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|current| Arc::clone(&current))
    }
}

/// A bound HTTPS listener with its certificate loaded.
pub struct HttpsListener {
    listener: TcpListener,
    files: CertificateFiles,
    reload_interval: Duration,
    certificate: Arc<ReloadingCertificate>,
    last_read: (Vec<u8>, Vec<u8>),
}

impl HttpsListener {
    /// Loads the certificate (refusing to start without a valid one) for `listener`.
    pub fn new(
        listener: TcpListener,
        files: CertificateFiles,
        reload_interval: Duration,
    ) -> Result<Self, String> {
        let (chain_pem, key_pem) = files.read()?;
        let certificate = parse_certificate(&files, &chain_pem, &key_pem)?;
        Ok(Self {
            listener,
            files,
            reload_interval,
            certificate: Arc::new(ReloadingCertificate::new(certificate)),
            last_read: (chain_pem, key_pem),
        })
    }

    /// Serves `router` over TLS until `stop` turns true, then lets open connections finish
    /// their current request. Certificate files are re-read every reload interval.
    pub async fn serve(self, router: Router, stop: watch::Receiver<bool>) {
        let config = match rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder
                .with_no_client_auth()
                .with_cert_resolver(self.certificate.clone()),
            Err(error) => {
                tracing::error!(%error, "cannot configure TLS");
                return;
            }
        };
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        tokio::spawn(watch_files(
            self.files,
            self.reload_interval,
            self.certificate,
            self.last_read,
            stop.clone(),
        ));
        let mut stopping = stop.clone();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = stopped(&mut stopping) => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "HTTPS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (acceptor, router, stop) = (acceptor.clone(), router.clone(), stop.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => serve_connection(tls, peer, router, stop).await,
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    }
}

/// Serves one TLS connection with HTTP/1.1, giving handlers the peer address as the plain
/// listener does (`ConnectInfo`), and closing gracefully on shutdown.
async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let service = router.map_request(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let hyper_service = TowerToHyperService::new(service);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(tls), hyper_service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
            }
        }
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Re-reads the files every `interval`; a changed pair that parses replaces the certificate,
/// one that does not is logged and ignored (the old certificate keeps being served).
async fn watch_files(
    files: CertificateFiles,
    interval: Duration,
    certificate: Arc<ReloadingCertificate>,
    mut last_read: (Vec<u8>, Vec<u8>),
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stopped(&mut stop) => return,
        }
        let read = match files.read() {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, "cannot re-read the TLS certificate; keeping the current one");
                continue;
            }
        };
        if read == last_read {
            continue;
        }
        match parse_certificate(&files, &read.0, &read.1) {
            Ok(next) => {
                certificate.replace(next);
                tracing::info!(certificate = %files.certificate.display(), "TLS certificate reloaded");
                last_read = read;
            }
            // Half-written renewals land here too; the next round reads them complete.
            Err(error) => {
                tracing::warn!(%error, "new TLS certificate files are not usable; keeping the current one");
            }
        }
    }
}

/// Resolves once `stop` turns true (without holding the channel's lock across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
