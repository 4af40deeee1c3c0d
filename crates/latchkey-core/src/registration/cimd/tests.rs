use serde_json::json;

use super::*;

fn url_check(raw: &str, dev: bool, expected: Result<(), &str>) {
    let got = check_url(raw, dev).map(|_| ());
    match expected {
        Ok(()) => assert!(got.is_ok(), "{raw}: {got:?}"),
        Err(part) => {
            let why = got.expect_err(raw);
            assert!(why.contains(part), "{raw}: {why}");
        }
    }
}

#[test]
fn url_rules_of_the_draft() {
    // Draft §3: https, a path, no fragment, no user info, no dot segments; a query
    // SHOULD NOT be used (refused here).
    let cases: &[(&str, bool, Result<(), &str>)] = &[
        ("https://app.example/client.json", false, Ok(())),
        ("https://app.example:8443/a/b", false, Ok(())),
        ("http://app.example/client.json", false, Err("https")),
        ("http://127.0.0.1:9000/client.json", false, Err("https")),
        ("http://127.0.0.1:9000/client.json", true, Ok(())),
        ("http://localhost:9000/client.json", true, Ok(())),
        ("http://app.example/client.json", true, Err("https")),
        ("https://app.example", false, Err("path")),
        ("https://app.example/", false, Err("path")),
        ("https://app.example/c.json#x", false, Err("fragment")),
        ("https://app.example/c.json#", false, Err("fragment")),
        ("https://user@app.example/c.json", false, Err("user info")),
        ("https://u:p@app.example/c.json", false, Err("user info")),
        ("https://app.example/a/../c.json", false, Err("segments")),
        ("https://app.example/a/./c.json", false, Err("segments")),
        (
            "https://app.example/a/%2E%2e/c.json",
            false,
            Err("segments"),
        ),
        ("https://app.example/c.json?v=1", false, Err("query")),
        ("https://app.example/c\u{0}.json", false, Err("control")),
        ("ftp://app.example/c.json", false, Err("https")),
        ("not a url", false, Err("valid URL")),
    ];
    for (raw, dev, expected) in cases {
        url_check(raw, *dev, *expected);
    }
}

#[test]
fn document_urls_are_told_apart_from_other_client_ids() {
    assert!(is_document_url("https://a.example/c"));
    assert!(is_document_url("HTTPS://a.example/c"));
    assert!(is_document_url("http://a"));
    assert!(!is_document_url("my-app"));
    assert!(!is_document_url("https:"));
    assert!(!is_document_url("0195e3c4-uuid"));
}

#[test]
fn trusted_domains_match_hosts_and_subdomains() {
    let mut attrs = StringMap::new();
    attrs.insert(
        TRUSTED_DOMAINS_ATTRIBUTE.into(),
        "app.example, *.tools.example".into(),
    );
    let s = Settings::from_attributes(Some(&attrs));
    assert!(s.host_trusted("app.example"));
    assert!(s.host_trusted("APP.example."));
    assert!(s.host_trusted("a.tools.example"));
    assert!(s.host_trusted("a.b.tools.example"));
    assert!(!s.host_trusted("tools.example"));
    assert!(!s.host_trusted("evilapp.example"));
    assert!(!s.host_trusted("app.example.evil"));
    assert!(Settings::from_attributes(None).host_trusted("anything.example"));
    attrs.insert(TRUSTED_DOMAINS_ATTRIBUTE.into(), "[::1], 127.0.0.1".into());
    let s = Settings::from_attributes(Some(&attrs));
    assert!(s.host_trusted("[::1]") && s.host_trusted("::1") && s.host_trusted("127.0.0.1"));
    assert!(!s.host_trusted("127.0.0.2"));
}

#[test]
fn settings_default_and_clamp() {
    let s = Settings::from_attributes(None);
    assert_eq!(
        (s.enabled, s.cache_min_secs, s.cache_max_secs, s.max_bytes),
        (false, 300, 86_400, 5000)
    );
    let mut attrs = StringMap::new();
    attrs.insert(CACHE_MIN_ATTRIBUTE.into(), "50".into());
    attrs.insert(CACHE_MAX_ATTRIBUTE.into(), "10".into());
    attrs.insert(MAX_BYTES_ATTRIBUTE.into(), "nonsense".into());
    attrs.insert(ENABLED_ATTRIBUTE.into(), "TRUE".into());
    let s = Settings::from_attributes(Some(&attrs));
    assert_eq!(
        (s.enabled, s.cache_min_secs, s.cache_max_secs, s.max_bytes),
        (true, 50, 50, 5000)
    );
}

#[test]
fn a_document_without_a_method_is_a_public_client() {
    let url = "https://app.example/c.json";
    let doc = json!({"client_id": url, "redirect_uris": ["https://app.example/cb"],
        "grant_types": ["authorization_code", "client_credentials", "urn:x"], "extra": 1});
    let meta =
        validate_document(doc.as_object().unwrap(), url, ValidationContext::default()).unwrap();
    assert_eq!(meta.token_endpoint_auth_method, "none");
    assert_eq!(meta.grant_types, vec!["authorization_code"]);
}

#[test]
fn the_choices_list_loses_its_shared_secret_methods() {
    let url = "https://app.example/c.json";
    let doc = json!({"client_id": url, "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"]});
    let meta =
        validate_document(doc.as_object().unwrap(), url, ValidationContext::default()).unwrap();
    assert_eq!(meta.token_endpoint_auth_method, "none");
}

#[test]
fn consent_facts_name_the_host_and_loopback_only_clients() {
    let uris = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        consent_facts(
            "https://app.example/c.json",
            &uris(&["http://127.0.0.1/cb", "http://localhost:3000/cb"])
        ),
        Some(("app.example".into(), true))
    );
    assert_eq!(
        consent_facts(
            "https://app.example/c.json",
            &uris(&["http://127.0.0.1/cb", "https://app.example/cb"])
        ),
        Some(("app.example".into(), false))
    );
    assert_eq!(
        consent_facts("my-app", &uris(&["http://127.0.0.1/cb"])),
        None
    );
}

#[test]
fn attributes_an_admin_sets_are_checked() {
    let check = |pairs: &[(&str, &str)]| {
        let attrs: StringMap = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check_attributes(Some(&attrs))
    };
    assert!(check(&[]).is_ok());
    assert!(
        check(&[
            (ENABLED_ATTRIBUTE, "TRUE"),
            (
                TRUSTED_DOMAINS_ATTRIBUTE,
                "a.example, *.b.example,127.0.0.1"
            )
        ])
        .is_ok()
    );
    assert!(check(&[(CACHE_MIN_ATTRIBUTE, "1"), (CACHE_MAX_ATTRIBUTE, "2")]).is_ok());
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[(ENABLED_ATTRIBUTE, "yes")], ENABLED_ATTRIBUTE),
        (&[(CACHE_MIN_ATTRIBUTE, "-1")], CACHE_MIN_ATTRIBUTE),
        (&[(CACHE_MAX_ATTRIBUTE, "1.5")], CACHE_MAX_ATTRIBUTE),
        (
            &[(CACHE_MIN_ATTRIBUTE, "10"), (CACHE_MAX_ATTRIBUTE, "5")],
            "must not be above",
        ),
        (&[(MAX_BYTES_ATTRIBUTE, "0")], MAX_BYTES_ATTRIBUTE),
        (&[(MAX_BYTES_ATTRIBUTE, "100000")], MAX_BYTES_ATTRIBUTE),
        (
            &[(TRUSTED_DOMAINS_ATTRIBUTE, "https://a.example")],
            TRUSTED_DOMAINS_ATTRIBUTE,
        ),
        (
            &[(TRUSTED_DOMAINS_ATTRIBUTE, "a.example/x")],
            TRUSTED_DOMAINS_ATTRIBUTE,
        ),
        (
            &[(TRUSTED_DOMAINS_ATTRIBUTE, "*.")],
            TRUSTED_DOMAINS_ATTRIBUTE,
        ),
    ];
    for (pairs, named) in cases {
        let why = check(pairs).expect_err(named);
        assert!(why.contains(named), "{why}");
    }
}
