//! `GET /admin/realms/{realm}/keys`: the realm's signing keys in Keycloak's
//! `KeysMetadataRepresentation` shape, the key signing for each algorithm under `active`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::keys::spki_base64;
use latchkey_core::roles::Right;
use serde_json::{Map, Value, json};

use crate::error::AdminError;
use crate::service::AdminAuth;
use crate::state::SharedState;

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let keys = state
        .realm_keys(&admin.realm)
        .await
        .map_err(AdminError::internal)?;
    let active: Map<String, Value> = keys
        .signing
        .iter()
        .map(|(alg, key)| (alg.to_string(), json!(key.kid)))
        .collect();
    let listed: Vec<Value> = keys
        .entries
        .iter()
        .map(|k| {
            let text = |name: &str| k.jwk.get(name).and_then(Value::as_str).unwrap_or_default();
            let alg = k.settings.alg.as_str();
            // Keycloak's `providerId` is the provider component's id.
            let (provider_id, _) = k.provider.clone().unwrap_or_default();
            json!({
                "providerId": provider_id,
                "providerPriority": k.settings.priority,
                "kid": k.kid,
                "status": k.settings.status(),
                "type": text("kty"),
                "algorithm": alg,
                "publicKey": spki_base64(&k.jwk),
                "use": "SIG",
            })
        })
        .collect();
    Ok(Json(json!({"active": active, "keys": listed})).into_response())
}
