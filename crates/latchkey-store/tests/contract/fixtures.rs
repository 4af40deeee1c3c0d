//! What the contract tests build their records from.

use latchkey_core::clients::{ScopeDefaults, new_client};
use latchkey_core::crypto::{SecretBox, new_uuid};
use latchkey_core::realm_setup::new_realm;
use latchkey_core::rep::{RealmRep, UserRep};
use latchkey_core::store::*;

use latchkey_store::SqlStore;

pub fn sealer() -> SecretBox {
    SecretBox::new(&[3u8; 32]).unwrap()
}

pub fn bundle(name: &str) -> RealmBundle {
    new_realm(
        RealmRep {
            realm: Some(name.into()),
            ..Default::default()
        },
        &sealer(),
        None,
        1000,
    )
    .unwrap()
}

pub fn user(realm_id: &str, username: &str, email: Option<&str>) -> UserRecord {
    let id = new_uuid();
    UserRecord {
        id: id.clone(),
        realm_id: realm_id.into(),
        username: username.into(),
        email: email.map(str::to_string),
        rep: UserRep {
            id: Some(id),
            username: Some(username.into()),
            first_name: Some(format!("{username}-first")),
            ..Default::default()
        },
        password_hash: None,
        service_account_client: None,
        created_at: 0,
    }
}

/// Creates realm `name` with its defaults and reads it back.
pub async fn created_realm(s: &SqlStore, name: &str) -> RealmRecord {
    s.create_realm(bundle(name)).await.unwrap();
    s.realm_by_name(name).await.unwrap().unwrap()
}

/// A new client of the realm, with a service account holding `role` if one is given.
pub fn client_bundle(realm_id: &str, client_id: &str, role: Option<&str>) -> ClientBundle {
    let rep = latchkey_core::rep::ClientRep {
        client_id: Some(client_id.into()),
        ..Default::default()
    };
    let client = new_client(realm_id, rep, &ScopeDefaults::default(), &sealer(), 0)
        .unwrap()
        .record;
    let service_account = role.map(|role| {
        let account = latchkey_core::clients::service_account_user(&client, 0);
        (account, vec![role.to_string()])
    });
    ClientBundle {
        client,
        service_account,
    }
}

pub async fn offline_access_role(s: &SqlStore, realm_id: &str) -> String {
    s.all_roles(realm_id)
        .await
        .unwrap()
        .iter()
        .find(|role| role.name == "offline_access")
        .map(|role| role.id.clone())
        .unwrap()
}

/// An initial access token of the realm, good for `count` uses, never expiring.
pub fn initial_access(realm_id: &str, token_hash: &str, count: i64) -> InitialAccessRecord {
    InitialAccessRecord {
        id: new_uuid(),
        realm_id: realm_id.into(),
        token_hash: token_hash.into(),
        created_at: 0,
        expiration: 0,
        count,
        remaining: count,
        web_origins: vec![],
    }
}

/// A `CLIENT_REGISTER` event of the realm for `client_id`.
pub fn register_event(realm_id: &str, id: &str, client_id: &str) -> EventRecord {
    EventRecord {
        id: id.into(),
        realm_id: realm_id.into(),
        time: 1,
        kind: "CLIENT_REGISTER".into(),
        client_id: Some(client_id.into()),
        user_id: None,
        ip_address: None,
        error: None,
        details: Default::default(),
    }
}

/// The realm's first `max` events.
pub async fn events(s: &SqlStore, realm_id: &str, max: i64) -> Vec<EventRecord> {
    s.list_events(
        realm_id,
        &EventQuery {
            window: EventWindow {
                max,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// A refresh token of session `s`, for client `c` and user `u`, granted no resources.
pub fn refresh_token(realm_id: &str, hash: &str, expires_at: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: hash.into(),
        realm_id: realm_id.into(),
        client_uuid: "c".into(),
        user_id: "u".into(),
        scope: "openid".into(),
        session_id: "s".into(),
        auth_time: 0,
        expires_at,
        resources: Vec::new(),
    }
}
