//! Registration requests as real MCP hosts send them (RFC 7591 §3.2.1: the server may
//! replace requested values and answers with what it registered): unsupported grant types
//! left out, `application_type` inferred from native redirect URIs, OIDC RP Metadata
//! Choices lists; then each host's code + PKCE flow through its redirect URI.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{BASE, Provider, created, new_iat};
use crate::support::browser::{Browser, challenge, location, query};
use crate::support::{TestApp, serde_urlencoded_pairs, user};

const VERIFIER: &str = "hosts-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

/// One host's registration request and what Latchkey registers for it.
struct Host {
    name: &'static str,
    request: Value,
    grant_types: &'static [&'static str],
    application_type: &'static str,
    method: &'static str,
    /// The redirect URI of its authorization request (a loopback one may take any port).
    redirect: &'static str,
}

fn hosts() -> Vec<Host> {
    vec![
        // Claude-like: MCP clients copy the server's grant_types_supported, jwt-bearer
        // included, into the request (Zoo-Code-Org/Zoo-Code#1531, refused by PostHog).
        Host {
            name: "claude",
            request: json!({
                "client_name": "Claude",
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_post",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "web",
            method: "client_secret_post",
            redirect: "https://claude.ai/api/mcp/auth_callback",
        },
        // VS Code lists device_code next to authorization_code and refresh_token, and
        // registers its web redirects with two loopback ones, then uses any free port
        // (microsoft/vscode#278512): a public client, inferred native.
        Host {
            name: "vscode",
            request: json!({
                "client_name": "Visual Studio Code",
                "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"],
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "none",
            redirect: "http://127.0.0.1:59656/",
        },
        // Cursor registers its private-use scheme callback without application_type; the
        // MCP authorization spec of 2026-07-28 made the field mandatory for DCR clients
        // because servers that default to "web" refused such hosts (SEP-837).
        Host {
            name: "cursor",
            request: json!({
                "client_name": "Cursor",
                "redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "none",
            redirect: "cursor://anysphere.cursor-retrieval/oauth/callback",
        },
        // ChatGPT sends the OIDC RP Metadata Choices list instead of one method, which
        // Keycloak refuses (keycloak/keycloak#51039; openid/rp-metadata-choices §2).
        Host {
            name: "chatgpt",
            request: json!({
                "client_name": "ChatGPT",
                "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "web",
            method: "client_secret_post",
            redirect: "https://chatgpt.com/connector_platform_oauth_redirect",
        },
        // The MCP TypeScript SDK's public client (modelcontextprotocol/typescript-sdk, as
        // the MCP Inspector registers it): "none" and a loopback callback.
        Host {
            name: "mcp-sdk",
            request: json!({
                "client_name": "MCP Inspector",
                "redirect_uris": ["http://localhost:6274/oauth/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "none",
            redirect: "http://localhost:6274/oauth/callback",
        },
    ]
}

/// Each host registers with an initial access token, gets exactly the registered values
/// (stored and read back the same), then completes code + PKCE through its redirect URI.
async fn mcp_hosts_register_and_complete_the_code_flow(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.create_user(&admin, "acme", user("alice", "alice-pass"))
        .await;
    let (_, iat) = new_iat(app, &admin, 10, &[]).await;
    let p = Provider::Oidc;
    for host in hosts() {
        let name = host.name;
        let r = created(app, p, Some(&iat), host.request.clone()).await;
        let b = &r.body;
        let id = p.client_id(&r);
        assert_eq!(
            b["grant_types"],
            json!(host.grant_types),
            "{name}: {}",
            r.text
        );
        assert_eq!(b["response_types"], json!(["code"]), "{name}");
        assert_eq!(b["application_type"], host.application_type, "{name}");
        assert_eq!(b["token_endpoint_auth_method"], host.method, "{name}");
        assert_eq!(b["redirect_uris"], host.request["redirect_uris"], "{name}");
        assert_eq!(
            b["registration_client_uri"],
            format!("{BASE}/realms/acme/clients-registrations/openid-connect/{id}"),
            "{name}"
        );
        assert!(
            b["registration_access_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{name}: {}",
            r.text
        );
        assert!(
            b.get("token_endpoint_auth_methods_supported").is_none(),
            "{name}: RP Metadata Choices lists are input only"
        );
        assert_eq!(
            b["client_secret"].is_string(),
            host.method != "none",
            "{name}"
        );
        let read = app
            .get(&p.client_path("acme", &id), p.rat(&r).as_str())
            .await;
        assert_eq!(read.status, StatusCode::OK, "{name}: {}", read.text);
        for key in [
            "grant_types",
            "application_type",
            "token_endpoint_auth_method",
        ] {
            assert_eq!(read.body[key], b[key], "{name}: stored {key}");
        }

        // Code + PKCE through the host's redirect URI.
        let redirect = host.redirect;
        let auth = format!(
            "/realms/acme/protocol/openid-connect/auth?{}",
            serde_urlencoded_pairs(&[
                ("client_id", &id),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("scope", "openid"),
                ("state", "st-host"),
                ("code_challenge", &challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ])
        );
        let mut browser = Browser::default();
        let page = browser.get(app, &auth).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.text);
        let signed_in = browser
            .submit(
                app,
                &page,
                &[("username", "alice"), ("password", "alice-pass")],
            )
            .await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{name}: {}",
            signed_in.text
        );
        let to = location(&signed_in);
        assert!(
            to.starts_with(redirect),
            "{name}: {to} is not on {redirect}"
        );
        let q = query(&to);
        assert_eq!(
            q.get("state").map(String::as_str),
            Some("st-host"),
            "{name}"
        );
        let code = q
            .get("code")
            .unwrap_or_else(|| panic!("{name}: no code in {to}"));

        let secret = p.secret(&r);
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ];
        let basic = match host.method {
            "client_secret_basic" => Some((id.as_str(), secret.as_deref().unwrap())),
            "client_secret_post" => {
                pairs.push(("client_id", &id));
                pairs.push(("client_secret", secret.as_deref().unwrap()));
                None
            }
            _ => {
                pairs.push(("client_id", &id));
                None
            }
        };
        let token = app
            .form("/realms/acme/protocol/openid-connect/token", &pairs, basic)
            .await;
        assert_eq!(token.status, StatusCode::OK, "{name}: {}", token.text);
        assert!(token.body["access_token"].is_string(), "{name}");
        assert!(token.body["refresh_token"].is_string(), "{name}");
    }
}

/// A host left with no supported grant, or asking for implicit, is still refused.
async fn hosts_without_a_supported_grant_are_refused(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 5, &[]).await;
    for (grants, why) in [
        (
            json!(["urn:ietf:params:oauth:grant-type:device_code"]),
            "grant_types",
        ),
        (json!(["authorization_code", "implicit"]), "implicit"),
    ] {
        let r = super::create(
            app,
            Provider::Oidc,
            Some(&iat),
            json!({"redirect_uris": ["https://app.example/cb"], "grant_types": grants}),
        )
        .await;
        super::assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            Some(why),
        );
    }
    let r = super::create(
        app,
        Provider::Oidc,
        Some(&iat),
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_methods_supported": ["tls_client_auth"]}),
    )
    .await;
    super::assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        Some("token_endpoint_auth_methods_supported"),
    );
}

crate::on_both_backends!(
    mcp_hosts_register_and_complete_the_code_flow,
    hosts_without_a_supported_grant_are_refused,
);
