//! Every URI a client stores, listed in one place (`stored_uris`), and the rule none of them
//! may break (`check`): no `javascript:`, `data:`, `vbscript:` or `file:` scheme,
//! no user info, no bare `*`. Client creation and update on every surface (admin API,
//! console, both registration providers) pass through `clients::check_client`, which
//! applies it; the authorization and logout endpoints apply it again before redirecting,
//! and the `trusted-hosts` policy checks the hosts of the same list.

use serde_json::{Map, Value};

use crate::rep::ClientRep;
use crate::rep::METADATA_ATTRIBUTE;

/// The field a URI comes from, named as Keycloak's client validation names it
/// (`DefaultClientValidationProvider.FieldMessages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriField {
    RootUrl,
    BaseUrl,
    AdminUrl,
    RedirectUri,
    PostLogoutRedirectUri,
    BackchannelLogoutUrl,
    FrontchannelLogoutUrl,
    JwksUrl,
    SectorIdentifierUri,
    InitiateLoginUri,
    LogoUri,
    PolicyUri,
    TosUri,
}

impl UriField {
    fn label(self) -> &'static str {
        match self {
            UriField::RootUrl => "Root URL",
            UriField::BaseUrl => "Base URL",
            UriField::AdminUrl => "Admin URL",
            UriField::RedirectUri => "A redirect URI",
            UriField::PostLogoutRedirectUri => "A post logout redirect URI",
            UriField::BackchannelLogoutUrl => "Backchannel logout URL",
            UriField::FrontchannelLogoutUrl => "Frontchannel logout URL",
            UriField::JwksUrl => "JWKS URL",
            UriField::SectorIdentifierUri => "Sector identifier URI",
            UriField::InitiateLoginUri => "Initiate login URI",
            UriField::LogoUri => "Logo URL",
            UriField::PolicyUri => "Policy URL",
            UriField::TosUri => "Terms of service URL",
        }
    }
}

/// Why a URI is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriProblem {
    /// `javascript:`, `data:`, `vbscript:` or `file:`: script or local content, never a
    /// place to send a browser or a server.
    Scheme,
    /// `https://user:pass@host/`: the part before `@` disguises the real host.
    UserInfo,
    /// A bare `*`, which would match every URI.
    Wildcard,
    /// Control characters or surrounding whitespace (browsers drop them, so what is shown
    /// is not what is followed).
    Malformed,
    /// More URIs in one list than [`MAX_URIS_PER_FIELD`].
    TooMany,
}

/// The most URIs a client keeps in one list (redirect URIs, post-logout redirect URIs):
/// real clients register a handful; without a bound one body could store thousands.
pub const MAX_URIS_PER_FIELD: usize = 100;

impl std::fmt::Display for UriProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UriProblem::Scheme => "the javascript, data, vbscript and file schemes are not allowed",
            UriProblem::UserInfo => "user info (user@) is not allowed",
            UriProblem::Wildcard => "a bare * is not allowed",
            UriProblem::Malformed => {
                "control characters and surrounding whitespace are not allowed"
            }
            UriProblem::TooMany => "too many URIs in one list",
        })
    }
}

/// A refused client URI: the field and Keycloak's message for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UriError {
    pub field: UriField,
    pub problem: UriProblem,
    pub message: String,
}

impl UriError {
    fn new(field: UriField, problem: UriProblem) -> UriError {
        let label = field.label();
        let kind = match field {
            UriField::RedirectUri | UriField::PostLogoutRedirectUri => "URI",
            _ => "URL",
        };
        let message = match problem {
            UriProblem::Scheme => format!("{label} uses an illegal scheme"),
            UriProblem::UserInfo => {
                format!("{label} is not a valid {kind}: user info (user@) is not allowed")
            }
            UriProblem::Wildcard => {
                format!("{label} is not a valid {kind}: a bare * is not allowed")
            }
            UriProblem::Malformed => format!("{label} is not a valid {kind}"),
            UriProblem::TooMany => {
                format!("{label}: at most {MAX_URIS_PER_FIELD} of its kind may be registered")
            }
        };
        UriError {
            field,
            problem,
            message,
        }
    }
}

const REFUSED_SCHEMES: [&str; 4] = ["javascript", "data", "vbscript", "file"];

/// The rule every stored client URI and every redirect target obeys. Relative
/// URIs (`/admin/*`) and Keycloak's placeholders (`${authBaseUrl}`) have no scheme and
/// pass; schemes are compared without case.
pub fn check(uri: &str) -> Result<(), UriProblem> {
    if uri.chars().any(char::is_control) || uri.trim() != uri {
        return Err(UriProblem::Malformed);
    }
    if uri == "*" {
        return Err(UriProblem::Wildcard);
    }
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
    let rest = match uri.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            if REFUSED_SCHEMES
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
            {
                return Err(UriProblem::Scheme);
            }
            rest
        }
        _ => uri,
    };
    // RFC 3986 §3.2: the authority follows `//` and ends at the path, query or fragment
    // (a backslash too: WHATWG URL parsers read it as `/` in http(s) URLs).
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '\\', '?', '#']).unwrap_or(after.len());
        if after[..end].contains('@') {
            return Err(UriProblem::UserInfo);
        }
    }
    Ok(())
}

/// Keycloak's attributes that hold URIs (OIDC advanced settings and display URLs).
const URI_ATTRIBUTES: [(&str, UriField); 6] = [
    ("backchannel.logout.url", UriField::BackchannelLogoutUrl),
    ("frontchannel.logout.url", UriField::FrontchannelLogoutUrl),
    ("jwks.url", UriField::JwksUrl),
    ("logoUri", UriField::LogoUri),
    ("policyUri", UriField::PolicyUri),
    ("tosUri", UriField::TosUri),
];

/// RFC 7591 / OIDC metadata members (kept in `METADATA_ATTRIBUTE`) that hold URIs. The
/// redirect URIs and `client_uri` are not among them: they live in the representation's
/// own fields (`convert::to_client_rep`), which are listed already.
const URI_METADATA: [(&str, UriField); 9] = [
    ("post_logout_redirect_uris", UriField::PostLogoutRedirectUri),
    ("jwks_uri", UriField::JwksUrl),
    ("sector_identifier_uri", UriField::SectorIdentifierUri),
    ("backchannel_logout_uri", UriField::BackchannelLogoutUrl),
    ("frontchannel_logout_uri", UriField::FrontchannelLogoutUrl),
    ("initiate_login_uri", UriField::InitiateLoginUri),
    ("logo_uri", UriField::LogoUri),
    ("policy_uri", UriField::PolicyUri),
    ("tos_uri", UriField::TosUri),
];

/// Every non-empty URI the client stores, with its field: the representation's root, base
/// and admin URLs and redirect URIs, Keycloak's URI attributes (`post.logout.redirect.uris`
/// is `##`-separated), and the URIs of the registered metadata.
pub fn stored_uris(rep: &ClientRep) -> Vec<(UriField, String)> {
    let mut out: Vec<(UriField, String)> = Vec::new();
    let mut push = |field: UriField, value: &str| {
        if !value.is_empty() {
            out.push((field, value.to_string()));
        }
    };
    for (field, value) in [
        (UriField::RootUrl, &rep.root_url),
        (UriField::BaseUrl, &rep.base_url),
        (UriField::AdminUrl, &rep.admin_url),
    ] {
        if let Some(v) = value {
            push(field, v);
        }
    }
    for uri in rep.redirect_uris.iter().flatten() {
        push(UriField::RedirectUri, uri);
    }
    let Some(attrs) = rep.attributes.as_ref() else {
        return out;
    };
    for (key, field) in URI_ATTRIBUTES {
        if let Some(v) = attrs.get(key) {
            push(field, v);
        }
    }
    if let Some(v) = attrs.get("post.logout.redirect.uris") {
        // `+` means "the redirect URIs" in Keycloak; it is not a URI of its own.
        for uri in v.split("##").filter(|u| *u != "+") {
            push(UriField::PostLogoutRedirectUri, uri);
        }
    }
    // Most registrations hold none of these members: look for their names before parsing
    // the document (every registration passes through here).
    let metadata: Map<String, Value> = attrs
        .get(METADATA_ATTRIBUTE)
        .filter(|s| URI_METADATA.iter().any(|(key, _)| s.contains(key)))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    for (key, field) in URI_METADATA {
        match metadata.get(key) {
            Some(Value::String(s)) => push(field, s),
            Some(Value::Array(items)) => {
                for s in items.iter().filter_map(Value::as_str) {
                    push(field, s);
                }
            }
            _ => {}
        }
    }
    out
}

/// Keycloak's `post.logout.redirect.uris` value meaning "the client's redirect URIs".
const REDIRECT_URIS_MARKER: &str = "+";
/// Keycloak's `post.logout.redirect.uris` value meaning "none".
const NONE_MARKER: &str = "-";

/// Whether `given` is a redirect to the registered URI `registered` (absolute), as the
/// authorization endpoint matches redirect URIs (RFC 6749 §3.1.2.3) and Keycloak's
/// `RedirectUtils.verifyRedirectUri` matches both those and post-logout redirect URIs:
/// equal; a loopback IP `http` URI registered without a port, with any port (RFC 8252
/// §7.3); or a registered URI ending in `*`, a prefix of `given` (no fragment, no `..`
/// nor percent-encoded dot after the prefix). Both must pass [`check`], so a prefix match can never reach
/// `https://app.example@evil.example`.
pub fn redirect_matches(registered: &str, given: &str) -> bool {
    if check(registered).is_err() || check(given).is_err() {
        return false;
    }
    if registered == given {
        return true;
    }
    if let Some(prefix) = registered.strip_suffix('*') {
        // A dot segment climbs out of the prefix, spelt plainly or percent-encoded: URL
        // parsers (the WHATWG URL standard, and so browsers) read `%2e` in a path as `.`,
        // so `…/cb/%2e%2e/evil` is sent to `…/evil`.
        return given.strip_prefix(prefix).is_some_and(|rest| {
            !given.contains('#')
                && !rest.contains("..")
                && !rest.to_ascii_lowercase().contains("%2e")
        });
    }
    let (Ok(r), Ok(g)) = (url::Url::parse(registered), url::Url::parse(given)) else {
        return false;
    };
    let loopback = matches!(r.host_str(), Some("127.0.0.1") | Some("[::1]"));
    loopback
        && r.scheme() == "http"
        && g.scheme() == "http"
        && r.host_str() == g.host_str()
        && r.path() == g.path()
        && r.query() == g.query()
        && r.port().is_none()
        && g.fragment().is_none()
}

/// The URIs a client may be sent to after logout (OIDC RP-Initiated Logout §3.1): its
/// registered `post_logout_redirect_uris` metadata (RFC 7591 registrations) and Keycloak's
/// `post.logout.redirect.uris` attribute (admin API, console, import): `##`-separated,
/// `+` standing for the client's redirect URIs and `-` for none
/// (`OIDCAdvancedConfigWrapper.getPostLogoutRedirectUris`). Without either, none: Keycloak
/// then falls back to the redirect URIs, which would let every login target be a logout
/// target the client never named.
pub fn post_logout_redirect_uris(rep: &ClientRep) -> Vec<String> {
    let mut out = Vec::new();
    let Some(attrs) = rep.attributes.as_ref() else {
        return out;
    };
    if let Some(v) = attrs.get("post.logout.redirect.uris")
        && v != NONE_MARKER
    {
        for uri in v.split("##").filter(|u| !u.is_empty()) {
            if uri == REDIRECT_URIS_MARKER {
                out.extend(rep.redirect_uris.iter().flatten().cloned());
            } else {
                out.push(uri.to_string());
            }
        }
    }
    if let Some(Value::Array(items)) = attrs
        .get(METADATA_ATTRIBUTE)
        .filter(|s| s.contains("post_logout_redirect_uris"))
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
        .and_then(|mut m| m.remove("post_logout_redirect_uris"))
    {
        out.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
    }
    out
}

/// Whether logout may redirect to `given` for this client: one of its
/// [`post_logout_redirect_uris`] matches it ([`redirect_matches`]); a relative one (`/…`,
/// as Keycloak's built-in clients register) is taken from `server_base`, the server's base
/// URL.
pub fn post_logout_allowed(rep: &ClientRep, given: &str, server_base: &str) -> bool {
    post_logout_redirect_uris(rep).iter().any(|r| {
        if r.starts_with('/') {
            redirect_matches(&format!("{server_base}{r}"), given)
        } else {
            redirect_matches(r, given)
        }
    })
}

/// Checks every URI the client stores; the first refused one is the error.
pub fn validate(rep: &ClientRep) -> Result<(), UriError> {
    let uris = stored_uris(rep);
    for (field, uri) in &uris {
        check(uri).map_err(|problem| UriError::new(*field, problem))?;
    }
    for field in [UriField::RedirectUri, UriField::PostLogoutRedirectUri] {
        if uris.iter().filter(|(f, _)| *f == field).count() > MAX_URIS_PER_FIELD {
            return Err(UriError::new(field, UriProblem::TooMany));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rep::StringMap;

    /// `None`: allowed; `Some(problem)`: refused for that reason.
    fn check_case(why: &str, input: &str, expected: Option<UriProblem>) {
        assert_eq!(check(input).err(), expected, "{why}: {input:?}");
    }

    #[test]
    fn a_list_holds_at_most_the_bound() {
        let uris = |n: usize| (0..n).map(|i| format!("https://a.example/{i}")).collect();
        let at_bound = ClientRep {
            redirect_uris: Some(uris(MAX_URIS_PER_FIELD)),
            ..Default::default()
        };
        assert!(validate(&at_bound).is_ok());
        let over = ClientRep {
            redirect_uris: Some(uris(MAX_URIS_PER_FIELD + 1)),
            ..Default::default()
        };
        let e = validate(&over).unwrap_err();
        assert_eq!(
            (e.field, e.problem),
            (UriField::RedirectUri, UriProblem::TooMany)
        );
    }

    #[test]
    fn the_client_uri_rule() {
        use UriProblem::*;
        let cases: &[(&str, &str, Option<UriProblem>)] = &[
            ("an https URI", "https://app.example/cb", None),
            ("a loopback http URI", "http://127.0.0.1:8080/cb", None),
            (
                "a private-use scheme (RFC 8252 §7.1)",
                "com.example.app:/cb",
                None,
            ),
            ("relative, resolved against the base URL", "/admin/*", None),
            (
                "Keycloak's trailing wildcard",
                "https://app.example/*",
                None,
            ),
            ("Keycloak's placeholder", "${authBaseUrl}", None),
            (
                "an @ in the path is no user info",
                "https://app.example/a@b",
                None,
            ),
            (
                "an @ in the query is no user info",
                "https://app.example/?u=a@b",
                None,
            ),
            ("javascript", "javascript:alert(1)", Some(Scheme)),
            ("scheme case", "JavaScript:alert(1)", Some(Scheme)),
            (
                "javascript with a path",
                "javascript://x/%0aalert(1)",
                Some(Scheme),
            ),
            ("data", "data:text/html,<script>x</script>", Some(Scheme)),
            ("vbscript", "vbscript:msgbox", Some(Scheme)),
            ("file", "file:///etc/passwd", Some(Scheme)),
            (
                "user and password",
                "https://user:pass@evil.example/cb",
                Some(UserInfo),
            ),
            (
                "user only",
                "https://app.example@evil.example/cb",
                Some(UserInfo),
            ),
            (
                "empty user info",
                "https://@evil.example/cb",
                Some(UserInfo),
            ),
            (
                "scheme-relative user info",
                "//user@evil.example/",
                Some(UserInfo),
            ),
            ("a bare wildcard", "*", Some(Wildcard)),
            (
                "browsers drop leading blanks",
                " javascript:alert(1)",
                Some(Malformed),
            ),
            (
                "browsers drop tabs and newlines",
                "java\tscript:alert(1)",
                Some(Malformed),
            ),
            (
                "trailing whitespace",
                "https://app.example/cb ",
                Some(Malformed),
            ),
            ("NUL", "https://app.example/\0", Some(Malformed)),
        ];
        for (why, input, expected) in cases {
            check_case(why, input, *expected);
        }
    }

    #[test]
    fn every_stored_uri_is_listed_and_checked() {
        let mut attrs = StringMap::new();
        attrs.insert("jwks.url".into(), "https://app.example/jwks".into());
        attrs.insert(
            "post.logout.redirect.uris".into(),
            "https://app.example/bye##+".into(),
        );
        attrs.insert(
            METADATA_ATTRIBUTE.into(),
            r#"{"post_logout_redirect_uris":["https://app.example/out"],"initiate_login_uri":"https://app.example/login","tos_uri":"https://app.example/tos"}"#.into(),
        );
        let rep = ClientRep {
            root_url: Some("https://app.example".into()),
            base_url: Some(String::new()),
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            attributes: Some(attrs),
            ..Default::default()
        };
        let fields: Vec<UriField> = stored_uris(&rep).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                UriField::RootUrl,
                UriField::RedirectUri,
                UriField::JwksUrl,
                UriField::PostLogoutRedirectUri,
                UriField::PostLogoutRedirectUri,
                UriField::InitiateLoginUri,
                UriField::TosUri,
            ]
        );
        assert!(validate(&rep).is_ok());

        let mut bad = rep.clone();
        bad.attributes.as_mut().unwrap().insert(
            METADATA_ATTRIBUTE.into(),
            r#"{"post_logout_redirect_uris":["javascript:alert(1)"]}"#.into(),
        );
        let e = validate(&bad).unwrap_err();
        assert_eq!(e.field, UriField::PostLogoutRedirectUri);
        assert_eq!(
            e.message,
            "A post logout redirect URI uses an illegal scheme"
        );

        let root = ClientRep {
            root_url: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert_eq!(
            validate(&root).unwrap_err().message,
            "Root URL uses an illegal scheme"
        );
        let star = ClientRep {
            redirect_uris: Some(vec!["*".into()]),
            ..Default::default()
        };
        assert_eq!(validate(&star).unwrap_err().field, UriField::RedirectUri);
    }

    /// A client with Keycloak's `post.logout.redirect.uris` attribute (`None`: absent), RFC
    /// 7591 `post_logout_redirect_uris` metadata (`None`: absent) and one redirect URI.
    fn logout_client(attribute: Option<&str>, metadata: Option<&str>) -> ClientRep {
        let mut attrs = StringMap::new();
        if let Some(a) = attribute {
            attrs.insert("post.logout.redirect.uris".into(), a.into());
        }
        if let Some(m) = metadata {
            attrs.insert(
                METADATA_ATTRIBUTE.into(),
                format!(r#"{{"post_logout_redirect_uris":[{m}]}}"#),
            );
        }
        ClientRep {
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            attributes: Some(attrs),
            ..Default::default()
        }
    }

    #[test]
    fn where_logout_may_redirect() {
        const BASE: &str = "https://id.example";
        // (why, attribute, metadata, given, allowed)
        type Case = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            bool,
        );
        let cases: &[Case] = &[
            (
                "a listed URI (Keycloak attribute)",
                Some("https://app.example/bye"),
                None,
                "https://app.example/bye",
                true,
            ),
            (
                "any of a ##-joined list",
                Some("https://a.example/x##https://app.example/bye"),
                None,
                "https://app.example/bye",
                true,
            ),
            (
                "an unlisted URI",
                Some("https://app.example/bye"),
                None,
                "https://app.example/other",
                false,
            ),
            (
                "+ stands for the redirect URIs",
                Some("+"),
                None,
                "https://app.example/cb",
                true,
            ),
            (
                "+ beside a URI keeps that URI",
                Some("+##https://app.example/bye"),
                None,
                "https://app.example/bye",
                true,
            ),
            (
                "without + the redirect URIs are not logout targets",
                Some("https://app.example/bye"),
                None,
                "https://app.example/cb",
                false,
            ),
            (
                "- means none",
                Some("-"),
                None,
                "https://app.example/cb",
                false,
            ),
            (
                "absent: none (Keycloak would take the redirect URIs)",
                None,
                None,
                "https://app.example/cb",
                false,
            ),
            (
                "a trailing /* matches below it",
                Some("https://app.example/*"),
                None,
                "https://app.example/bye/now?x=1",
                true,
            ),
            (
                "a /* wildcard stops at its prefix",
                Some("https://app.example/out/*"),
                None,
                "https://app.example/outside",
                false,
            ),
            (
                "a wildcard does not climb out with ..",
                Some("https://app.example/out/*"),
                None,
                "https://app.example/out/../admin",
                false,
            ),
            (
                "a wildcard does not climb out with percent-encoded dots",
                Some("https://app.example/out/*"),
                None,
                "https://app.example/out/%2e%2e/%2E%2e/evil",
                false,
            ),
            (
                "a URI shorter than a wildcard's prefix",
                Some("https://app.example/out/*"),
                None,
                "https://app.example/o",
                false,
            ),
            (
                "nor with a dot and an encoded one",
                Some("https://app.example/out/*"),
                None,
                "https://app.example/out/.%2E/evil",
                false,
            ),
            (
                "a wildcard never reaches user info (client_uris::check)",
                Some("https://app.example*"),
                None,
                "https://app.example@evil.example/",
                false,
            ),
            (
                "a stored URI breaking the rule is ignored",
                Some("javascript:alert(1)"),
                None,
                "javascript:alert(1)",
                false,
            ),
            (
                "a relative URI is the server's",
                Some("/admin/*"),
                None,
                "https://id.example/admin/console/",
                true,
            ),
            (
                "a loopback URI with any port (RFC 8252 §7.3)",
                Some("http://127.0.0.1/bye"),
                None,
                "http://127.0.0.1:5173/bye",
                true,
            ),
            (
                "registered metadata (RFC 7591)",
                None,
                Some(r#""https://app.example/bye""#),
                "https://app.example/bye",
                true,
            ),
            (
                "metadata and the attribute together",
                Some("https://b.example/"),
                Some(r#""https://app.example/bye""#),
                "https://b.example/",
                true,
            ),
        ];
        for (why, attribute, metadata, given, expected) in cases {
            let rep = logout_client(*attribute, *metadata);
            assert_eq!(
                post_logout_allowed(&rep, given, BASE),
                *expected,
                "{why}: {given}"
            );
        }
    }
}
