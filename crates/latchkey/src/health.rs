//! `latchkey health`: asks a running server's `/health/ready` over plain HTTP on this
//! machine and exits 0 when it answers 200. It is the container image's `HEALTHCHECK`,
//! which then needs no curl in the image: a few lines of std networking, no TLS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's plain HTTP port, as it is started with [default: 8080]
    #[arg(long, env = "LATCHKEY_HTTP_PORT")]
    http_port: Option<u16>,
    /// The server's --http-relative-path [default: /]
    #[arg(long, env = "LATCHKEY_HTTP_RELATIVE_PATH")]
    http_relative_path: Option<String>,
    /// Ask this URL instead (http://HOST:PORT/PATH); the two options above are then unused
    #[arg(long)]
    url: Option<String>,
    /// Seconds to wait for the answer
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

/// Exit code 0 when the server answers 200, 1 otherwise (with the reason on stderr), 2 for
/// a URL this command cannot ask.
pub fn run(args: HealthArgs) -> ExitCode {
    let url = args.url.clone().unwrap_or_else(|| {
        let path = args.http_relative_path.as_deref().unwrap_or("/");
        let path = path.trim().trim_matches('/');
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        format!(
            "http://127.0.0.1:{}{prefix}/health/ready",
            args.http_port.unwrap_or(8080)
        )
    });
    let Some((authority, path)) = url
        .strip_prefix("http://")
        .map(|rest| rest.split_at(rest.find('/').unwrap_or(rest.len())))
    else {
        eprintln!("error: --url {url:?}: only http:// URLs (the plain HTTP listener)");
        return ExitCode::from(2);
    };
    let path = if path.is_empty() { "/" } else { path };
    match status(authority, path, Duration::from_secs(args.timeout.max(1))) {
        Ok(200) => {
            let _ = writeln!(std::io::stdout(), "{url}: ready");
            ExitCode::SUCCESS
        }
        Ok(code) => {
            eprintln!("{url}: not ready (HTTP {code})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: no answer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The status code of `GET path` at `authority` (HTTP/1.0: one request, then the server
/// closes).
fn status(authority: &str, path: &str, timeout: Duration) -> std::io::Result<u16> {
    // "host:port", "[::1]:port"; without a port, HTTP's 80.
    let with_port = match authority.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => authority.to_string(),
        _ => format!("{authority}:80"),
    };
    let addrs: Vec<SocketAddr> = with_port.to_socket_addrs()?.collect();
    let addr = addrs
        .first()
        .ok_or_else(|| std::io::Error::other("the host has no address"))?;
    let mut stream = TcpStream::connect_timeout(addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: latchkey-health\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..])? {
            0 => break,
            n => len += n,
        }
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    // "HTTP/1.1 200 OK"
    std::str::from_utf8(&head[..len])
        .ok()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}
