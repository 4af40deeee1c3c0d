//! Serving connections, for the plain HTTP and the HTTPS listener alike: HTTP/1.1 or
//! HTTP/2 (hyper-util's auto builder: ALPN over TLS, prior knowledge in clear), each
//! request carrying its peer address, graceful shutdown, and time limits, so that a client
//! sending part of a request and then nothing (slowloris) cannot hold a socket:
//!
//! - a request head must arrive within `--http-read-timeout` (hyper's HTTP/1
//!   `header_read_timeout`, which also ends a keep-alive connection that sends no next
//!   request; hyper answers 408 and closes);
//! - a body must arrive within it too (`boundary::check` in latchkey-server, 408);
//! - a connection with no request in flight for that long is closed gracefully, and
//!   dropped if still open after another such period (HTTP/2 has no head timeout of its
//!   own: its idle connections and half-sent header blocks end here).

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long a connection whose requests are done may stay open once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How connections are served: the router, and what every connection is held to.
#[derive(Clone)]
pub struct Serving {
    pub app: Router,
    /// Requests over Latchkey's TLS listener carry `urls::OverTls` (their URLs are `https`).
    pub over_tls: bool,
    /// `--http-read-timeout`.
    pub read_timeout: Duration,
}

/// Accepts connections from `listener` and serves each in its own task until `stop` turns
/// true; then accepts no more, lets every connection finish the requests in flight, and
/// returns once all are closed.
pub async fn serve<L>(mut listener: L, serving: Serving, mut stop: watch::Receiver<bool>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // Every connection task holds a receiver; the sender sees them all gone at the end.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (serving, stop, open) = (serving.clone(), stop.clone(), open_rx.clone());
        tokio::spawn(async move {
            connection(io, peer, serving, stop).await;
            drop(open);
        });
    }
    drop(open_rx);
    drop(listener);
    open_tx.closed().await;
}

async fn connection<I>(io: I, peer: SocketAddr, serving: Serving, mut stop: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            if serving.over_tls {
                req.extensions_mut().insert(latchkey_server::urls::OverTls);
            }
            let busy = activity.begin();
            let app = serving.app.clone();
            async move {
                let resp = app.oneshot(req).await;
                drop(busy);
                resp
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(serving.read_timeout);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    let limit = serving.read_timeout;
    let mut idle = pin!(activity.idle(limit, Instant::now()));
    let mut closing = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                break;
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                // Requests in flight finish; then the connection has a moment to close
                // and is dropped: a half-sent head would otherwise hold the shutdown for
                // the whole read timeout.
                idle.set(activity.idle(SHUTDOWN_GRACE, Instant::now()));
            }
            _ = &mut idle => {
                // HTTP/2's graceful close waits for the client to answer a PING: one that
                // never does is dropped once it has been idle for another period.
                if closing {
                    tracing::debug!(%peer, "dropping a connection that did not close");
                    break;
                }
                tracing::debug!(%peer, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                closing = true;
                idle.set(activity.idle(limit, Instant::now()));
            }
        }
    }
}

/// A connection's requests in flight and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

/// Held while a request is served; ends it on drop (also when the request is cancelled).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last.lock() {
            *last = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Resolves once no request has been in flight for `limit`, counting from `since` at
    /// the earliest.
    async fn idle(&self, limit: Duration, since: Instant) {
        loop {
            let last = self.last.lock().map(|l| *l).unwrap_or(since).max(since);
            let busy = self.in_flight.load(Ordering::SeqCst) > 0;
            if !busy && last.elapsed() >= limit {
                return;
            }
            let wake = if busy {
                Instant::now() + limit
            } else {
                last + limit
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}
