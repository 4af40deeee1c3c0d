//! What a scenario starts from, made through the admin API as an operator would: realms,
//! users, clients and their secrets, `realm-management` roles, initial access tokens; and
//! the requests most scenarios send (a registration, a client credentials grant). Each
//! helper asserts that its step succeeded.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Resp, TestApp};

/// The component type of client registration policies.
pub const POLICY_TYPE: &str =
    "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";

/// A user representation: enabled, with a permanent password.
pub fn user(username: &str, password: &str) -> Value {
    json!({"username": username, "enabled": true,
        "credentials": [{"type": "password", "value": password, "temporary": false}]})
}

impl TestApp {
    /// Creates the enabled realm `name` as the master admin; returns the admin's token.
    pub async fn admin_with_realm(&self, name: &str) -> String {
        let admin = self.admin_token().await;
        self.create_realm(&admin, name).await;
        admin
    }

    /// Changes `realm` (a partial update: attributes, brute-force settings, …).
    pub async fn update_realm(&self, token: &str, realm: &str, rep: Value) {
        let r = self
            .put(&format!("/admin/realms/{realm}"), token, rep)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "update realm: {}", r.text);
    }

    /// Anonymous registration on and the registration policies off in `realm`.
    pub async fn open_to_anonymous_registration(&self, token: &str, realm: &str) {
        self.update_realm(
            token,
            realm,
            json!({"attributes": {"clientRegistrationAnonymousEnabled": "true", "clientRegistrationPoliciesEnabled": "false"}}),
        )
        .await;
    }

    /// Creates a user of `realm` (see [`user`]); returns its id.
    pub async fn create_user(&self, token: &str, realm: &str, rep: Value) -> String {
        let r = self
            .post(&format!("/admin/realms/{realm}/users"), token, rep)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create user: {}", r.text);
        r.location_id()
    }

    /// A user of `realm` with password `pw` holding the named `realm-management` roles;
    /// returns its access token (password grant on `admin-cli`).
    pub async fn user_token(
        &self,
        admin: &str,
        realm: &str,
        username: &str,
        roles: &[&str],
    ) -> String {
        let id = self.create_user(admin, realm, user(username, "pw")).await;
        self.grant_realm_management(admin, realm, &id, roles).await;
        self.password_token(realm, "admin-cli", username, "pw")
            .await
    }

    /// Creates a client of `realm`; returns its uuid.
    pub async fn create_client(&self, token: &str, realm: &str, rep: Value) -> String {
        let r = self
            .post(&format!("/admin/realms/{realm}/clients"), token, rep)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create client: {}", r.text);
        r.location_id()
    }

    /// A confidential client's secret, by uuid.
    pub async fn client_secret(&self, token: &str, realm: &str, uuid: &str) -> String {
        let r = self
            .get(
                &format!("/admin/realms/{realm}/clients/{uuid}/client-secret"),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "client secret: {}", r.text);
        r.body["value"].as_str().expect("secret").to_string()
    }

    /// How many clients `realm` has.
    pub async fn count_clients(&self, token: &str, realm: &str) -> usize {
        let r = self
            .get(&format!("/admin/realms/{realm}/clients"), token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body.as_array().expect("clients").len()
    }

    /// The admin API's view of `realm`'s client `client_id` (`Null` when there is none).
    pub async fn find_client(&self, token: &str, realm: &str, client_id: &str) -> Value {
        let r = self
            .get(
                &format!("/admin/realms/{realm}/clients?clientId={client_id}"),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body[0].clone()
    }

    /// The uuid of `realm`'s client `client_id`.
    pub async fn client_uuid(&self, token: &str, realm: &str, client_id: &str) -> String {
        let client = self.find_client(token, realm, client_id).await;
        client["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no client {client_id}: {client}"))
            .to_string()
    }

    /// The service-account user id of a client (by uuid).
    pub async fn service_account_id(&self, token: &str, realm: &str, uuid: &str) -> String {
        let r = self
            .get(
                &format!("/admin/realms/{realm}/clients/{uuid}/service-account-user"),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["id"].as_str().expect("id").to_string()
    }

    /// The `realm-management` client's uuid and its role representations, by name.
    pub async fn realm_management_roles(
        &self,
        token: &str,
        realm: &str,
        names: &[&str],
    ) -> (String, Vec<Value>) {
        let rm_id = self.client_uuid(token, realm, "realm-management").await;
        let mut roles = Vec::new();
        for name in names {
            let r = self
                .get(
                    &format!("/admin/realms/{realm}/clients/{rm_id}/roles/{name}"),
                    token,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            roles.push(r.body);
        }
        (rm_id, roles)
    }

    /// Maps the named `realm-management` roles to a user (nothing when `names` is empty).
    pub async fn grant_realm_management(
        &self,
        token: &str,
        realm: &str,
        user_id: &str,
        names: &[&str],
    ) {
        if names.is_empty() {
            return;
        }
        let (rm_id, roles) = self.realm_management_roles(token, realm, names).await;
        let r = self
            .post(
                &format!("/admin/realms/{realm}/users/{user_id}/role-mappings/clients/{rm_id}"),
                token,
                json!(roles),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }

    /// `realm`'s client registration policies (components of Keycloak's policy type).
    pub async fn registration_policies(&self, token: &str, realm: &str) -> Vec<Value> {
        let r = self
            .get(
                &format!("/admin/realms/{realm}/components?type={POLICY_TYPE}"),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body.as_array().expect("components").clone()
    }

    /// Replaces the config of `realm`'s registration policy `name` of set `sub_type`
    /// (`anonymous` or `authenticated`).
    pub async fn configure_policy(
        &self,
        token: &str,
        realm: &str,
        name: &str,
        sub_type: &str,
        config: Value,
    ) {
        let mut c = self
            .registration_policies(token, realm)
            .await
            .into_iter()
            .find(|c| c["name"] == name && c["subType"] == sub_type)
            .unwrap_or_else(|| panic!("no {sub_type} policy {name}"));
        c["config"] = config;
        let r = self
            .put(
                &format!(
                    "/admin/realms/{realm}/components/{}",
                    c["id"].as_str().expect("id")
                ),
                token,
                c,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }

    /// An initial access token of `realm` made from `rep` (e.g. `{"count": 1}`).
    pub async fn initial_access_token(&self, token: &str, realm: &str, rep: Value) -> String {
        let r = self
            .post(
                &format!("/admin/realms/{realm}/clients-initial-access"),
                token,
                rep,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "initial access: {}", r.text);
        r.body["token"].as_str().expect("token").to_string()
    }

    /// An RFC 7591 registration at `realm`'s `openid-connect` provider, with an optional
    /// bearer token (initial access or other).
    pub async fn register(&self, realm: &str, token: Option<&str>, body: Value) -> Resp {
        self.json(
            Method::POST,
            &format!("/realms/{realm}/clients-registrations/openid-connect"),
            token,
            Some(body),
        )
        .await
    }

    /// A client credentials grant at `realm`'s token endpoint, authenticated with Basic.
    pub async fn client_credentials(&self, realm: &str, client_id: &str, secret: &str) -> Resp {
        self.form(
            &format!("/realms/{realm}/protocol/openid-connect/token"),
            &[("grant_type", "client_credentials")],
            Some((client_id, secret)),
        )
        .await
    }

    /// A client credentials grant with the secret in the form (`client_secret_post`).
    pub async fn client_credentials_post(
        &self,
        realm: &str,
        client_id: &str,
        secret: &str,
    ) -> Resp {
        self.form(
            &format!("/realms/{realm}/protocol/openid-connect/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ],
            None,
        )
        .await
    }

    /// A client credentials grant authenticated by a JWT assertion (RFC 7523).
    pub async fn client_assertion_grant(&self, realm: &str, assertion: &str) -> Resp {
        self.form(
            &format!("/realms/{realm}/protocol/openid-connect/token"),
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ],
            None,
        )
        .await
    }

    /// Creates a client scope of `realm`; returns its id.
    pub async fn create_client_scope(&self, token: &str, realm: &str, rep: Value) -> String {
        let r = self
            .post(&format!("/admin/realms/{realm}/client-scopes"), token, rep)
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create client scope: {}",
            r.text
        );
        r.location_id()
    }

    /// The access token of a client credentials grant (see [`TestApp::client_credentials`]).
    pub async fn client_token(&self, realm: &str, client_id: &str, secret: &str) -> String {
        let r = self.client_credentials(realm, client_id, secret).await;
        assert_eq!(r.status, StatusCode::OK, "client credentials: {}", r.text);
        r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Stores `uris` as a client's redirect URIs behind the API's back (as a client stored
    /// before the client URI rule, or written by hand, would hold them).
    pub async fn smuggle_redirect_uris(&self, realm: &str, client_id: &str, uris: &[&str]) {
        use latchkey_core::store::{ClientBundle, Store, WriteGuard};
        let realm = self.store.realm_by_name(realm).await.unwrap().unwrap();
        let mut client = self
            .store
            .client_by_client_id(&realm.id, client_id)
            .await
            .unwrap()
            .unwrap();
        client.rep.redirect_uris = Some(uris.iter().map(|u| u.to_string()).collect());
        self.store
            .update_client(
                ClientBundle {
                    client,
                    service_account: None,
                },
                &WriteGuard::default(),
            )
            .await
            .unwrap();
    }
}
