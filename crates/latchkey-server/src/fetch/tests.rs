use super::*;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve `app` on 127.0.0.1 and return its address.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A listener that only counts the TCP connections made to it and closes them.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    (addr, count)
}

/// A hand-written HTTP/1.1 server: reads the request head, then lets `respond` write
/// whatever it likes (for bodies axum would not produce: endless, stalled).
async fn raw_server<F, Fut>(respond: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            tokio::spawn(respond(sock));
        }
    });
    addr
}

fn dev_with_timeout(timeout: Duration) -> Fetcher {
    Fetcher::new(FetchPolicy {
        timeout,
        ..FetchPolicy::dev()
    })
}

/// `path` on a local test server, over plain http.
fn local(addr: SocketAddr, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", addr.port())
}

/// Fetching `url` fails with `expected`, in less than `within`.
async fn fails_within(f: &Fetcher, url: &str, expected: FetchError, within: Duration) {
    let started = Instant::now();
    assert_eq!(f.get_json(url).await, Err(expected));
    assert!(started.elapsed() < within);
}

#[test]
fn plain_reqwest_clients_work_after_installing_the_provider() {
    install_default_tls_provider();
    install_default_tls_provider(); // idempotent
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    let _client = reqwest::Client::new(); // would panic without a default provider
}

#[test]
fn policies() {
    let p = FetchPolicy::production();
    assert!(!p.allow_loopback);
    assert_eq!(p.timeout, Duration::from_secs(5));
    assert_eq!(p.max_bytes, 64 * 1024);
    let d = FetchPolicy::dev();
    assert!(d.allow_loopback);
    assert_eq!((d.timeout, d.max_bytes), (p.timeout, p.max_bytes));
}

#[tokio::test]
async fn bad_urls_are_refused_before_any_request() {
    let prod = Fetcher::new(FetchPolicy::production());
    let dev = Fetcher::new(FetchPolicy::dev());
    let forbidden = |ip: &str| FetchError::ForbiddenAddress(ip.into());
    let refused = [
        ("not a url", FetchError::BadUrl("not a valid url")),
        ("ftp://example.com/jwks", FetchError::NotHttps),
        ("file:///etc/passwd", FetchError::NotHttps),
        (
            "https://user:pw@example.com/jwks",
            FetchError::BadUrl("user info is not allowed"),
        ),
        (
            "https://user@example.com/jwks",
            FetchError::BadUrl("user info is not allowed"),
        ),
        // Plain http to a public or private host, even in dev mode.
        ("http://example.com/jwks", FetchError::NotHttps),
        ("http://10.0.0.1/jwks", FetchError::NotHttps),
        // IP literals are vetted before connecting.
        ("https://10.0.0.1/jwks", forbidden("10.0.0.1")),
        (
            "https://169.254.169.254/latest/meta-data",
            forbidden("169.254.169.254"),
        ),
    ];
    for f in [&prod, &dev] {
        for (url, expected) in &refused {
            assert_eq!(f.get_json(url).await, Err(expected.clone()), "{url}");
        }
        assert!(matches!(
            f.get_json("https://[::ffff:192.168.0.1]/jwks").await,
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            f.get_json("https://[fe80::1]/jwks").await,
            Err(FetchError::ForbiddenAddress(_))
        ));
    }
    // Unusual IPv4 spellings are normalised by the URL parser, then refused.
    for url in ["https://0x7f.1/", "https://2130706433/"] {
        assert_eq!(
            prod.get_json(url).await,
            Err(forbidden("127.0.0.1")),
            "{url}"
        );
    }
}

#[test]
fn messages_are_short_and_client_safe() {
    let e = FetchError::ForbiddenAddress("10.0.0.1".into());
    assert_eq!(
        format!("jwks_uri: {e}"),
        "jwks_uri: address 10.0.0.1 is not allowed"
    );
    assert_eq!(FetchError::NotHttps.to_string(), "url must use https");
    assert_eq!(
        FetchError::Redirect.to_string(),
        "redirects are not followed"
    );
    assert_eq!(
        FetchError::Status(404).to_string(),
        "server answered with http status 404"
    );
    for e in [
        FetchError::BadUrl("not a valid url"),
        FetchError::NotHttps,
        FetchError::Redirect,
        FetchError::Status(500),
        FetchError::TooLarge,
        FetchError::Timeout,
        FetchError::NotJson,
    ] {
        let m = e.to_string();
        assert_eq!(m, m.to_lowercase(), "{m}");
        assert!(!m.ends_with('.') && m.len() < 60, "{m}");
    }
}

#[tokio::test]
async fn dev_policy_fetches_json_over_loopback_http() {
    let app = Router::new().route(
        "/jwks",
        get(|| async { axum::Json(serde_json::json!({"keys": [{"kid": "k1"}]})) }),
    );
    let addr = serve(app).await;
    let f = Fetcher::new(FetchPolicy::dev());
    let doc = f.get_json(&local(addr, "/jwks")).await.unwrap();
    assert_eq!(doc["keys"][0]["kid"], "k1");
    // By name too: `localhost` goes through the guarded resolver, which allows loopback
    // in dev mode.
    let doc = f
        .get_json(&format!("http://localhost:{}/jwks", addr.port()))
        .await
        .unwrap();
    assert_eq!(doc["keys"][0]["kid"], "k1");
}

#[tokio::test]
async fn production_refuses_loopback_without_connecting() {
    let (addr, connections) = counting_listener().await;
    let port = addr.port();
    let f = Fetcher::new(FetchPolicy::production());
    assert_eq!(
        f.get_json(&format!("http://127.0.0.1:{port}/jwks")).await,
        Err(FetchError::NotHttps)
    );
    assert_eq!(
        f.get_json(&format!("http://localhost:{port}/jwks")).await,
        Err(FetchError::NotHttps)
    );
    assert_eq!(
        f.get_json(&format!("https://127.0.0.1:{port}/jwks")).await,
        Err(FetchError::ForbiddenAddress("127.0.0.1".into()))
    );
    assert_eq!(
        f.get_json(&format!("https://[::1]:{port}/jwks")).await,
        Err(FetchError::ForbiddenAddress("::1".into()))
    );
    // A name: refused by the resolver the client connects with.
    match f.get_json(&format!("https://localhost:{port}/jwks")).await {
        Err(FetchError::ForbiddenAddress(what)) => {
            assert!(what.starts_with("localhost ("), "{what}")
        }
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // Control: in dev mode the same https://localhost URL does reach the listener
    // (and fails in TLS, since the listener speaks none), so the count above can fail.
    let dev = Fetcher::new(FetchPolicy::dev());
    let r = dev
        .get_json(&format!("https://localhost:{port}/jwks"))
        .await;
    assert!(matches!(r, Err(FetchError::Network(_))), "{r:?}");
    assert!(connections.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let start_hits = Arc::new(AtomicUsize::new(0));
    let target_hits = Arc::new(AtomicUsize::new(0));
    let (s, t) = (start_hits.clone(), target_hits.clone());
    let app = Router::new()
        .route(
            "/start",
            get(move || async move {
                s.fetch_add(1, Ordering::SeqCst);
                (StatusCode::FOUND, [(header::LOCATION, "/target")])
            }),
        )
        .route(
            "/target",
            get(move || async move {
                t.fetch_add(1, Ordering::SeqCst);
                axum::Json(serde_json::json!({"keys": []}))
            }),
        );
    let addr = serve(app).await;
    let f = Fetcher::new(FetchPolicy::dev());
    assert_eq!(
        f.get_json(&local(addr, "/start")).await,
        Err(FetchError::Redirect)
    );
    assert_eq!(start_hits.load(Ordering::SeqCst), 1);
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn non_2xx_is_status() {
    let app = Router::new().route(
        "/gone",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "{}") }),
    );
    let addr = serve(app).await;
    let f = Fetcher::new(FetchPolicy::dev());
    let base = local(addr, "");
    assert_eq!(
        f.get_json(&format!("{base}/missing")).await,
        Err(FetchError::Status(404))
    );
    assert_eq!(
        f.get_json(&format!("{base}/gone")).await,
        Err(FetchError::Status(500))
    );
}

#[tokio::test]
async fn body_over_the_limit_is_too_large() {
    let app = Router::new()
        .route("/big", get(|| async { format!("[{}]", "1,".repeat(600)) }))
        .route("/small", get(|| async { "[1,2,3]" }));
    let addr = serve(app).await;
    let f = Fetcher::new(FetchPolicy {
        max_bytes: 1000,
        ..FetchPolicy::dev()
    });
    let base = local(addr, "");
    assert_eq!(
        f.get_json(&format!("{base}/big")).await,
        Err(FetchError::TooLarge)
    );
    assert_eq!(
        f.get_json(&format!("{base}/small")).await,
        Ok(serde_json::json!([1, 2, 3]))
    );
}

#[tokio::test]
async fn endless_chunked_body_stops_at_the_limit() {
    // No Content-Length and no end: only counting while streaming can stop this, and it
    // must do so well before the time limit.
    let addr = raw_server(|mut sock| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        if sock.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
        while sock.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let f = dev_with_timeout(Duration::from_secs(10));
    fails_within(
        &f,
        &local(addr, "/jwks"),
        FetchError::TooLarge,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn slow_server_times_out() {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "{}"
        }),
    );
    let addr = serve(app).await;
    let f = dev_with_timeout(Duration::from_millis(300));
    fails_within(
        &f,
        &local(addr, "/slow"),
        FetchError::Timeout,
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test]
async fn stalled_body_times_out() {
    // Headers promptly, then a body that never completes: the limit covers the body too.
    let addr = raw_server(|mut sock| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"keys\":";
        let _ = sock.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let f = dev_with_timeout(Duration::from_millis(300));
    fails_within(
        &f,
        &local(addr, "/jwks"),
        FetchError::Timeout,
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test]
async fn non_json_body_is_not_json() {
    let app = Router::new().route("/html", get(|| async { "<html>hello</html>" }));
    let addr = serve(app).await;
    let f = Fetcher::new(FetchPolicy::dev());
    assert_eq!(
        f.get_json(&local(addr, "/html")).await,
        Err(FetchError::NotJson)
    );
}

fn dns(entries: &[(&str, &[&str])]) -> StaticDns {
    Arc::new(
        entries
            .iter()
            .map(|(name, ips)| {
                let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
                (name.to_string(), ips)
            })
            .collect(),
    )
}

/// The address guard through DNS: a name that resolves to a refused address is refused by
/// the resolver the connection uses, in production and (except loopback) in dev mode.
#[tokio::test]
async fn names_resolving_to_special_addresses_are_refused() {
    let refused: &[&str] = &[
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "192.0.2.1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2001:db8::1",
    ];
    for ip in refused {
        let table = dns(&[("internal.test", &[ip])]);
        for policy in [FetchPolicy::production(), FetchPolicy::dev()] {
            let f = Fetcher::with_static_dns(policy.clone(), table.clone());
            match f.get_json("https://internal.test/jwks").await {
                Err(FetchError::ForbiddenAddress(what)) => {
                    assert!(what.starts_with("internal.test ("), "{ip}: {what}")
                }
                other => panic!("{ip} (dev: {}): {other:?}", policy.allow_loopback),
            }
        }
    }
}

/// A name pointing at loopback: refused in production without any connection being
/// made; reached in dev mode (the control that shows the counter can move).
#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_outside_dev() {
    let (addr, connections) = counting_listener().await;
    let table = dns(&[("looks-public.example", &["127.0.0.1"])]);
    let url = format!("https://looks-public.example:{}/jwks", addr.port());
    let prod = Fetcher::with_static_dns(FetchPolicy::production(), table.clone());
    assert!(matches!(
        prod.get_json(&url).await,
        Err(FetchError::ForbiddenAddress(_))
    ));
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    let dev = Fetcher::with_static_dns(FetchPolicy::dev(), table);
    assert!(matches!(
        dev.get_json(&url).await,
        Err(FetchError::Network(_))
    ));
    assert!(connections.load(Ordering::SeqCst) >= 1);
}

/// Through a redirect: a server answering 302 to another address (here a second
/// loopback listener, reachable in dev mode) is not followed; nothing connects there.
#[tokio::test]
async fn redirects_to_other_hosts_are_not_followed() {
    let (target, connections) = counting_listener().await;
    for location in [
        local(target, "/jwks"),
        format!("http://localhost:{}/jwks", target.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/jwks".to_string(),
        "https://[fe80::1]/jwks".to_string(),
    ] {
        let loc = location.clone();
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let loc = loc.clone();
                async move { (StatusCode::FOUND, [(header::LOCATION, loc)]) }
            }),
        );
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy::dev());
        assert_eq!(
            f.get_json(&local(addr, "/jwks")).await,
            Err(FetchError::Redirect),
            "{location}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}
