//! Clients that send part of a request and then nothing (slowloris), against the real
//! binary with `--http-read-timeout 2`: a half-sent head, a stalled body, an idle
//! keep-alive connection and an idle HTTP/2 connection are each closed within the limit,
//! while a slow request that completes within it is served; and a graceful stop does not
//! wait for such clients.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::node::{ADMIN_PASSWORD, Node, master_key};
use crate::support::{Backend, TestDb};

const LIMIT: Duration = Duration::from_secs(2);
/// Room for a loaded test machine beyond the limit.
const SLACK: Duration = Duration::from_secs(4);
const TOKEN: &str = "/realms/master/protocol/openid-connect/token";

async fn connect(node: &Node) -> TcpStream {
    let addr = node.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection; panics if it is still open after
/// `within`. Returns what was read and when the connection was closed.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the connection is still open after {within:?}; received: {}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    (
        String::from_utf8_lossy(&seen).into_owned(),
        started.elapsed(),
    )
}

/// One whole response (head and `Content-Length` body), leaving the connection open.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(SLACK, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("content-length");
        if body.len() >= length {
            let status = head[9..12].parse().expect("status");
            return (status, body.to_string());
        }
    }
}

async fn slow_clients_are_cut(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let node = Node::start_with(
        &db,
        &master_key(),
        &[("LATCHKEY_HTTP_READ_TIMEOUT", &LIMIT.as_secs().to_string())],
    );

    // A request head that never ends: closed after the limit, not before.
    let mut half = connect(&node).await;
    half.write_all(format!("POST {TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n").as_bytes())
        .await
        .unwrap();
    let (_, after) = read_to_close(&mut half, LIMIT + SLACK).await;
    assert!(after >= LIMIT - Duration::from_millis(500), "{after:?}");

    // A body that stops half-way: 408 with a JSON error, then the connection closes.
    let mut stalled = connect(&node).await;
    stalled
        .write_all(
            format!(
                "POST {TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
                 grant_type=pass"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (answer, after) = read_to_close(&mut stalled, LIMIT + SLACK).await;
    assert!(after >= LIMIT - Duration::from_millis(500), "{after:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"invalid_request""#), "{answer}");

    // Slow but complete, each part within the limit: served.
    let body =
        format!("grant_type=password&client_id=admin-cli&username=admin&password={ADMIN_PASSWORD}");
    let head = format!(
        "POST {TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut slow = connect(&node).await;
    for part in [head.as_bytes(), body.as_bytes()] {
        for chunk in part.chunks(part.len().div_ceil(3)) {
            slow.write_all(chunk).await.unwrap();
            tokio::time::sleep(LIMIT / 5).await;
        }
    }
    let (status, answer) = read_response(&mut slow).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("access_token"), "{answer}");
    // The same connection, kept alive and sending nothing more: closed after the limit.
    let (_, after) = read_to_close(&mut slow, LIMIT + SLACK).await;
    assert!(after >= LIMIT - Duration::from_millis(500), "{after:?}");

    // HTTP/2 (prior knowledge): the preface and SETTINGS, then nothing. Closed gracefully
    // (GOAWAY) after the limit, and dropped a period later as this client never answers
    // the PING that graceful close waits for.
    let mut h2 = connect(&node).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let (_, after) = read_to_close(&mut h2, 2 * LIMIT + SLACK).await;
    assert!(after >= LIMIT - Duration::from_millis(500), "{after:?}");
}

/// A graceful stop waits for requests in flight, not for clients that send nothing: with
/// a kept-alive connection and a half-sent head open, and a read timeout far longer than
/// the wait, `SIGTERM` ends the process within seconds.
#[tokio::test]
async fn a_stop_does_not_wait_for_silent_clients() {
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let mut node = Node::start_with(&db, &master_key(), &[("LATCHKEY_HTTP_READ_TIMEOUT", "120")]);
    let mut kept = connect(&node).await;
    kept.write_all(b"GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut kept).await.0, 200);
    let mut half = connect(&node).await;
    half.write_all(b"GET /health/ready HTTP/1.1\r\n")
        .await
        .unwrap();
    let took = tokio::task::spawn_blocking(move || node.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(5)),
        "stopped after {took:?}"
    );
}

#[tokio::test]
async fn slow_clients_are_cut_on_sqlite() {
    slow_clients_are_cut(Backend::Sqlite).await;
}

#[tokio::test]
async fn slow_clients_are_cut_on_postgres() {
    slow_clients_are_cut(Backend::Postgres).await;
}
