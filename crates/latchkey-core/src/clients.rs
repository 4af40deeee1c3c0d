//! Clients as the admin API creates and updates them: Keycloak's defaults
//! (`RepresentationToModel.createClient`, `OIDCLoginProtocolFactory.setupClientDefaults`),
//! secrets, and service-account users.

use crate::Millis;
use crate::client_uris::{self, UriError};
use crate::crypto::{SecretBox, new_row_id, random_token};
use crate::ident::SERVICE_ACCOUNT_PREFIX;
use crate::keys::Alg;
use crate::rep::{ClientRep, ID_TOKEN_ALG_ATTRIBUTE, StringMap, UserRep};
use crate::roles::{MASTER_REALM, REALM_MANAGEMENT};
use crate::store::{ClientRecord, ScopeRecord, UserRecord};
use std::collections::HashMap;

/// The attribute Keycloak stamps when a secret is generated (epoch seconds).
pub const SECRET_CREATION_TIME: &str = "client.secret.creation.time";
/// The built-in clients every realm gets besides `realm-management`: the command line's
/// and the admin console's.
pub const ADMIN_CLI: &str = "admin-cli";
pub const ADMIN_CONSOLE: &str = "security-admin-console";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("clientId is missing")]
    MissingClientId,
    #[error("client id is longer than 36 characters")]
    BadId,
    /// A URI the client would store breaks `client_uris::check`.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A client id that looks like another once whitespace is trimmed.
    #[error("clientId must not begin or end with whitespace")]
    ClientIdWhitespace,
    /// A registrant's client id that is a built-in client's, ignoring case.
    #[error("clientId {0:?} is reserved for a built-in client")]
    ReservedClientId(String),
    /// A URL client id names a client ID metadata document: only the server, having
    /// fetched that document, registers such a client.
    #[error("clientId {0:?} is a URL, which only a client ID metadata document client may have")]
    UrlClientId(String),
    /// An ID token algorithm Latchkey does not sign with.
    #[error(
        "attribute id.token.signed.response.alg {0:?} is not an algorithm this server signs ID tokens with: use RS256, ES256, or empty for the realm's default"
    )]
    IdTokenAlg(String),
}

/// Keycloak's built-in clients (a realm's own, and those Keycloak adds that a registrant
/// could pass off as them); the master realm also holds `<realm>-realm` for every realm.
pub const BUILT_IN_CLIENT_IDS: [&str; 7] = [
    ADMIN_CLI,
    ADMIN_CONSOLE,
    REALM_MANAGEMENT,
    "account",
    "account-console",
    "broker",
    "master-realm",
];

/// The client id a registrant (either registration provider) may choose in `realm`: no
/// built-in client's id, compared without case, so that `Admin-CLI` cannot pose as
/// `admin-cli` on a consent page or in a log (whitespace is `check_client`'s).
pub fn check_registered_client_id(client_id: &str, realm: &str) -> Result<(), ClientError> {
    if is_built_in(client_id, realm) {
        return Err(ClientError::ReservedClientId(client_id.to_string()));
    }
    check_not_document_url(client_id)
}

/// Whether `client_id` names one of `realm`'s built-in clients, whatever its case.
pub fn is_built_in(client_id: &str, realm: &str) -> bool {
    let folded = client_id.trim().to_lowercase();
    BUILT_IN_CLIENT_IDS.contains(&folded.as_str())
        || (realm == MASTER_REALM && folded.ends_with("-realm"))
}

/// A client id an admin or a registrant chooses is no URL: `https://…` and `http://…` ids
/// are reserved to clients registered from their metadata document (the CIMD draft: ids
/// minted otherwise must not look like one).
pub fn check_not_document_url(client_id: &str) -> Result<(), ClientError> {
    if crate::registration::cimd::is_document_url(client_id.trim()) {
        return Err(ClientError::UrlClientId(client_id.to_string()));
    }
    Ok(())
}

/// The rules every client obeys however it is created or updated (admin API, console,
/// both registration providers, import): its id has no surrounding whitespace, its URIs
/// pass `client_uris::validate`, and its ID token algorithm, if it names one, is one the
/// realm signs with (`keys::Alg`; another would silently fall back to the realm's default
/// at signing, and the client would reject its own ID tokens). Called by `new_client` and
/// by every update path before it stores the client.
pub fn check_client(rep: &ClientRep) -> Result<(), ClientError> {
    if rep.client_id.as_deref().is_some_and(|c| c.trim() != c) {
        return Err(ClientError::ClientIdWhitespace);
    }
    client_uris::validate(rep)?;
    let alg = rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(ID_TOKEN_ALG_ATTRIBUTE))
        .filter(|alg| !alg.is_empty());
    if let Some(alg) = alg
        && Alg::parse(alg).is_none()
    {
        return Err(ClientError::IdTokenAlg(alg.clone()));
    }
    Ok(())
}

/// The realm's client scope names: the default and optional sets new clients receive, and
/// every scope the realm has.
#[derive(Debug, Clone, Default)]
pub struct ScopeDefaults {
    pub default: Vec<String>,
    pub optional: Vec<String>,
    pub all: Vec<String>,
    /// The default then the optional ones: what `allow-default-scopes` admits.
    pub offered: Vec<String>,
}

impl ScopeDefaults {
    /// From the realm's scopes and its default-scope links (scope id, default?); links to
    /// scopes that are gone are skipped. Both sets are sorted by name.
    pub fn from_records(scopes: &[ScopeRecord], links: &[(String, bool)]) -> ScopeDefaults {
        let names: HashMap<&str, &str> = scopes
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        let mut out = ScopeDefaults {
            all: scopes.iter().map(|s| s.name.clone()).collect(),
            ..Default::default()
        };
        for (id, default) in links {
            if let Some(name) = names.get(id.as_str()) {
                if *default {
                    out.default.push(name.to_string());
                } else {
                    out.optional.push(name.to_string());
                }
            }
        }
        out.default.sort();
        out.optional.sort();
        out.offered = out.default.iter().chain(&out.optional).cloned().collect();
        out
    }
}

/// A client ready to store, and its secret in clear (to return once) if it has one.
pub struct NewClient {
    pub record: ClientRecord,
    pub secret: Option<String>,
}

/// A generated client secret: 32 random bytes (256 bits), base64url.
pub fn generate_secret() -> String {
    random_token::<32>()
}

/// The associated data a client's sealed secret is bound to.
pub fn secret_context(client_uuid: &str) -> String {
    format!("client-secret:{client_uuid}")
}

/// Applies Keycloak's creation defaults to an admin `ClientRepresentation`.
pub fn new_client(
    realm_id: &str,
    mut rep: ClientRep,
    scope_defaults: &ScopeDefaults,
    sealer: &SecretBox,
    now: Millis,
) -> Result<NewClient, ClientError> {
    let client_id = rep
        .client_id
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or(ClientError::MissingClientId)?;
    let id = match rep.id.take().filter(|s| !s.is_empty()) {
        Some(id) if id.len() > 36 => return Err(ClientError::BadId),
        Some(id) => id,
        None => new_row_id(),
    };
    // Keycloak runs the OIDC protocol defaults only when `protocol` was sent: the client
    // is then public with direct grants unless it says otherwise.
    let protocol_sent = rep.protocol.is_some();
    if protocol_sent {
        if rep.public_client.is_none() && rep.bearer_only.is_none() {
            rep.public_client = Some(true);
        }
        rep.direct_access_grants_enabled.get_or_insert(true);
    }
    rep.id = Some(id.clone());
    rep.enabled.get_or_insert(true);
    rep.client_authenticator_type
        .get_or_insert_with(|| "client-secret".into());
    rep.redirect_uris.get_or_insert_with(Vec::new);
    if rep.web_origins.is_none() {
        rep.web_origins = Some(Vec::new());
    }
    rep.not_before.get_or_insert(0);
    rep.bearer_only.get_or_insert(false);
    rep.consent_required.get_or_insert(false);
    rep.standard_flow_enabled.get_or_insert(true);
    rep.implicit_flow_enabled.get_or_insert(false);
    rep.direct_access_grants_enabled.get_or_insert(false);
    rep.service_accounts_enabled.get_or_insert(false);
    rep.public_client.get_or_insert(false);
    rep.frontchannel_logout.get_or_insert(true);
    rep.protocol.get_or_insert_with(|| "openid-connect".into());
    rep.attributes.get_or_insert_with(StringMap::new);
    rep.authentication_flow_binding_overrides
        .get_or_insert_with(StringMap::new);
    rep.full_scope_allowed.get_or_insert(true);
    rep.node_re_registration_timeout.get_or_insert(-1);
    if rep.default_client_scopes.is_none() {
        let mut d = scope_defaults.default.clone();
        if rep.service_accounts() {
            d.push("service_account".into());
        }
        rep.default_client_scopes = Some(d);
    }
    rep.optional_client_scopes
        .get_or_insert_with(|| scope_defaults.optional.clone());
    rep.protocol_mappers.get_or_insert_with(Vec::new);
    check_client(&rep)?;
    rep.access = None;
    rep.registration_access_token = None;

    let offered = rep.secret.take().filter(|s| !s.is_empty());
    let secret = rep
        .uses_secret()
        .then(|| offered.unwrap_or_else(generate_secret));
    if secret.is_some()
        && let Some(attrs) = rep.attributes.as_mut()
    {
        attrs.insert(SECRET_CREATION_TIME.into(), (now / 1000).to_string());
    }
    let secret_sealed = secret
        .as_ref()
        .map(|s| sealer.seal(s.as_bytes(), &secret_context(&id)));
    Ok(NewClient {
        record: ClientRecord {
            id,
            realm_id: realm_id.into(),
            client_id,
            rep,
            secret_sealed,
            rat_hash: None,
            created_at: now,
            previous_secret: None,
            last_used: None,
        },
        secret,
    })
}

/// The user `service-account-<clientId>` that carries a service account's roles.
pub fn service_account_user(client: &ClientRecord, now: Millis) -> UserRecord {
    let username = format!("{SERVICE_ACCOUNT_PREFIX}{}", client.client_id).to_lowercase();
    let id = new_row_id();
    UserRecord {
        id: id.clone(),
        realm_id: client.realm_id.clone(),
        username: username.clone(),
        email: None,
        rep: UserRep {
            id: Some(id),
            username: Some(username),
            enabled: Some(true),
            email_verified: Some(false),
            totp: Some(false),
            created_timestamp: Some(now),
            service_account_client_id: Some(client.client_id.clone()),
            ..Default::default()
        },
        password_hash: None,
        service_account_client: Some(client.id.clone()),
        created_at: now,
    }
}

/// The client's secret in clear, if it holds one and it opens under this master key.
pub fn open_secret(client: &ClientRecord, sealer: &SecretBox) -> Option<String> {
    let sealed = client.secret_sealed.as_ref()?;
    let plain = sealer.open(sealed, &secret_context(&client.id)).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> SecretBox {
        SecretBox::new(&[1u8; 32]).unwrap()
    }

    #[test]
    fn scope_names_are_sorted_and_skip_links_to_missing_scopes() {
        let scope = |id: &str, name: &str| ScopeRecord {
            id: id.into(),
            realm_id: "r".into(),
            name: name.into(),
            rep: Default::default(),
        };
        let scopes = [
            scope("1", "roles"),
            scope("2", "email"),
            scope("3", "phone"),
        ];
        let links = [
            ("1".to_string(), true),
            ("2".to_string(), true),
            ("3".to_string(), false),
            ("gone".to_string(), true),
        ];
        let names = ScopeDefaults::from_records(&scopes, &links);
        assert_eq!(names.default, ["email", "roles"]);
        assert_eq!(names.optional, ["phone"]);
        assert_eq!(names.offered, ["email", "roles", "phone"]);
        assert_eq!(names.all, ["roles", "email", "phone"]);
    }

    #[test]
    fn the_id_token_algorithm_is_one_the_server_signs_with() {
        let check = |alg: Option<&str>| {
            let mut rep = ClientRep {
                client_id: Some("app".into()),
                ..Default::default()
            };
            if let Some(alg) = alg {
                rep.attributes = Some(StringMap::from([(
                    ID_TOKEN_ALG_ATTRIBUTE.to_string(),
                    alg.to_string(),
                )]));
            }
            check_client(&rep)
        };
        let refused = |alg: &str| Err(ClientError::IdTokenAlg(alg.into()));
        for (alg, expected) in [
            // Absent or empty: the realm's default algorithm (Keycloak's console sends "").
            (None, Ok(())),
            (Some(""), Ok(())),
            // The algorithms every realm has a key for (`keys::Alg`).
            (Some("RS256"), Ok(())),
            (Some("ES256"), Ok(())),
            // Keycloak signs these; Latchkey has no such key and would fall back.
            (Some("PS256"), refused("PS256")),
            (Some("ES384"), refused("ES384")),
            (Some("EdDSA"), refused("EdDSA")),
            // A MAC or no signature at all: never for ID tokens here.
            (Some("HS256"), refused("HS256")),
            (Some("none"), refused("none")),
            // JWS algorithm names are case-sensitive (RFC 7515 §4.1.1).
            (Some("rs256"), refused("rs256")),
            (Some(" RS256"), refused(" RS256")),
        ] {
            assert_eq!(check(alg), expected, "{alg:?}");
        }
    }

    #[test]
    fn a_bare_client_is_confidential_with_a_generated_secret() {
        let rep = ClientRep {
            client_id: Some("app".into()),
            ..Default::default()
        };
        let n = new_client("r", rep, &ScopeDefaults::default(), &sealer(), 5000).unwrap();
        assert!(!n.record.rep.is_public());
        assert_eq!(n.record.rep.enabled, Some(true));
        let secret = n.secret.unwrap();
        assert_eq!(secret.len(), 43);
        assert_eq!(open_secret(&n.record, &sealer()).unwrap(), secret);
        assert!(
            n.record.rep.secret.is_none(),
            "the stored rep holds no secret"
        );
        assert_eq!(n.record.rep.attributes.unwrap()[SECRET_CREATION_TIME], "5");
    }

    #[test]
    fn sending_protocol_makes_a_public_client_with_direct_grants() {
        let rep = ClientRep {
            client_id: Some("app".into()),
            protocol: Some("openid-connect".into()),
            ..Default::default()
        };
        let n = new_client("r", rep, &ScopeDefaults::default(), &sealer(), 0).unwrap();
        assert!(n.record.rep.is_public());
        assert!(n.record.rep.direct_access_grants());
        assert!(n.secret.is_none() && n.record.secret_sealed.is_none());
    }

    #[test]
    fn client_ids_that_pose_as_others_are_refused() {
        let cases: &[(&str, &str, bool)] = &[
            ("acme", "my-app", true),
            ("acme", "Admin-CLI", false),
            ("acme", "admin-cli ", false),
            ("acme", " security-admin-console", false),
            ("acme", "REALM-management", false),
            ("acme", "Account", false),
            ("acme", "account-console", false),
            ("acme", "broker", false),
            ("acme", "Master-Realm", false),
            ("acme", "acme-realm", true),
            ("master", "acme-Realm", false),
        ];
        for (realm, id, ok) in cases {
            assert_eq!(
                check_registered_client_id(id, realm).is_ok(),
                *ok,
                "{id:?} in {realm}"
            );
        }
        for id in ["admin-cli ", " app", "app\t"] {
            let rep = ClientRep {
                client_id: Some(id.into()),
                ..Default::default()
            };
            assert_eq!(
                new_client("r", rep, &ScopeDefaults::default(), &sealer(), 0).err(),
                Some(ClientError::ClientIdWhitespace),
                "{id:?}"
            );
        }
    }

    #[test]
    fn missing_client_id_is_refused() {
        let r = new_client(
            "r",
            ClientRep::default(),
            &ScopeDefaults::default(),
            &sealer(),
            0,
        );
        assert_eq!(r.err(), Some(ClientError::MissingClientId));
    }
}
