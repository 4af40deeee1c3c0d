//! Registration with the device grant: as in Keycloak's DCR, the grant becomes the client's
//! `oauth2.device.authorization.grant.enabled` attribute and comes back in `grant_types`;
//! a client registered with it (and nothing else) runs the flow; an update without it
//! turns it off.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

crate::on_both_backends!(a_registered_device_client_gets_the_switch_and_runs_the_flow);

async fn a_registered_device_client_gets_the_switch_and_runs_the_flow(app: &TestApp) {
    let admin = realm(app).await;
    let iat = app
        .initial_access_token(&admin, REALM, json!({"count": 2}))
        .await;
    let r = app
        .register(
            REALM,
            Some(&iat),
            json!({"client_name": "TV app", "grant_types": [GRANT, "refresh_token"],
                "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["grant_types"],
        json!(["refresh_token", GRANT]),
        "{}",
        r.text
    );
    assert!(
        r.body["response_types"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "no code grant, no response type: {}",
        r.text
    );
    let client_id = r.body["client_id"].as_str().unwrap().to_string();
    let rep = app.find_client(&admin, REALM, &client_id).await;
    assert_eq!(rep["attributes"][ENABLED], "true", "{rep}");
    assert_eq!(rep["standardFlowEnabled"], false, "{rep}");

    let (device_code, code) = codes(&authorize(app, &client_id, &[]).await);
    answer(app, &mut Browser::default(), &code, "accept").await;
    let claims = access_claims(app, &poll(app, &client_id, &device_code).await).await;
    assert_eq!(claims["azp"], client_id.as_str());

    // An update that leaves the grant out turns the switch off.
    let rat = r.body["registration_access_token"].as_str().unwrap();
    let uri = format!("/realms/dev/clients-registrations/openid-connect/{client_id}");
    let put = app
        .put(
            &uri,
            rat,
            json!({"client_id": client_id, "client_name": "TV app",
                "grant_types": ["authorization_code"], "redirect_uris": ["https://tv.example/cb"],
                "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(
        put.body["grant_types"],
        json!(["authorization_code"]),
        "{}",
        put.text
    );
    let refused = authorize(app, &client_id, &[]).await;
    assert_eq!(
        error_of(&refused),
        "unauthorized_client",
        "{}",
        refused.text
    );
}
