//! The admin console's server side through the router, one file per concern: signing in
//! through the authorization endpoint (code + PKCE as `security-admin-console`), redirects
//! when signed out, CSRF and Origin refusals, cookies and the relative path
//! (`session.rs`); the pages: rights per realm, HTML escaping, events, last-used dates, the
//! registration settings and the client URI rule (`pages.rs`); each change recording the
//! admin event of its REST twin, and reads none (`events.rs`); the resource servers page
//! (`resource_servers.rs`); the clients list's registration filters, paging and bulk
//! actions, and the clients gauge of `/metrics` (`client_list.rs`). The browser walk is
//! tests/console/guide.test.mjs.

mod client_list;
mod events;
mod keys;
mod pages;
mod resource_servers;
mod session;

use axum::http::StatusCode;

use crate::support::browser::{Browser, ORIGIN, location, unescape};
use crate::support::{ADMIN, ADMIN_PASSWORD, Resp, TestApp};

/// The value of the first `<input … name="{name}" value="…">`.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let start = at + name.len() + 15;
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn form_action(html: &str) -> String {
    let f = html.find("<form").expect("a form");
    let start = html[f..].find("action=\"").unwrap() + f + 8;
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

impl Browser {
    /// Signs in to the console through the realm's authorization endpoint; returns the
    /// realm list page.
    async fn sign_in(&mut self, app: &TestApp, realm: &str, user: &str, password: &str) -> Resp {
        let r = self
            .get(app, &format!("/admin/console/login?realm={realm}"))
            .await;
        let auth = location(&r);
        assert!(
            auth.contains(&format!("/realms/{realm}/protocol/openid-connect/auth?"))
                && auth.contains("client_id=security-admin-console")
                && auth.contains("code_challenge_method=S256"),
            "{auth}"
        );
        let page = self.get(app, &auth).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let action = form_action(&page.text);
        let r = self
            .post(
                app,
                &action,
                &[
                    (
                        "auth_request",
                        &input_value(&page.text, "auth_request").unwrap(),
                    ),
                    ("csrf", &input_value(&page.text, "csrf").unwrap()),
                    ("username", user),
                    ("password", password),
                ],
                None,
            )
            .await;
        let callback = location(&r);
        assert!(callback.contains("/admin/console/callback?"), "{callback}");
        let r = self.get(app, &callback).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), format!("{ORIGIN}/admin/console/"));
        let home = self.get(app, &location(&r)).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.text);
        home
    }

    /// Signs in as the master admin; returns the CSRF token of the console's forms.
    async fn sign_in_as_admin(&mut self, app: &TestApp) -> String {
        let home = self.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
        input_value(&home.text, "csrf").unwrap()
    }
}
