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

/// Keycloak's priority for the generated key providers a new realm starts with.
const GENERATED_PRIORITY: i64 = 100;

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
        .jwks
        .iter()
        .map(|jwk| {
            let text = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
            let signing = keys
                .signer(text("alg"))
                .is_some_and(|k| k.kid == text("kid"));
            let provider = if text("kty") == "EC" {
                "ecdsa-generated"
            } else {
                "rsa-generated"
            };
            json!({
                "providerId": provider,
                "providerPriority": GENERATED_PRIORITY,
                "kid": text("kid"),
                "status": if signing { "ACTIVE" } else { "PASSIVE" },
                "type": text("kty"),
                "algorithm": text("alg"),
                "publicKey": spki_base64(jwk),
                "use": "SIG",
            })
        })
        .collect();
    Ok(Json(json!({"active": active, "keys": listed})).into_response())
}
