//! Registration requests as real MCP hosts send them (RFC 7591 §3.2.1: the server may
//! replace requested values and answers with what it registered): unsupported grant types
//! left out, `application_type` inferred from native redirect URIs, OIDC RP Metadata
//! Choices lists; then each host's code + PKCE flow through its redirect URI.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{BASE, Provider, created, new_iat};
use crate::support::browser::{Browser, challenge, location, query};
use crate::support::{TestApp, serde_urlencoded_pairs, user};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
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
        // Claude (claude.ai and Claude Desktop connectors) registers as a confidential
        // client; the body as PostHog captured it (PostHog/posthog#48397; the method also in
        // anthropics/claude-ai-mcp#1043). The jwt-bearer grant Claude lists is in its client
        // ID metadata document (keycloak/keycloak#50362), not in this request.
        Host {
            name: "claude",
            request: json!({
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                "token_endpoint_auth_method": "client_secret_post",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "Claude",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "web",
            method: "client_secret_post",
            redirect: "https://claude.ai/api/mcp/auth_callback",
        },
        // VS Code (microsoft/vscode, src/vs/base/common/oauth.ts, fetchDynamicRegistration):
        // its grants are the server's grant_types_supported filtered to authorization_code,
        // refresh_token and device_code, so Latchkey, which advertises all three, gets them
        // all (the device grant as Keycloak's DCR maps it: the client's switch); web
        // redirects with two loopback ones, then any free port (microsoft/vscode#278512).
        Host {
            name: "vscode",
            request: json!({
                "client_name": "Visual Studio Code",
                "client_uri": "https://code.visualstudio.com",
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
                "response_types": ["code"],
                "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            }),
            grant_types: &["authorization_code", "refresh_token", DEVICE_GRANT],
            application_type: "native",
            method: "none",
            redirect: "http://127.0.0.1:59656/",
        },
        // VS Code before application_type (modelcontextprotocol/python-sdk#1379 shows the
        // body): device_code next to the others, localhost and 127.0.0.1 loopback URIs, no
        // application_type: the grant is kept and native inferred beside https URIs.
        Host {
            name: "vscode-2025",
            request: json!({
                "client_name": "Visual Studio Code",
                "client_uri": "https://code.visualstudio.com",
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
                "response_types": ["code"],
                "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect", "http://localhost/", "http://127.0.0.1/", "http://localhost:33418/", "http://127.0.0.1:33418/"],
                "token_endpoint_auth_method": "none",
            }),
            grant_types: &["authorization_code", "refresh_token", DEVICE_GRANT],
            application_type: "native",
            method: "none",
            redirect: "http://127.0.0.1:59656/",
        },
        // Cursor registers its private-use scheme callback with its web and loopback ones
        // in one request (erp-mafia/accounted#2225, soflyy/agent-connector-for-wp#111), as a
        // public client (different-ai/openwork#3059), without application_type: the MCP
        // authorization spec of 2026-07-28 made the field mandatory for DCR clients because
        // servers that default to "web" refused such hosts (SEP-837).
        Host {
            name: "cursor",
            request: json!({
                "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/agents/mcp/oauth/callback", "http://localhost:8787/callback"],
                "token_endpoint_auth_method": "none",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "none",
            redirect: "cursor://anysphere.cursor-mcp/oauth/callback",
        },
        // ChatGPT's client metadata offers the OIDC RP Metadata Choices list
        // ["none", "private_key_jwt"] (gamedev.pl PR #641 and discourse/discourse#43519 quote
        // it), which Keycloak refuses (keycloak/keycloak#51039). With the list alone the
        // server picks the first method it supports (openid/rp-metadata-choices §2).
        // ChatGPT uses its stable callback when the server sends RFC 9207 `iss`.
        Host {
            name: "chatgpt",
            request: json!({
                "client_name": "ChatGPT",
                "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "web",
            method: "none",
            redirect: "https://chatgpt.com/connector_platform_oauth_redirect",
        },
        // The MCP Inspector, a host on the MCP TypeScript SDK
        // (modelcontextprotocol/inspector, client/src/lib/auth.ts, clientMetadata; the SDK's
        // registerClient sends it as given, with the resolved `scope`, here empty).
        Host {
            name: "mcp-inspector",
            request: json!({
                "redirect_uris": ["http://localhost:6274/oauth/callback"],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "MCP Inspector",
                "client_uri": "https://github.com/modelcontextprotocol/inspector",
                "scope": "",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "none",
            redirect: "http://localhost:6274/oauth/callback",
        },
        // The MCP TypeScript SDK's own example host (@modelcontextprotocol/sdk 1.32.2,
        // examples/client/simpleOAuthClient): a confidential client on a loopback callback.
        // The SDK adds no metadata of its own (no application_type).
        Host {
            name: "mcp-sdk",
            request: json!({
                "client_name": "Simple OAuth MCP Client",
                "redirect_uris": ["http://localhost:8090/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_post",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "client_secret_post",
            redirect: "http://localhost:8090/callback",
        },
        // The MCP Python SDK's example host (modelcontextprotocol/python-sdk,
        // examples/clients/simple-auth-client): its client_metadata_dict as OAuthClientMetadata
        // serialises it (src/mcp/shared/auth.py; unset members left out).
        Host {
            name: "mcp-python-sdk",
            request: json!({
                "redirect_uris": ["http://localhost:3030/callback"],
                "token_endpoint_auth_method": "client_secret_post",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "Simple Auth Client",
            }),
            grant_types: &["authorization_code", "refresh_token"],
            application_type: "native",
            method: "client_secret_post",
            redirect: "http://localhost:3030/callback",
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
            json!(["urn:ietf:params:oauth:grant-type:jwt-bearer"]),
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
