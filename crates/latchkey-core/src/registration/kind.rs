//! How a client came to exist, as one word the store keeps in a column of its own, so that
//! lists filter by it and metrics count by it without reading every client: created by an
//! administrator, or registered anonymously, with an initial access token, with a bearer
//! access token, or from its client ID metadata document.

use crate::rep::ClientRep;

/// How the client was registered: `anonymous` or `authenticated` (Keycloak's
/// `registration_auth`), `cimd` for a client ID metadata document's client, or absent for
/// clients an admin created.
pub const REGISTRATION_AUTH_ATTRIBUTE: &str = "registration.auth";

/// `registration.auth` of a client registered from its client ID metadata document.
pub const CIMD_REGISTRATION_AUTH: &str = "cimd";

/// Which credential an authenticated registration presented: `initial_access_token` or
/// `bearer_token` (`anonymous` for an anonymous one). Keycloak's `registration.auth` says
/// only `authenticated`; this tells the two apart.
pub const REGISTRATION_METHOD_ATTRIBUTE: &str = "registration.method";

/// How a client was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationKind {
    /// Created through the admin API or the console: no `registration.auth` attribute.
    Admin,
    Anonymous,
    InitialAccessToken,
    /// With an access token of the realm (`create-client` or `manage-clients`).
    Bearer,
    /// From its client ID metadata document.
    Cimd,
    /// `registration.auth` is `authenticated` but the credential is not recorded: a client
    /// registered before the credential was, or one whose registration access token an
    /// administrator minted (Keycloak then counts it as authenticated).
    Authenticated,
}

impl RegistrationKind {
    pub const ALL: [RegistrationKind; 6] = [
        RegistrationKind::Admin,
        RegistrationKind::Anonymous,
        RegistrationKind::InitialAccessToken,
        RegistrationKind::Bearer,
        RegistrationKind::Cimd,
        RegistrationKind::Authenticated,
    ];

    /// The stored word, also the console's filter value and the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationKind::Admin => "admin",
            RegistrationKind::Anonymous => "anonymous",
            RegistrationKind::InitialAccessToken => "initial_access_token",
            RegistrationKind::Bearer => "bearer",
            RegistrationKind::Cimd => "cimd",
            RegistrationKind::Authenticated => "authenticated",
        }
    }

    pub fn parse(s: &str) -> Option<RegistrationKind> {
        RegistrationKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a client's attributes say.
    pub fn of(rep: &ClientRep) -> RegistrationKind {
        let attr = |name: &str| {
            rep.attributes
                .as_ref()
                .and_then(|a| a.get(name))
                .map(String::as_str)
        };
        match attr(REGISTRATION_AUTH_ATTRIBUTE) {
            None => RegistrationKind::Admin,
            Some("anonymous") => RegistrationKind::Anonymous,
            Some(CIMD_REGISTRATION_AUTH) => RegistrationKind::Cimd,
            Some(_) => match attr(REGISTRATION_METHOD_ATTRIBUTE) {
                Some("initial_access_token") => RegistrationKind::InitialAccessToken,
                Some("bearer_token") => RegistrationKind::Bearer,
                _ => RegistrationKind::Authenticated,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(attrs: &[(&str, &str)]) -> RegistrationKind {
        let rep = ClientRep {
            attributes: (!attrs.is_empty()).then(|| {
                attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            ..Default::default()
        };
        RegistrationKind::of(&rep)
    }

    #[test]
    fn kinds_from_attributes() {
        let auth = REGISTRATION_AUTH_ATTRIBUTE;
        let method = REGISTRATION_METHOD_ATTRIBUTE;
        let cases = [
            (vec![], RegistrationKind::Admin),
            (vec![("other", "x")], RegistrationKind::Admin),
            (vec![(auth, "anonymous")], RegistrationKind::Anonymous),
            (vec![(auth, "cimd")], RegistrationKind::Cimd),
            (
                vec![(auth, "authenticated"), (method, "initial_access_token")],
                RegistrationKind::InitialAccessToken,
            ),
            (
                vec![(auth, "authenticated"), (method, "bearer_token")],
                RegistrationKind::Bearer,
            ),
            (
                vec![(auth, "authenticated")],
                RegistrationKind::Authenticated,
            ),
        ];
        for (attrs, expected) in cases {
            assert_eq!(kind(&attrs), expected, "{attrs:?}");
        }
        for k in RegistrationKind::ALL {
            assert_eq!(RegistrationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RegistrationKind::parse("nope"), None);
    }
}
