//! Resource indicators (RFC 8707) at the authorization and token endpoints: which
//! resources a request may name (on the realm's list, admitted to the client), and what a
//! code or refresh token lets a token request ask for (what it was issued for, or less).

use latchkey_core::resource::{admits, check_indicator};
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::{Value, json};

use crate::error::{OAuthCode, OAuthError};
use crate::state::SharedState;

/// The resources of one token: what its grant (a code, a refresh token) was issued for,
/// and the access token's audience, never wider.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Kept by the refresh token, so a later refresh may ask for any of them again.
    pub granted: Vec<String>,
    /// The access token's `aud`.
    pub audience: Vec<String>,
}

impl Resources {
    /// Both the same: a grant that takes its resources from the request itself.
    fn whole(list: Vec<String>) -> Resources {
        Resources {
            granted: list.clone(),
            audience: list,
        }
    }

    /// The access token's `aud` claim (see [`aud`]).
    pub fn aud(&self) -> Option<Value> {
        aud(&self.audience)
    }
}

/// The `aud` claim of a token for `resources` (RFC 7519 §4.1.3: a string for one, an
/// array for several); `None` when no resource was asked for, and the audience is what it
/// is without one.
pub fn aud(resources: &[String]) -> Option<Value> {
    match resources {
        [] => None,
        [one] => Some(json!(one)),
        many => Some(json!(many)),
    }
}

fn invalid_target(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthCode::InvalidTarget, description)
}

/// The requested resources, checked (RFC 8707 §2): each an absolute URI without a
/// fragment, on the realm's list of resource servers and admitted to the client; in the
/// order given, each once. Anything else is `invalid_target`.
pub async fn check(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    requested: &[String],
) -> Result<Vec<String>, OAuthError> {
    let mut accepted: Vec<String> = Vec::new();
    if requested.is_empty() {
        return Ok(accepted);
    }
    let servers = state.store.list_resource_servers(&realm.id).await?;
    for r in requested {
        check_indicator(r).map_err(invalid_target)?;
        let server = servers
            .iter()
            .find(|s| &s.uri == r)
            .ok_or_else(|| invalid_target(format!("unknown resource: {r}")))?;
        if !admits(server, &client.rep) {
            return Err(invalid_target(format!(
                "resource not allowed for this client: {r}"
            )));
        }
        if !accepted.contains(r) {
            accepted.push(r.clone());
        }
    }
    Ok(accepted)
}

/// A grant that names its resources in the token request itself (client credentials,
/// password).
pub async fn requested(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    requested: &[String],
) -> Result<Resources, OAuthError> {
    Ok(Resources::whole(
        check(state, realm, client, requested).await?,
    ))
}

/// A grant issued for `granted` (a code, a refresh token): the token request may narrow
/// the resources, never widen them (RFC 8707 §2.2); without `resource` it gets them all.
/// The audience is checked against the realm's list again, so a resource server removed
/// since is refused.
pub async fn narrowed(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    granted: &[String],
    requested: &[String],
) -> Result<Resources, OAuthError> {
    if let Some(extra) = requested.iter().find(|r| !granted.contains(r)) {
        check_indicator(extra).map_err(invalid_target)?;
        return Err(invalid_target(format!(
            "resource not granted to this grant: {extra}"
        )));
    }
    let audience = if requested.is_empty() {
        granted
    } else {
        requested
    };
    Ok(Resources {
        audience: check(state, realm, client, audience).await?,
        granted: granted.to_vec(),
    })
}

/// The resources stored with a pending request or a code (a JSON array; absent: none).
pub fn stored(data: &Value) -> Vec<String> {
    data.get("resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
