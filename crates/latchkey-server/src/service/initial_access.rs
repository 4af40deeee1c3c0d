//! A realm's initial access tokens (Keycloak's `ClientInitialAccessResource`). The token
//! is opaque, shown once, stored as a hash.

use axum::http::StatusCode;
use latchkey_core::crypto::{hash_token, new_uuid, random_token};
use latchkey_core::store::InitialAccessRecord;
use serde::{Deserialize, Serialize};

use super::RealmAdmin;
use super::audit::{self, Change, Resource};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// `ClientInitialAccessCreatePresentation`: seconds until it expires (0: never), how many
/// registrations it allows (default 1), the web origins it may be used from. The numbers
/// are Java `Integer`s there, 32 bits here too: a larger one does not parse (400), where
/// it would overflow the token's expiry time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInitialAccess {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_origins: Option<Vec<String>>,
}

fn path(id: &str) -> String {
    format!("clients-initial-access/{id}")
}

/// Issues a token; returns it as stored and the token itself (shown only now).
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    input: CreateInitialAccess,
) -> Result<(InitialAccessRecord, String), AdminError> {
    let sent = audit::sent(&admin.realm, &input);
    let expiration = i64::from(input.expiration.unwrap_or(0));
    let count = i64::from(input.count.unwrap_or(1));
    let invalid = |error, description: &str| {
        AdminError::Described(StatusCode::BAD_REQUEST, error, description.into())
    };
    if expiration < 0 {
        return Err(invalid(
            "Invalid value for expiration",
            "The expiration time interval cannot be less than 0",
        ));
    }
    if count < 0 {
        return Err(invalid(
            "Invalid value for count",
            "The count cannot be less than 0",
        ));
    }
    let token = random_token::<32>();
    let record = InitialAccessRecord {
        id: new_uuid(),
        realm_id: admin.realm.id.clone(),
        token_hash: hash_token(&token),
        created_at: now_millis() / 1000,
        expiration,
        count,
        remaining: count,
        web_origins: input.web_origins.unwrap_or_default(),
    };
    state.store.create_initial_access(&record).await?;
    audit::record(
        state,
        admin,
        Change::create(Resource::ClientInitialAccessModel, path(&record.id)).with(sent),
    )
    .await;
    Ok((record, token))
}

/// The live tokens: a used-up one stays listed (no registrations left) until it expires or
/// is deleted.
pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
) -> Result<Vec<InitialAccessRecord>, AdminError> {
    let now = now_millis() / 1000;
    let tokens = state.store.list_initial_access(&admin.realm.id).await?;
    Ok(tokens.into_iter().filter(|t| !t.expired(now)).collect())
}

pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    state
        .store
        .delete_initial_access(&admin.realm.id, id)
        .await?;
    audit::record(
        state,
        admin,
        Change::delete(Resource::ClientInitialAccessModel, path(id)),
    )
    .await;
    Ok(())
}
