//! Prometheus text metrics: requests and latency per route, tokens issued per grant,
//! registrations, client secret rotations, clients expired, and the rendering of the
//! clients-per-kind gauge the scrape counts in the store.
//! A small hand-written registry; `/metrics` renders it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    /// (method, route, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency
    latency: BTreeMap<String, Histogram>,
    /// grant type → count
    tokens: BTreeMap<String, u64>,
    /// (operation, outcome) → count
    registrations: BTreeMap<(String, String), u64>,
    /// event type → refusals counted but not stored
    events_not_stored: BTreeMap<String, u64>,
    /// client secrets rotated by registration reads
    secret_rotations: u64,
    /// clients deleted by this node's `unused-client-expiration` sweeps
    clients_expired: u64,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.lock();
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    pub fn token_issued(&self, grant_type: &str) {
        *self
            .lock()
            .tokens
            .entry(grant_type.to_string())
            .or_default() += 1;
    }

    /// A registration operation (`CLIENT_REGISTER`…) and its outcome: `ok` or the error code.
    pub fn registration(&self, op: &str, error: Option<&str>) {
        *self
            .lock()
            .registrations
            .entry((op.to_string(), error.unwrap_or("ok").to_string()))
            .or_default() += 1;
    }

    /// A refused request's event that was over its address's bound, so not stored.
    pub fn event_not_stored(&self, kind: &str) {
        *self
            .lock()
            .events_not_stored
            .entry(kind.to_string())
            .or_default() += 1;
    }

    /// A client secret rotated by a registration read (`client-secret-expiration`).
    pub fn secret_rotated(&self) {
        self.lock().secret_rotations += 1;
    }

    /// A registered client deleted for being unused (`service::expiry`).
    pub fn client_expired(&self) {
        self.lock().clients_expired += 1;
    }

    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP latchkey_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE latchkey_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "latchkey_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP latchkey_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE latchkey_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let route = escape(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "latchkey_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "latchkey_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "latchkey_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "latchkey_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP latchkey_tokens_issued_total Access tokens issued by grant type.\n");
        out.push_str("# TYPE latchkey_tokens_issued_total counter\n");
        for (grant, n) in &m.tokens {
            let _ = writeln!(
                out,
                "latchkey_tokens_issued_total{{grant_type=\"{grant}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP latchkey_registrations_total Client registration operations by outcome.\n",
        );
        out.push_str("# TYPE latchkey_registrations_total counter\n");
        for ((op, outcome), n) in &m.registrations {
            let _ = writeln!(
                out,
                "latchkey_registrations_total{{operation=\"{op}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP latchkey_events_not_stored_total Events of refused unauthenticated requests over their address's bound, counted instead of stored.\n");
        out.push_str("# TYPE latchkey_events_not_stored_total counter\n");
        for (kind, n) in &m.events_not_stored {
            let _ = writeln!(
                out,
                "latchkey_events_not_stored_total{{type=\"{kind}\"}} {n}"
            );
        }
        out.push_str("# HELP latchkey_client_secret_rotations_total Client secrets rotated by registration reads in the last quarter of their life.\n");
        out.push_str("# TYPE latchkey_client_secret_rotations_total counter\n");
        let _ = writeln!(
            out,
            "latchkey_client_secret_rotations_total {}",
            m.secret_rotations
        );
        out.push_str("# HELP latchkey_clients_expired_total Registered clients this node deleted for being unused (unused-client-expiration).\n");
        out.push_str("# TYPE latchkey_clients_expired_total counter\n");
        let _ = writeln!(out, "latchkey_clients_expired_total {}", m.clients_expired);
        out
    }
}

/// The `latchkey_clients` gauge from `(realm, registration kind, clients)` rows.
pub fn render_clients(rows: &[(String, String, i64)]) -> String {
    let mut out = String::from(
        "# HELP latchkey_clients Clients per realm and how they were registered (admin, anonymous, initial_access_token, bearer, cimd, authenticated).\n# TYPE latchkey_clients gauge\n",
    );
    for (realm, kind, n) in rows {
        let _ = writeln!(
            out,
            "latchkey_clients{{realm=\"{}\",registration=\"{}\"}} {n}",
            escape(realm),
            escape(kind)
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
