//! A browser for the server's HTML pages: a cookie jar, form posts, and the few HTML and
//! URL readers the login, consent, logout and console pages need.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, header};

use super::{Resp, TestApp, serde_urlencoded_pairs};

/// The origin in-process requests are addressed to; absolute URLs on it (the console's
/// redirects, the login form's action) are sent as their path.
pub const ORIGIN: &str = "http://localhost:8080";

/// A cookie jar and form handling.
#[derive(Default)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

impl Browser {
    fn absorb(&mut self, r: &Resp) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (k, val) = v.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), val.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, app: &TestApp, uri: &str) -> Resp {
        let req = Request::get(path_of(uri))
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        let r = app.send(req).await;
        self.absorb(&r);
        r
    }

    /// Posts `pairs` as a form, with an `Origin` header when `origin` is given.
    pub async fn post(
        &mut self,
        app: &TestApp,
        uri: &str,
        pairs: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Resp {
        let mut req = Request::post(path_of(uri))
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let r = app
            .send(req.body(Body::from(serde_urlencoded_pairs(pairs))).unwrap())
            .await;
        self.absorb(&r);
        r
    }

    /// Fills the page's first form: its hidden fields plus `extra`, posted to its action.
    pub async fn submit(&mut self, app: &TestApp, page: &Resp, extra: &[(&str, &str)]) -> Resp {
        let (action, hidden) = form(&page.text);
        let mut pairs: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend_from_slice(extra);
        self.post(app, &action, &pairs, None).await
    }
}

fn path_of(url: &str) -> String {
    url.strip_prefix(ORIGIN).unwrap_or(url).to_string()
}

/// The `Location` of a redirect (panics on anything else).
pub fn location(r: &Resp) -> String {
    r.header("location")
        .unwrap_or_else(|| panic!("a redirect, got {}: {}", r.status, r.text))
        .to_string()
}

/// HTML text with the five escaped characters restored.
pub fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The first form's action and hidden inputs.
pub fn form(html: &str) -> (String, Vec<(String, String)>) {
    let f = html.find("<form").expect("a form");
    let tag_end = html[f..].find('>').unwrap() + f;
    let action = attr(&html[f..tag_end], "action").unwrap();
    let mut hidden = Vec::new();
    for part in html[f..].split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            hidden.push((attr(tag, "name").unwrap(), attr(tag, "value").unwrap()));
        }
    }
    (action, hidden)
}

/// A URI's query pairs.
pub fn query(uri: &str) -> HashMap<String, String> {
    let q = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    url_pairs(q).into_iter().collect()
}

/// `application/x-www-form-urlencoded` pairs, percent- and plus-decoded.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    let decode = |v: &str| {
        let mut out = Vec::new();
        let b = v.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    };
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// The S256 PKCE challenge of `verifier` (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}
