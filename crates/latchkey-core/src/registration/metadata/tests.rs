use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

fn validate(v: Value, dev: bool) -> Result<ClientMetadata, RegistrationError> {
    let Value::Object(m) = v else {
        panic!("object")
    };
    ClientMetadata::validate(&m, ValidationContext { dev_mode: dev })
}

/// `None`: accepted; `Some(code)`: refused with that error code.
fn check(clause: &str, input: Value, dev: bool, expected: Option<&str>) {
    let got = validate(input.clone(), dev);
    match (expected, &got) {
        (None, Ok(_)) => {}
        (Some(code), Err(e)) if e.code() == code => {}
        _ => panic!("{clause}: {input} (dev={dev}) gave {got:?}, expected {expected:?}"),
    }
}

#[test]
fn validation_rules() {
    let web = "https://app.example/cb";
    let ec = crate::keys::generate(crate::keys::Alg::Es256)
        .unwrap()
        .public_jwk;
    let rsa = crate::keys::generate(crate::keys::Alg::Rs256)
        .unwrap()
        .public_jwk;
    // 1024 bits: the top bit set, odd.
    let rsa_1024 = URL_SAFE_NO_PAD.encode([[0xc1u8].as_slice(), &[0x55; 126], &[0x01]].concat());
    let cases: &[(&str, Value, bool, Option<&str>)] = &[
        (
            "RFC 7591 §2: redirect_uris for a web client over https",
            json!({"redirect_uris": [web]}),
            false,
            None,
        ),
        (
            "RFC 6749 §3.1.2: a fragment is not allowed",
            json!({"redirect_uris": ["https://a.example/cb#x"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "no user info in a redirect URI",
            json!({"redirect_uris": ["https://user:pass@evil.example/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "no javascript redirect URI, even for native clients",
            json!({"application_type": "native", "redirect_uris": ["javascript:alert(1)"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "no user info in a post-logout redirect URI",
            json!({"redirect_uris": [web], "post_logout_redirect_uris": ["https://a@evil.example/"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "no user info in jwks_uri",
            json!({"redirect_uris": [web], "jwks_uri": "https://a@evil.example/jwks"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 8252 §7.1: a one-letter scheme is a Windows drive, not an app's scheme",
            json!({"application_type": "native", "redirect_uris": ["c:/Users/x/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "RFC 8252 §7.1: a reverse-domain private-use scheme",
            json!({"application_type": "native", "redirect_uris": ["com.example.app:/cb"]}),
            false,
            None,
        ),
        (
            "RFC 6749 §3.1.2: redirect URIs are absolute",
            json!({"redirect_uris": ["/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "OIDC DCR §2: wildcards are not redirect URIs",
            json!({"redirect_uris": ["https://*.example/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "OIDC DCR §2: web clients use https",
            json!({"redirect_uris": ["http://app.example/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "loopback http for web clients only in start-dev",
            json!({"application_type": "web", "redirect_uris": ["http://localhost:3000/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "loopback http for web clients in start-dev",
            json!({"redirect_uris": ["http://127.0.0.1:3000/cb"]}),
            true,
            None,
        ),
        (
            "[::1] is loopback",
            json!({"redirect_uris": ["http://[::1]/cb"]}),
            true,
            None,
        ),
        (
            "OIDC DCR §2: web clients may not use custom schemes",
            json!({"application_type": "web", "redirect_uris": ["com.example.app:/cb"]}),
            true,
            Some("invalid_redirect_uri"),
        ),
        (
            "RFC 8252 §7.3: native clients use loopback http",
            json!({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb"]}),
            false,
            None,
        ),
        (
            "RFC 8252 §7.1: native clients use private-use schemes",
            json!({"application_type": "native", "redirect_uris": ["com.example.app:/cb"]}),
            false,
            None,
        ),
        (
            "RFC 8252 §8.3: native clients do not use non-loopback http",
            json!({"application_type": "native", "redirect_uris": ["http://app.example/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "RFC 7591 §2: application_type is web or native",
            json!({"application_type": "desktop", "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: authorization_code needs redirect URIs",
            json!({}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "a machine client needs no redirect URI",
            json!({"grant_types": ["client_credentials"]}),
            false,
            None,
        ),
        (
            "OAuth 2.1 §2.1: no implicit grant",
            json!({"grant_types": ["implicit"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OAuth 2.1: no password grant by registration",
            json!({"grant_types": ["password"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: unsupported grant types are refused",
            json!({"grant_types": ["urn:example:grant"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §3.2.1: an unsupported grant type is left out, not refused",
            json!({"grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"], "redirect_uris": [web]}),
            false,
            None,
        ),
        (
            "RFC 7591 §3.2.1: refused when no supported grant type is left",
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 8628: the device grant alone is a usable grant, without redirect URIs",
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "token_endpoint_auth_method": "none"}),
            false,
            None,
        ),
        (
            "RFC 7591 §3.2.1: refresh_token alone is no usable grant",
            json!({"grant_types": ["refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OAuth 2.1: implicit is refused even next to supported grants",
            json!({"grant_types": ["authorization_code", "implicit"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OAuth 2.1: password is refused even next to supported grants",
            json!({"grant_types": ["authorization_code", "password"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 8252 §7.1: no application_type and a private-use scheme: native",
            json!({"redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"]}),
            false,
            None,
        ),
        (
            "RFC 8252 §7.3: no application_type and loopback http: native",
            json!({"redirect_uris": ["http://127.0.0.1:33418/cb", "http://localhost:9/cb", "http://[::1]:8/cb"]}),
            false,
            None,
        ),
        (
            "OIDC DCR §2: explicit web keeps the web rules for loopback http",
            json!({"application_type": "web", "redirect_uris": ["http://127.0.0.1:33418/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "RFC 8252 §7.2: https next to a custom scheme or loopback http is inferred native",
            json!({"redirect_uris": [web, "com.example.app:/cb", "http://127.0.0.1/"]}),
            false,
            None,
        ),
        (
            "OIDC DCR §2: explicit web with https and a custom scheme refuses the scheme",
            json!({"application_type": "web", "redirect_uris": [web, "com.example.app:/cb"]}),
            false,
            Some("invalid_redirect_uri"),
        ),
        (
            "RP Metadata Choices §2: token_endpoint_auth_methods_supported",
            json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["tls_client_auth", "client_secret_post", "none"]}),
            false,
            None,
        ),
        (
            "RP Metadata Choices §2: a methods list with no supported method is refused",
            json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["tls_client_auth", "self_signed_tls_client_auth"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RP Metadata Choices §2: the methods list is an array of strings",
            json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": "none"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RP Metadata Choices §2: an id_token alg list with no supported alg is refused",
            json!({"redirect_uris": [web], "id_token_signing_alg_values_supported": ["HS256", "none"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RP Metadata Choices §2: a userinfo alg list with no supported alg is refused",
            json!({"redirect_uris": [web], "userinfo_signing_alg_values_supported": ["PS512"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RP Metadata Choices §2: an assertion alg list with no alg for the method is refused",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg_values_supported": ["RS256"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RP Metadata Choices §2: a subject type list with no supported type is refused",
            json!({"redirect_uris": [web], "subject_types_supported": ["ephemeral"]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OAuth 2.1: no token response type",
            json!({"response_types": ["token"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OAuth 2.1: no hybrid response type",
            json!({"response_types": ["code id_token"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2.1: code needs authorization_code",
            json!({"grant_types": ["client_credentials"], "response_types": ["code"], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2.1: authorization_code needs code",
            json!({"grant_types": ["authorization_code"], "response_types": [], "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: unsupported auth method",
            json!({"token_endpoint_auth_method": "tls_client_auth", "redirect_uris": [web]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: jwks and jwks_uri are exclusive",
            json!({"redirect_uris": [web], "jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "private_key_jwt needs keys",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "private_key_jwt with jwks",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [ec, rsa]}}),
            false,
            None,
        ),
        (
            "RFC 7518 §3.3: RSA keys have 2048 bits or more (a 17-bit modulus)",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7518 §3.3: RSA keys have 2048 bits or more (1024)",
            json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "RSA", "n": rsa_1024, "e": "AQAB"}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7518 §3.4: ES256 is the only EC algorithm, on P-256",
            json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"]}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7518 §6.2.1: an EC key is a point on its curve",
            json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "y": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7518 §6: only RSA and EC keys are supported",
            json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7517 §5: jwks is a JWK Set",
            json!({"redirect_uris": [web], "jwks": [1]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: jwks carries public keys only",
            json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "d": "secret"}]}}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: jwks_uri over https",
            json!({"redirect_uris": [web], "jwks_uri": "http://a.example/jwks"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OIDC DCR §2: none is not an assertion alg",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/j", "token_endpoint_auth_signing_alg": "none"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "client_secret_jwt signs with HS256",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "private_key_jwt with ES256",
            json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/j", "token_endpoint_auth_signing_alg": "ES256"}),
            false,
            None,
        ),
        (
            "OIDC DCR §2: unsupported id_token alg",
            json!({"redirect_uris": [web], "id_token_signed_response_alg": "HS256"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OIDC DCR §2: id_token alg none refused",
            json!({"redirect_uris": [web], "id_token_signed_response_alg": "none"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: a public client cannot use client_credentials",
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: member types are checked",
            json!({"redirect_uris": "https://a.example/cb"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: client_name is a string",
            json!({"redirect_uris": [web], "client_name": 5}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: contacts is an array of strings",
            json!({"redirect_uris": [web], "contacts": [1]}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: logo_uri is a URL",
            json!({"redirect_uris": [web], "logo_uri": "not a url"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OIDC DCR §2: subject_type public or pairwise",
            json!({"redirect_uris": [web], "subject_type": "secret"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OIDC DCR §2: sector_identifier_uri over https",
            json!({"redirect_uris": [web], "sector_identifier_uri": "http://a.example/s"}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "OIDC DCR §2: default_max_age is a number",
            json!({"redirect_uris": [web], "default_max_age": -1}),
            false,
            Some("invalid_client_metadata"),
        ),
        (
            "RFC 7591 §2: unknown members are ignored",
            json!({"redirect_uris": [web], "x_custom": {"deep": true}, "resource": 5}),
            false,
            None,
        ),
        (
            "RFC 6749 §3.3: scope is space-separated names",
            json!({"redirect_uris": [web], "scope": "a  b"}),
            false,
            Some("invalid_client_metadata"),
        ),
    ];
    for (clause, input, dev, expected) in cases {
        check(clause, input.clone(), *dev, *expected);
    }
}

#[test]
fn an_empty_scope_is_no_scope() {
    let m = validate(
        json!({"redirect_uris": ["https://a.example/cb"], "scope": ""}),
        false,
    )
    .unwrap();
    assert_eq!(m.scope, None);
}

#[test]
fn oidc_dcr_defaults_are_applied() {
    let m = validate(json!({"redirect_uris": ["https://a.example/cb"]}), false).unwrap();
    assert_eq!(m.response_types, ["code"]);
    assert_eq!(m.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(m.token_endpoint_auth_method, "client_secret_basic");
    assert_eq!(m.application_type, "web");
    assert_eq!(m.id_token_signed_response_alg, "RS256");
    let machine = validate(json!({"grant_types": ["client_credentials"]}), false).unwrap();
    assert!(
        machine.response_types.is_empty(),
        "no code grant, no response types"
    );
    let post = validate(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}), false).unwrap();
    assert_eq!(
        post.token_endpoint_auth_method, "client_secret_post",
        "echoed as requested"
    );
}

#[test]
fn unsupported_grant_types_are_left_out() {
    // Claude lists jwt-bearer next to the grants Latchkey supports; VS Code's device_code
    // is one of them (RFC 8628).
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    let m = validate(
        json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code", device, "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]}),
        false,
    )
    .unwrap();
    assert_eq!(
        m.grant_types,
        ["authorization_code", device, "refresh_token"]
    );
    assert_eq!(m.response_types, ["code"]);
    let stored = serde_json::to_value(&m).unwrap();
    assert_eq!(
        stored["grant_types"],
        json!(["authorization_code", device, "refresh_token"]),
        "the registered set is what is stored"
    );
}

#[test]
fn application_type_is_inferred_from_the_redirect_uris() {
    let native = |uris: Value| validate(json!({"redirect_uris": uris}), false).unwrap();
    for uris in [
        json!(["cursor://anysphere.cursor-retrieval/oauth/callback"]),
        json!(["http://127.0.0.1:6274/oauth/callback"]),
        json!(["http://localhost:6274/cb", "com.example.app:/cb"]),
        json!(["http://[::1]:80/cb"]),
    ] {
        assert_eq!(native(uris.clone()).application_type, "native", "{uris}");
    }
    let web = validate(json!({"redirect_uris": ["https://a.example/cb"]}), false).unwrap();
    assert_eq!(web.application_type, "web");
    // VS Code's registration (microsoft/vscode#278512), outside start-dev.
    let vscode = validate(
        json!({"redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"]}),
        false,
    )
    .unwrap();
    assert_eq!(
        vscode.application_type, "native",
        "https and loopback: native"
    );
    let machine = validate(json!({"grant_types": ["client_credentials"]}), false).unwrap();
    assert_eq!(machine.application_type, "web", "no redirect URI: web");
}

#[test]
fn rp_metadata_choices_pick_the_first_supported_value() {
    let web = "https://a.example/cb";
    let m = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["tls_client_auth", "client_secret_post", "client_secret_basic", "none"],
               "id_token_signing_alg_values_supported": ["PS256", "ES256", "RS256"],
               "userinfo_signing_alg_values_supported": ["EdDSA", "RS256"],
               "subject_types_supported": ["pairwise", "public"]}),
        false,
    )
    .unwrap();
    assert_eq!(m.token_endpoint_auth_method, "client_secret_post");
    assert_eq!(m.id_token_signed_response_alg, "ES256");
    assert_eq!(m.userinfo_signed_response_alg.as_deref(), Some("RS256"));
    assert_eq!(m.subject_type.as_deref(), Some("pairwise"));
    let out = serde_json::to_value(&m).unwrap();
    for list in [
        "token_endpoint_auth_methods_supported",
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "subject_types_supported",
    ] {
        assert!(
            out.get(list).is_none(),
            "RP Metadata Choices §2: {list} is input only"
        );
    }
    // The single value wins over the list.
    let single = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_method": "none", "token_endpoint_auth_methods_supported": ["client_secret_basic"],
               "id_token_signed_response_alg": "RS256", "id_token_signing_alg_values_supported": ["ES256"]}),
        false,
    )
    .unwrap();
    assert_eq!(single.token_endpoint_auth_method, "none");
    assert_eq!(single.id_token_signed_response_alg, "RS256");
    // A method this client cannot use is passed over: private_key_jwt without keys, none
    // for client_credentials.
    let keyless = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"]}),
        false,
    )
    .unwrap();
    assert_eq!(keyless.token_endpoint_auth_method, "client_secret_basic");
    let machine = validate(
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_methods_supported": ["none", "client_secret_post"]}),
        false,
    )
    .unwrap();
    assert_eq!(machine.token_endpoint_auth_method, "client_secret_post");
    // The assertion alg list: by method, and only for the methods that sign.
    let jwt = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["client_secret_jwt"], "token_endpoint_auth_signing_alg_values_supported": ["RS256", "HS256"]}),
        false,
    )
    .unwrap();
    assert_eq!(jwt.token_endpoint_auth_method, "client_secret_jwt");
    assert_eq!(
        jwt.token_endpoint_auth_signing_alg.as_deref(),
        Some("HS256")
    );
    let basic = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_signing_alg_values_supported": ["RS256"]}),
        false,
    )
    .unwrap();
    assert_eq!(basic.token_endpoint_auth_signing_alg, None);
    // A list with no supported value is refused naming the list.
    let e = validate(
        json!({"redirect_uris": [web], "token_endpoint_auth_methods_supported": ["tls_client_auth"]}),
        false,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
    assert!(
        e.to_string()
            .contains("token_endpoint_auth_methods_supported"),
        "{e}"
    );
}

#[test]
fn bodies_that_are_not_objects_are_refused() {
    for body in [&b"{not json"[..], b"[]", b"\"x\"", b""] {
        assert_eq!(
            parse_object(body).unwrap_err().code(),
            "invalid_client_metadata"
        );
    }
}

#[test]
fn error_descriptions_stay_short_whatever_was_sent() {
    use crate::registration::MAX_DESCRIPTION;
    let long = "x".repeat(60_000);
    let many = vec!["a"; 10_000];
    for input in [
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_methods_supported": many}),
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": long}),
        json!({"redirect_uris": [format!("https://a.example/{long}#f")]}),
    ] {
        let e = validate(input, false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.chars().count() <= MAX_DESCRIPTION + 1 && text.ends_with('…'),
            "{} characters: {}",
            text.chars().count(),
            &text[..80]
        );
    }
}

#[test]
fn a_redirect_uri_listed_twice_is_registered_once() {
    let m = validate(
        json!({"redirect_uris": ["https://a.example/cb", "https://b.example/cb", "https://a.example/cb"]}),
        false,
    )
    .unwrap();
    assert_eq!(
        m.redirect_uris,
        ["https://a.example/cb", "https://b.example/cb"]
    );
}
