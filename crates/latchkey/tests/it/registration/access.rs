//! Who may register: nobody (anonymous, create only, behind its switch), an initial access
//! token or a bearer token with the client roles (behind the authenticated switch).

use axum::http::{Method, StatusCode};

use super::{
    ANONYMOUS, AUTHENTICATED, POLICIES, Provider, assert_both_refuse, assert_error, count_clients,
    create, created, new_iat, remaining, set_switch,
};
use crate::support::TestApp;

/// Anonymous creation only while `clientRegistrationAnonymousEnabled` is on (off by default).
async fn anonymous_registration_follows_its_switch(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let realm = app.get("/admin/realms/acme", &admin).await.body;
    assert_eq!(realm["attributes"][ANONYMOUS], "false");
    assert_eq!(realm["attributes"][AUTHENTICATED], "true");
    assert_eq!(realm["attributes"][POLICIES], "true");

    let before = count_clients(app, &admin).await;
    assert_both_refuse(
        app,
        None,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some(ANONYMOUS),
    )
    .await;
    assert_eq!(count_clients(app, &admin).await, before);

    set_switch(app, &admin, "acme", ANONYMOUS, "true").await;
    // Keycloak's default anonymous policies trust no host: the switch alone still leaves
    // anonymous registration refused, by the Trusted Hosts policy.
    assert_both_refuse(
        app,
        None,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        Some("Policy 'Trusted Hosts' rejected request to client-registration service."),
    )
    .await;
    assert_eq!(count_clients(app, &admin).await, before);
    set_switch(app, &admin, "acme", POLICIES, "false").await;
    for p in Provider::ALL {
        let r = created(app, p, None, p.body("anon")).await;
        let id = p.client_id(&r);
        // Anonymous callers may create, nothing else.
        let read = app.get_public(&p.client_path("acme", &id)).await;
        assert_error(
            &read,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to view client"),
        );
        let del = app
            .json(Method::DELETE, &p.client_path("acme", &id), None, None)
            .await;
        assert_error(
            &del,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to update client"),
        );
        // Its registration access token reads it.
        let rat = p.rat(&r);
        let read = app.get(&p.client_path("acme", &id), &rat).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    }
    assert_eq!(count_clients(app, &admin).await, before + 2);
}

/// Bearer access tokens of the realm: `create-client` creates, `view-clients` reads,
/// `manage-clients` does everything; no role is 403; another realm's token is 401.
async fn bearer_tokens_need_realm_management_roles(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.create_realm(&admin, "other").await;
    let creator = app
        .user_token(&admin, "acme", "creator", &["create-client"])
        .await;
    let viewer = app
        .user_token(&admin, "acme", "viewer", &["view-clients"])
        .await;
    let manager = app
        .user_token(&admin, "acme", "manager", &["manage-clients"])
        .await;
    let nobody = app.user_token(&admin, "acme", "nobody", &[]).await;
    let foreign = app
        .user_token(&admin, "other", "foreign", &["manage-clients"])
        .await;
    // A service account holding only `create-client`, as the Keycloak guide recommends.
    let (ci_uuid, ci_secret) = app.create_service_client(&admin, "acme", "ci").await;
    let sa = app.service_account_id(&admin, "acme", &ci_uuid).await;
    app.grant_realm_management(&admin, "acme", &sa, &["create-client"])
        .await;
    let ci = app.client_token("acme", "ci", &ci_secret).await;

    for p in Provider::ALL {
        let c = created(app, p, Some(&creator), p.body("by-creator")).await;
        let id = p.client_id(&c);
        let rat = p.rat(&c);
        let path = p.client_path("acme", &id);
        created(app, p, Some(&ci), p.body("by-ci")).await;
        created(app, p, Some(&manager), p.body("by-manager")).await;

        let r = create(app, p, Some(&nobody), p.body("x")).await;
        assert_error(
            &r,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            Some("Forbidden"),
        );
        let r = create(app, p, Some(&viewer), p.body("x")).await;
        assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        let r = create(app, p, Some(&foreign), p.body("x")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);

        // create-client may create but not read.
        for (who, token) in [("creator", &creator), ("ci", &ci), ("nobody", &nobody)] {
            let r = app.get(&path, token).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} read: {}", r.text);
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        }
        let r = app.get(&path, &foreign).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.get(&path, &viewer).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "by-creator");
        assert_eq!(p.client_id(&r), id);
        assert_eq!(app.get(&path, &manager).await.status, StatusCode::OK);

        // Update and delete need manage-clients.
        for token in [&creator, &viewer, &nobody] {
            let r = app.put(&path, token, p.update_body(&id, "nope")).await;
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
            let r = app.delete(&path, token).await;
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        }
        let r = app.put(&path, &foreign, p.update_body(&id, "nope")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app
            .put(&path, &manager, p.update_body(&id, "renamed"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "renamed");
        // Every successful PUT rotates the registration access token.
        let new_rat = p.rat(&r);
        assert_ne!(new_rat, rat);
        assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&path, &new_rat).await.status, StatusCode::OK);
        assert_eq!(p.name(&app.get(&path, &viewer).await), "renamed");

        // A valid bearer token and an unknown client: 404.
        let missing = p.client_path("acme", "no-such-client");
        for token in [&viewer, &manager] {
            let r = app.get(&missing, token).await;
            assert_error(
                &r,
                StatusCode::NOT_FOUND,
                "invalid_request",
                Some("Client not found"),
            );
        }
        let r = app.delete(&missing, &manager).await;
        assert_error(&r, StatusCode::NOT_FOUND, "invalid_request", None);

        let r = app.delete(&path, &manager).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = app.get(&path, &viewer).await;
        assert_error(&r, StatusCode::NOT_FOUND, "invalid_request", None);
    }
}

/// With authenticated registration off, initial access and bearer tokens may not create,
/// but clients already registered keep their registration access tokens.
async fn authenticated_switch_off_blocks_creation_not_registration_tokens(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (iat_id, iat) = new_iat(app, &admin, 5, &[]).await;
    let creator = app
        .user_token(&admin, "acme", "creator", &["manage-clients"])
        .await;
    let mut registered = Vec::new();
    for p in Provider::ALL {
        let c = created(app, p, Some(&iat), p.body("before")).await;
        registered.push((p, p.client_id(&c), p.rat(&c)));
    }
    set_switch(app, &admin, "acme", AUTHENTICATED, "false").await;
    let before = count_clients(app, &admin).await;
    for token in [&iat, &creator] {
        assert_both_refuse(
            app,
            Some(token),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            Some(AUTHENTICATED),
        )
        .await;
    }
    // Anonymous registration is still governed by its own switch.
    assert_both_refuse(
        app,
        None,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some(ANONYMOUS),
    )
    .await;
    assert_eq!(count_clients(app, &admin).await, before);
    assert_eq!(
        remaining(app, &admin, &iat_id).await,
        Some(3),
        "refusals spend nothing"
    );

    for (p, id, rat) in registered {
        let path = p.client_path("acme", &id);
        let r = app.get(&path, &rat).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app.put(&path, &rat, p.update_body(&id, "still-mine")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "still-mine");
        let rat = p.rat(&r);
        let r = app.delete(&path, &rat).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
    assert_eq!(count_clients(app, &admin).await, before - 2);
}

crate::on_both_backends!(
    anonymous_registration_follows_its_switch,
    bearer_tokens_need_realm_management_roles,
    authenticated_switch_off_blocks_creation_not_registration_tokens,
);
