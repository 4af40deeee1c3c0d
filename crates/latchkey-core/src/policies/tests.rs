use super::defaults::component;
use super::*;
use crate::rep::ProtocolMapperRep;

fn policy(provider: Provider, config: &[(&str, &[&str])]) -> ComponentRecord {
    let mut c = component("r", ANONYMOUS, "P", provider, &[]);
    for (k, v) in config {
        c.config
            .insert(k.to_string(), v.iter().map(|s| s.to_string()).collect());
    }
    c
}

struct Case<'a> {
    name: &'a str,
    provider: Provider,
    config: &'a [(&'a str, &'a [&'a str])],
    action: Action,
    source: &'a str,
    client: ClientRep,
    previous: Option<ClientRep>,
    requested: &'a [&'a str],
    count: Option<i64>,
    expected: Option<&'a str>,
}

fn base<'a>(name: &'a str, provider: Provider) -> Case<'a> {
    Case {
        name,
        provider,
        config: &[],
        action: Action::Create,
        source: "203.0.113.7",
        client: ClientRep::default(),
        previous: None,
        requested: &[],
        count: None,
        expected: None,
    }
}

fn with_metadata(redirect_uri: &str, metadata: &str) -> ClientRep {
    let mut c = redirect(redirect_uri);
    c.attributes = Some(
        [(
            crate::rep::METADATA_ATTRIBUTE.to_string(),
            metadata.to_string(),
        )]
        .into(),
    );
    c
}

fn redirect(uri: &str) -> ClientRep {
    ClientRep {
        redirect_uris: Some(vec![uri.into()]),
        ..Default::default()
    }
}

/// trusted-hosts with a domain wildcard, checking the client's URIs only.
fn domain<'a>(name: &'a str, client: ClientRep, expected: Option<&'a str>) -> Case<'a> {
    Case {
        config: &[
            ("trusted-hosts", &["*.example.com"]),
            ("host-sending-registration-request-must-match", &["false"]),
        ],
        client,
        expected,
        ..base(name, Provider::TrustedHosts)
    }
}

/// An update of `previous` to `client`.
fn update<'a>(
    name: &'a str,
    provider: Provider,
    client: ClientRep,
    previous: ClientRep,
) -> Case<'a> {
    Case {
        action: Action::Update,
        client,
        previous: Some(previous),
        ..base(name, provider)
    }
}

fn consent(consent_required: Option<bool>) -> ClientRep {
    ClientRep {
        consent_required,
        ..Default::default()
    }
}

fn full_scope(full_scope_allowed: Option<bool>) -> ClientRep {
    ClientRep {
        full_scope_allowed,
        ..Default::default()
    }
}

fn enabled(enabled: Option<bool>) -> ClientRep {
    ClientRep {
        enabled,
        ..Default::default()
    }
}

fn mapper(kind: &str) -> ClientRep {
    ClientRep {
        protocol_mappers: Some(vec![ProtocolMapperRep {
            protocol_mapper: Some(kind.into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[test]
fn providers_pass_and_refuse_with_keycloaks_messages() {
    let th = Provider::TrustedHosts;
    let resolved: BTreeMap<String, Vec<IpAddr>> = [(
        "ci.example.org".to_string(),
        vec!["198.51.100.9".parse().unwrap()],
    )]
    .into();
    let cases = vec![
        Case {
            config: &[("trusted-hosts", &["203.0.113.7"])],
            client: redirect("https://203.0.113.7/cb"),
            ..base("trusted-hosts: trusted IP and URI", th)
        },
        Case {
            config: &[("trusted-hosts", &[])],
            expected: Some("Host not trusted."),
            ..base("trusted-hosts: empty list trusts nobody", th)
        },
        Case {
            config: &[
                ("trusted-hosts", &["localhost"]),
                ("client-uris-must-match", &["false"]),
            ],
            source: "127.0.0.1",
            ..base("trusted-hosts: localhost is loopback", th)
        },
        Case {
            config: &[
                ("trusted-hosts", &["ci.example.org"]),
                ("client-uris-must-match", &["false"]),
            ],
            source: "198.51.100.9",
            ..base("trusted-hosts: a host name resolved", th)
        },
        domain(
            "trusted-hosts: domain wildcard",
            redirect("https://app.example.com/cb"),
            None,
        ),
        domain(
            "trusted-hosts: foreign redirect",
            redirect("https://evil.com/cb"),
            Some("URL doesn't match any trusted host or trusted domain: https://evil.com/cb"),
        ),
        domain(
            "trusted-hosts: suffix is not a domain",
            redirect("https://example.com.evil.com/cb"),
            Some(
                "URL doesn't match any trusted host or trusted domain: https://example.com.evil.com/cb",
            ),
        ),
        domain(
            "trusted-hosts: root URL checked too",
            ClientRep {
                root_url: Some("https://x.other.net".into()),
                ..Default::default()
            },
            Some("URL doesn't match any trusted host or trusted domain: https://x.other.net"),
        ),
        domain(
            "trusted-hosts: post-logout redirect URIs checked too",
            with_metadata(
                "https://app.example.com/cb",
                r#"{"post_logout_redirect_uris":["https://evil.example/phish"]}"#,
            ),
            Some(
                "URL doesn't match any trusted host or trusted domain: https://evil.example/phish",
            ),
        ),
        domain(
            "trusted-hosts: jwks_uri checked too",
            with_metadata(
                "https://app.example.com/cb",
                r#"{"jwks_uri":"https://evil.example/jwks"}"#,
            ),
            Some("URL doesn't match any trusted host or trusted domain: https://evil.example/jwks"),
        ),
        domain(
            "trusted-hosts: trusted post-logout and back-channel URIs",
            with_metadata(
                "https://app.example.com/cb",
                r#"{"post_logout_redirect_uris":["https://app.example.com/bye"],"backchannel_logout_uri":"https://api.example.com/bc"}"#,
            ),
            None,
        ),
        Case {
            expected: Some("Not permitted to update consentRequired to false"),
            ..update(
                "consent-required: cannot be switched off",
                Provider::ConsentRequired,
                consent(Some(false)),
                consent(Some(true)),
            )
        },
        update(
            "consent-required: staying on passes",
            Provider::ConsentRequired,
            consent(Some(true)),
            consent(Some(true)),
        ),
        Case {
            expected: Some("Not permitted to enable fullScopeAllowed"),
            ..update(
                "scope: cannot enable full scope",
                Provider::Scope,
                full_scope(Some(true)),
                full_scope(Some(false)),
            )
        },
        update(
            "scope: omitting the field changes nothing (CVE-2026-18570)",
            Provider::Scope,
            full_scope(None),
            full_scope(Some(false)),
        ),
        Case {
            config: &[("max-clients", &["3"])],
            count: Some(3),
            expected: Some("It's allowed to have max 3 clients per realm"),
            ..base("max-clients: full", Provider::MaxClients)
        },
        Case {
            config: &[("max-clients", &["3"])],
            count: Some(2),
            ..base("max-clients: a free slot", Provider::MaxClients)
        },
        Case {
            expected: Some("Not permitted to enable client"),
            ..update(
                "client-disabled: no self-approval",
                Provider::ClientDisabled,
                enabled(Some(true)),
                enabled(Some(false)),
            )
        },
        update(
            "client-disabled: staying disabled passes",
            Provider::ClientDisabled,
            enabled(Some(false)),
            enabled(Some(false)),
        ),
        Case {
            config: &[("allowed-protocol-mapper-types", &["oidc-full-name-mapper"])],
            client: mapper("oidc-hardcoded-claim-mapper"),
            expected: Some("ProtocolMapper type not allowed"),
            ..base(
                "allowed-protocol-mappers: a foreign type",
                Provider::AllowedProtocolMappers,
            )
        },
        Case {
            config: &[("allowed-protocol-mapper-types", &["oidc-full-name-mapper"])],
            client: mapper("oidc-full-name-mapper"),
            ..base(
                "allowed-protocol-mappers: a listed type",
                Provider::AllowedProtocolMappers,
            )
        },
        Case {
            config: &[("allow-default-scopes", &["true"])],
            requested: &["openid", "profile"],
            ..base(
                "allowed-client-templates: realm scopes and openid",
                Provider::AllowedClientScopes,
            )
        },
        Case {
            config: &[("allow-default-scopes", &["true"])],
            requested: &["admin:all"],
            expected: Some("Not permitted to use specified clientScope"),
            ..base(
                "allowed-client-templates: an unknown scope",
                Provider::AllowedClientScopes,
            )
        },
        Case {
            config: &[
                ("allowed-client-scopes", &["mcp:tools"]),
                ("allow-default-scopes", &["false"]),
            ],
            requested: &["mcp:tools"],
            client: ClientRep {
                default_client_scopes: Some(vec![]),
                ..Default::default()
            },
            ..base(
                "allowed-client-templates: a listed scope",
                Provider::AllowedClientScopes,
            )
        },
        Case {
            config: &[("allow-default-scopes", &["false"])],
            client: ClientRep {
                default_client_scopes: Some(vec!["profile".into()]),
                ..Default::default()
            },
            expected: Some("Not permitted to use specified clientScope"),
            ..base(
                "allowed-client-templates: defaults not allowed",
                Provider::AllowedClientScopes,
            )
        },
    ];
    let offered_scopes = vec!["profile".to_string(), "email".to_string()];
    for case in cases {
        let requested: Vec<String> = case.requested.iter().map(|s| s.to_string()).collect();
        let r = Request {
            action: case.action,
            source: case.source.parse().ok(),
            resolved_hosts: &resolved,
            client: &case.client,
            previous: case.previous.as_ref(),
            requested_scopes: &requested,
            offered_scopes: &offered_scopes,
            check_source: true,
            client_count: case.count,
        };
        let c = policy(case.provider, case.config);
        let got = evaluate(std::slice::from_ref(&c), ANONYMOUS, &r);
        assert_eq!(got.len(), 1, "{}", case.name);
        assert_eq!(got[0].refusal.as_deref(), case.expected, "{}", case.name);
    }
}

#[test]
fn creation_effects_and_defaults() {
    let d = defaults("r");
    assert_eq!(
        d.iter()
            .filter(|c| c.sub_type.as_deref() == Some(ANONYMOUS))
            .count(),
        7
    );
    assert_eq!(
        d.iter()
            .filter(|c| c.sub_type.as_deref() == Some(AUTHENTICATED))
            .count(),
        3
    );
    let mut client = ClientRep {
        enabled: Some(true),
        consent_required: Some(false),
        full_scope_allowed: Some(true),
        ..Default::default()
    };
    let effects = apply_on_create(&d, ANONYMOUS, &mut client);
    assert_eq!(client.consent_required, Some(true));
    assert_eq!(client.full_scope_allowed, Some(false));
    assert_eq!(
        client.enabled,
        Some(true),
        "client-disabled is not a default"
    );
    assert_eq!(
        effects.max_clients,
        Some((200, "Max Clients Limit".to_string()))
    );
    let mut authed = ClientRep::default();
    assert!(
        apply_on_create(&d, AUTHENTICATED, &mut authed)
            .max_clients
            .is_none()
    );
    let disabled = vec![policy(Provider::ClientDisabled, &[])];
    let mut c = ClientRep {
        enabled: Some(true),
        ..Default::default()
    };
    apply_on_create(&disabled, ANONYMOUS, &mut c);
    assert_eq!(c.enabled, Some(false));
}

#[test]
fn config_validation() {
    let both_off = policy(
        Provider::TrustedHosts,
        &[
            ("host-sending-registration-request-must-match", &["false"]),
            ("client-uris-must-match", &["false"]),
        ],
    );
    assert!(validate_config(Provider::TrustedHosts, &both_off).is_err());
    assert!(
        validate_config(
            Provider::MaxClients,
            &policy(Provider::MaxClients, &[("max-clients", &["0"])])
        )
        .is_err()
    );
    assert!(
        validate_config(
            Provider::MaxClients,
            &policy(Provider::MaxClients, &[("max-clients", &["5"])])
        )
        .is_ok()
    );
    assert_eq!(
        refusal_message("Trusted Hosts", "Host not trusted."),
        "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."
    );
    assert_eq!(
        Provider::parse("allowed-client-templates"),
        Some(Provider::AllowedClientScopes)
    );
}

#[test]
fn secret_lifetime_is_the_shortest_of_the_set() {
    let days =
        |d: &'static [&'static str]| policy(Provider::ClientSecretExpiration, &[("days", d)]);
    let day = crate::client_secrets::DAY_SECS;
    assert_eq!(secret_lifetime(&[], ANONYMOUS), None);
    let set = [days(&["30"]), days(&["7"])];
    assert_eq!(secret_lifetime(&set, ANONYMOUS), Some(7 * day));
    assert_eq!(
        secret_lifetime(&set, AUTHENTICATED),
        None,
        "the other set's policies do not count"
    );
    let mut client = ClientRep::default();
    assert_eq!(
        apply_on_create(&set, ANONYMOUS, &mut client).secret_lifetime,
        Some(7 * day)
    );
    for (value, ok) in [
        ("1", true),
        ("365", true),
        ("0", false),
        ("-1", false),
        ("1.5", false),
        ("", false),
        ("x", false),
    ] {
        let c = policy(Provider::ClientSecretExpiration, &[("days", &[value])]);
        assert_eq!(
            validate_config(Provider::ClientSecretExpiration, &c).is_ok(),
            ok,
            "{value:?}"
        );
    }
    let missing = policy(Provider::ClientSecretExpiration, &[]);
    assert!(validate_config(Provider::ClientSecretExpiration, &missing).is_err());
}

/// Which set's `unused-client-expiration` period holds a client, by how it was registered:
/// the anonymous set for anonymous and metadata document clients, the authenticated set for
/// the others, none for an administrator's; the shortest period of a set binds.
#[test]
fn expiry_follows_the_set_that_registered_the_client() {
    let expiry = |set: &str, days: &str| {
        let mut c = component("r", set, "E", Provider::UnusedClientExpiration, &[]);
        c.config.insert("days".into(), vec![days.into()]);
        c
    };
    let components = vec![
        expiry(ANONYMOUS, "7"),
        expiry(ANONYMOUS, "10"),
        expiry(AUTHENTICATED, "30"),
        expiry(AUTHENTICATED, "0"),
        policy(Provider::MaxClients, &[("max-clients", &["5"])]),
    ];
    for (auth, days) in [
        (Some("anonymous"), Some(7)),
        (Some("cimd"), Some(7)),
        (Some("authenticated"), Some(30)),
        (Some("something-else"), None),
        (None, None),
    ] {
        assert_eq!(expiry_days(&components, auth), days, "{auth:?}");
    }
    assert_eq!(shortest_expiry(&components), Some(7));
    assert_eq!(shortest_expiry(&components[2..]), Some(30));
    assert_eq!(shortest_expiry(&components[4..]), None);
    let only_anonymous = &components[..2];
    assert_eq!(expiry_days(only_anonymous, Some("authenticated")), None);
}
