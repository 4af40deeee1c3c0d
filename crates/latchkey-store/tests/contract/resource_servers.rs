//! Resource servers (RFC 8707): unique URI per realm, read through the cache, gone with
//! their realm; and the resources a refresh token keeps.

use latchkey_core::crypto::new_uuid;
use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

fn server(realm_id: &str, uri: &str, scopes: &[&str]) -> ResourceServerRecord {
    ResourceServerRecord {
        id: new_uuid(),
        realm_id: realm_id.into(),
        uri: uri.into(),
        name: format!("name of {uri}"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

async fn resource_servers_are_unique_per_realm_and_cached(app: &TestStore) {
    let s = app.store.as_ref();
    let a = created_realm(s, "a").await;
    let b = created_realm(s, "b").await;
    let mcp = server(&a.id, "https://mcp.example/mcp", &["mcp"]);
    s.create_resource_server(&mcp).await.unwrap();
    // Read once into the cache: every write below must show at the next read.
    assert_eq!(
        s.list_resource_servers(&a.id).await.unwrap().as_slice(),
        std::slice::from_ref(&mcp)
    );
    assert!(matches!(
        s.create_resource_server(&server(&a.id, &mcp.uri, &[]))
            .await,
        Err(StoreError::Conflict {
            what: "resource server uri"
        })
    ));
    s.create_resource_server(&server(&b.id, &mcp.uri, &[]))
        .await
        .expect("the same URI in another realm");
    let api = server(&a.id, "https://api.example", &[]);
    s.create_resource_server(&api).await.unwrap();
    let uris = |l: &[ResourceServerRecord]| l.iter().map(|r| r.uri.clone()).collect::<Vec<_>>();
    assert_eq!(
        uris(&s.list_resource_servers(&a.id).await.unwrap()),
        ["https://api.example", "https://mcp.example/mcp"],
        "listed by URI"
    );

    let mut renamed = mcp.clone();
    renamed.name = "MCP".into();
    renamed.scopes = vec!["mcp".into(), "other".into()];
    s.update_resource_server(&renamed).await.unwrap();
    let listed = s.list_resource_servers(&a.id).await.unwrap();
    assert_eq!(listed.iter().find(|r| r.id == mcp.id), Some(&renamed));
    let mut clash = api.clone();
    clash.uri = mcp.uri.clone();
    assert!(matches!(
        s.update_resource_server(&clash).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut elsewhere = renamed.clone();
    elsewhere.realm_id = b.id.clone();
    assert!(
        matches!(
            s.update_resource_server(&elsewhere).await,
            Err(StoreError::NotFound)
        ),
        "another realm's id is not found"
    );
    let long = server(
        &a.id,
        &format!("https://a.example/{}", "x".repeat(300)),
        &[],
    );
    assert!(matches!(
        s.create_resource_server(&long).await,
        Err(StoreError::Invalid(_))
    ));

    s.delete_resource_server(&a.id, &mcp.id).await.unwrap();
    assert_eq!(
        uris(&s.list_resource_servers(&a.id).await.unwrap()),
        ["https://api.example"]
    );
    assert!(matches!(
        s.delete_resource_server(&a.id, &mcp.id).await,
        Err(StoreError::NotFound)
    ));
    s.delete_realm(&b.id).await.unwrap();
    assert!(
        s.list_resource_servers(&b.id).await.unwrap().is_empty(),
        "gone with the realm"
    );
    assert_eq!(s.list_resource_servers(&a.id).await.unwrap().len(), 1);
}

async fn refresh_tokens_keep_their_resources(app: &TestStore) {
    let s = app.store.as_ref();
    let rec = |hash: &str, resources: &[&str]| RefreshTokenRecord {
        resources: resources.iter().map(|s| s.to_string()).collect(),
        ..refresh_token("r", hash, 10_000)
    };
    let two = ["https://a.example/mcp", "https://b.example"];
    s.insert_refresh_token(&rec("two", &two)).await.unwrap();
    s.insert_refresh_token(&rec("none", &[])).await.unwrap();
    assert_eq!(
        s.refresh_token("two").await.unwrap().unwrap().resources,
        two
    );
    assert!(
        s.refresh_token("none")
            .await
            .unwrap()
            .unwrap()
            .resources
            .is_empty()
    );
}

crate::on_both_backends!(
    resource_servers_are_unique_per_realm_and_cached,
    refresh_tokens_keep_their_resources,
);
