//! The read cache's unit tests: fills, invalidation by section and realm, the bound.
use super::*;
use latchkey_core::rep::RealmRep;

fn realm(name: &str) -> RealmRecord {
    RealmRecord {
        id: format!("id-{name}"),
        name: name.into(),
        rep: RealmRep::default(),
    }
}

#[test]
fn a_read_older_than_an_invalidation_does_not_fill() {
    let c = Cache::new(true, 100);
    let g = c.generation();
    c.invalidate(&Section::Clients("r".into()));
    let key = Key::Client("r", "u");
    c.fill(g, &key, Value::Client(client("r", "u", "app")));
    assert!(c.get(&key).is_none());
    // A read of what the invalidation did not touch still fills.
    c.fill(
        g,
        &Key::Client("r2", "u"),
        Value::Client(client("r2", "u", "app")),
    );
    assert!(c.get(&Key::Client("r2", "u")).is_some());
    let g = c.generation();
    c.fill(g, &key, Value::Client(client("r", "u", "app")));
    assert!(c.get(&key).is_some());
    // Everything: no read from before fills anything.
    c.invalidate(&Section::All);
    c.fill(g, &Key::Realm("a"), Value::Realm(realm("a")));
    assert!(c.get(&Key::Realm("a")).is_none());
    c.fill(c.generation(), &Key::Realm("a"), Value::Realm(realm("a")));
    assert!(c.get(&Key::Realm("a")).is_some());
}

#[test]
fn invalidation_is_by_section_and_realm() {
    let c = Cache::new(true, 100);
    let g = c.generation();
    c.fill(g, &Key::Scopes("r1"), Value::Scopes(Default::default()));
    c.fill(g, &Key::Scopes("r2"), Value::Scopes(Default::default()));
    c.fill(
        g,
        &Key::Components("r1"),
        Value::Components(Default::default()),
    );
    c.invalidate(&Section::Scopes("r1".into()));
    assert!(c.get(&Key::Scopes("r1")).is_none());
    assert!(c.get(&Key::Scopes("r2")).is_some());
    assert!(c.get(&Key::Components("r1")).is_some());
    c.invalidate(&Section::All);
    assert!(c.get(&Key::Components("r1")).is_none());
}

#[test]
fn a_disabled_cache_neither_answers_nor_fills() {
    let c = Cache::new(false, 100);
    c.fill(c.generation(), &Key::Realm("a"), Value::Realm(realm("a")));
    assert!(c.get(&Key::Realm("a")).is_none());
    c.set_enabled(true);
    c.fill(c.generation(), &Key::Realm("a"), Value::Realm(realm("a")));
    assert!(c.get(&Key::Realm("a")).is_some());
}

#[test]
fn sections_survive_the_wire() {
    for s in [
        Section::All,
        Section::Clients("x".into()),
        Section::Client("x y".into(), "z".into()),
        Section::Users("x".into()),
        Section::Roles("x".into()),
        Section::Scopes("x".into()),
        Section::Components("x".into()),
        Section::ResourceServers("x".into()),
    ] {
        assert_eq!(Section::decode(&s.encode()), s);
    }
    assert_eq!(Section::decode("garbage"), Section::All);
}

fn client(realm: &str, id: &str, client_id: &str) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        realm_id: realm.into(),
        client_id: client_id.into(),
        rep: Default::default(),
        secret_sealed: None,
        rat_hash: None,
        created_at: 0,
        previous_secret: None,
        last_used: None,
    }
}

fn cached_client(c: &Cache, key: &Key<'_>) -> Option<ClientRecord> {
    c.get(key).and_then(ClientRecord::unwrap)
}

#[test]
fn rows_never_exceed_the_capacity() {
    let c = Cache::new(true, 50);
    for i in 0..1000 {
        let id = format!("id-{i}");
        let client_id = format!("c-{i}");
        c.fill(
            c.generation(),
            &Key::ClientByClientId("r", &client_id),
            Value::Client(client("r", &id, &client_id)),
        );
        assert!(c.rows().0 <= 50, "{} rows after {i}", c.rows().0);
        let hit = cached_client(&c, &Key::ClientByClientId("r", &client_id)).unwrap();
        assert_eq!(hit.id, id);
    }
}

#[test]
fn a_client_is_found_by_client_id_and_by_id_from_one_read() {
    let c = Cache::new(true, 100);
    c.fill(
        c.generation(),
        &Key::ClientByClientId("r", "app"),
        Value::Client(client("r", "u1", "app")),
    );
    assert_eq!(
        cached_client(&c, &Key::Client("r", "u1"))
            .unwrap()
            .client_id,
        "app"
    );
    assert!(cached_client(&c, &Key::ClientByClientId("r2", "app")).is_none());
    assert!(cached_client(&c, &Key::Client("r2", "u1")).is_none());
}

#[test]
fn one_client_s_invalidation_keeps_the_others() {
    let c = Cache::new(true, 100);
    let g = c.generation();
    c.fill(
        g,
        &Key::ClientByClientId("r", "a"),
        Value::Client(client("r", "ua", "a")),
    );
    c.fill(
        g,
        &Key::ClientByClientId("r", "b"),
        Value::Client(client("r", "ub", "b")),
    );
    c.invalidate(&Section::Client("r".into(), "ua".into()));
    assert!(cached_client(&c, &Key::ClientByClientId("r", "a")).is_none());
    assert!(cached_client(&c, &Key::Client("r", "ua")).is_none());
    assert!(cached_client(&c, &Key::ClientByClientId("r", "b")).is_some());
    // A read of the realm's clients that began before it fills nothing.
    c.fill(
        g,
        &Key::ClientByClientId("r", "a"),
        Value::Client(client("r", "ua", "a")),
    );
    assert!(cached_client(&c, &Key::ClientByClientId("r", "a")).is_none());
    // The realm's clients section drops them all, in this realm only.
    let g = c.generation();
    c.fill(
        g,
        &Key::ClientByClientId("r2", "a"),
        Value::Client(client("r2", "ua", "a")),
    );
    c.invalidate(&Section::Clients("r".into()));
    assert!(cached_client(&c, &Key::ClientByClientId("r", "b")).is_none());
    assert!(cached_client(&c, &Key::ClientByClientId("r2", "a")).is_some());
    // A user's row in the same realm is not a client's.
    c.fill(
        c.generation(),
        &Key::ServiceAccount("r", "ub"),
        Value::User(UserRecord {
            id: "sa".into(),
            realm_id: "r".into(),
            username: "service-account-b".into(),
            email: None,
            rep: Default::default(),
            password_hash: None,
            service_account_client: Some("ub".into()),
            created_at: 0,
        }),
    );
    c.invalidate(&Section::Users("r".into()));
    assert!(c.get(&Key::ServiceAccount("r", "ub")).is_none());
}
