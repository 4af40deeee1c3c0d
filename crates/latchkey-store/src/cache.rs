//! The hot reads, kept in memory: realms by name, clients, service-account users, a
//! realm's scopes, default scopes, roles, registration policies and resource servers, users'
//! role mappings,
//! initial access tokens by hash.
//! A token request then costs no query at all.
//!
//! Coherence:
//! - Every write through the store invalidates the sections it touched after it commits
//!   (`SqlStore::write`). A read that started before an invalidation never fills the
//!   cache (the generation check in `fill`), so a slow reader cannot put back a value a
//!   writer has just replaced.
//! - Several nodes on one PostgreSQL: the writer also publishes the change
//!   (`NOTIFY latchkey_cache`) and every node listens; a node whose listener is not
//!   connected does not use the cache at all (and forgets it when the listener comes
//!   back, since notifications sent meanwhile are lost).
//! - Absent rows are never cached (a realm or client created on another node is seen at
//!   once), and every entry expires after `TTL` as a last resort against a notification
//!   lost to a crash between commit and `NOTIFY`.
//!
//! SQLite is served by one process (its file is not shared between nodes), so local
//! invalidation is the whole story there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latchkey_core::store::{
    ClientRecord, ComponentRecord, InitialAccessRecord, RealmRecord, ResourceServerRecord,
    RoleRecord, ScopeRecord, Shared, UserRecord,
};

/// How long an entry is trusted without an invalidation.
pub const TTL: Duration = Duration::from_secs(30);
/// Entries per map; a full map is emptied (a scan of many clients must not grow memory
/// without bound, and the hot set refills in a few requests).
const MAX_ENTRIES: usize = 10_000;

/// What a write touched, by realm. The wire form (`Section::encode`) travels in
/// PostgreSQL notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    /// the realm row itself, or everything (realm creation, rename, deletion)
    All,
    Clients(String),
    Users(String),
    Roles(String),
    Scopes(String),
    Components(String),
    ResourceServers(String),
    /// initial access tokens (their remaining counts are not kept current: see
    /// `Key::InitialAccess`)
    InitialAccess(String),
}

impl Section {
    pub fn encode(&self) -> String {
        match self {
            Section::All => "all".into(),
            Section::Clients(r) => format!("clients {r}"),
            Section::Users(r) => format!("users {r}"),
            Section::Roles(r) => format!("roles {r}"),
            Section::Scopes(r) => format!("scopes {r}"),
            Section::Components(r) => format!("components {r}"),
            Section::ResourceServers(r) => format!("resource-servers {r}"),
            Section::InitialAccess(r) => format!("initial-access {r}"),
        }
    }

    /// Anything unreadable means "everything".
    pub fn decode(s: &str) -> Section {
        let (kind, realm) = s.split_once(' ').unwrap_or((s, ""));
        let realm = realm.to_string();
        match kind {
            "clients" => Section::Clients(realm),
            "users" => Section::Users(realm),
            "roles" => Section::Roles(realm),
            "scopes" => Section::Scopes(realm),
            "components" => Section::Components(realm),
            "resource-servers" => Section::ResourceServers(realm),
            "initial-access" => Section::InitialAccess(realm),
            _ => Section::All,
        }
    }
}

struct Timed<T> {
    at: Instant,
    value: T,
}

impl<T: Clone> Timed<T> {
    fn fresh(&self) -> Option<T> {
        (self.at.elapsed() < TTL).then(|| self.value.clone())
    }
}

#[derive(Default)]
struct RealmEntries {
    clients_by_client_id: HashMap<String, Timed<ClientRecord>>,
    clients: HashMap<String, Timed<ClientRecord>>,
    service_accounts: HashMap<String, Timed<UserRecord>>,
    users: HashMap<String, Timed<UserRecord>>,
    scopes: Option<Timed<Shared<ScopeRecord>>>,
    default_scopes: Option<Timed<Shared<(String, bool)>>>,
    roles: Option<Timed<Shared<RoleRecord>>>,
    components: Option<Timed<Shared<ComponentRecord>>>,
    resource_servers: Option<Timed<Shared<ResourceServerRecord>>>,
}

#[derive(Default)]
struct Entries {
    realms: HashMap<String, Timed<RealmRecord>>,
    per_realm: HashMap<String, RealmEntries>,
    /// user id → role ids (user ids are unique across realms)
    user_roles: HashMap<String, Timed<Shared<String>>>,
    /// token hash → initial access token (hashes are unique across realms)
    initial_access: HashMap<String, Timed<InitialAccessRecord>>,
}

pub struct Cache {
    enabled: AtomicBool,
    generation: AtomicU64,
    entries: Mutex<Entries>,
}

/// A cached read: the key it is under.
pub enum Key<'a> {
    Realm(&'a str),
    ClientByClientId(&'a str, &'a str),
    Client(&'a str, &'a str),
    ServiceAccount(&'a str, &'a str),
    User(&'a str, &'a str),
    Scopes(&'a str),
    DefaultScopes(&'a str),
    Roles(&'a str),
    Components(&'a str),
    ResourceServers(&'a str),
    UserRoles(&'a str),
    /// An initial access token by hash. Its `remaining` is as read, not kept current:
    /// spending a use does not invalidate it, since the count that decides is the one
    /// the creating transaction decrements under a lock. A refusal for a used-up token
    /// invalidates, so the next attempt is refused before reaching the writer.
    InitialAccess(&'a str),
}

/// A kind of value the cache holds, typed: a read hands its own type in (`wrap`) and
/// gets its own type back (`unwrap`), never another kind's.
pub trait Cached: Clone {
    fn wrap(self) -> Value;
    /// `None` for another kind's value.
    fn unwrap(value: Value) -> Option<Self>;
}

/// `Value`, one variant per cached kind, and `Cached` for each kind's type.
macro_rules! cached_kinds {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        /// A value of one of the cached kinds.
        pub enum Value {
            $($variant($kind)),*
        }

        $(impl Cached for $kind {
            fn wrap(self) -> Value {
                Value::$variant(self)
            }

            fn unwrap(value: Value) -> Option<Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
        })*
    };
}

cached_kinds! {
    Realm(RealmRecord),
    Client(ClientRecord),
    User(UserRecord),
    Scopes(Shared<ScopeRecord>),
    DefaultScopes(Shared<(String, bool)>),
    Roles(Shared<RoleRecord>),
    Components(Shared<ComponentRecord>),
    ResourceServers(Shared<ResourceServerRecord>),
    UserRoles(Shared<String>),
    InitialAccess(InitialAccessRecord),
}

fn put_bounded<T>(map: &mut HashMap<String, Timed<T>>, key: &str, value: T) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(
        key.to_string(),
        Timed {
            at: Instant::now(),
            value,
        },
    );
}

fn realm_entries<'a>(e: &'a mut Entries, id: &str) -> &'a mut RealmEntries {
    if e.per_realm.len() >= MAX_ENTRIES && !e.per_realm.contains_key(id) {
        e.per_realm.clear();
    }
    e.per_realm.entry(id.to_string()).or_default()
}

fn timed<T>(value: T) -> Option<Timed<T>> {
    Some(Timed {
        at: Instant::now(),
        value,
    })
}

impl Cache {
    pub fn new(enabled: bool) -> Cache {
        Cache {
            enabled: AtomicBool::new(enabled),
            generation: AtomicU64::new(0),
            entries: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation to hand to `fill` after reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &Key<'_>) -> Option<Value> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let e = self.lock();
        let realm = |id: &str| e.per_realm.get(id);
        match *key {
            Key::Realm(name) => e.realms.get(name)?.fresh().map(Value::Realm),
            Key::ClientByClientId(r, id) => realm(r)?
                .clients_by_client_id
                .get(id)?
                .fresh()
                .map(Value::Client),
            Key::Client(r, id) => realm(r)?.clients.get(id)?.fresh().map(Value::Client),
            Key::ServiceAccount(r, id) => {
                realm(r)?.service_accounts.get(id)?.fresh().map(Value::User)
            }
            Key::User(r, id) => realm(r)?.users.get(id)?.fresh().map(Value::User),
            Key::Scopes(r) => realm(r)?.scopes.as_ref()?.fresh().map(Value::Scopes),
            Key::DefaultScopes(r) => realm(r)?
                .default_scopes
                .as_ref()?
                .fresh()
                .map(Value::DefaultScopes),
            Key::Roles(r) => realm(r)?.roles.as_ref()?.fresh().map(Value::Roles),
            Key::Components(r) => realm(r)?
                .components
                .as_ref()?
                .fresh()
                .map(Value::Components),
            Key::ResourceServers(r) => realm(r)?
                .resource_servers
                .as_ref()?
                .fresh()
                .map(Value::ResourceServers),
            Key::UserRoles(u) => e.user_roles.get(u)?.fresh().map(Value::UserRoles),
            Key::InitialAccess(h) => e.initial_access.get(h)?.fresh().map(Value::InitialAccess),
        }
    }

    /// Stores what a read found, unless an invalidation happened since `generation` was
    /// taken (the value may then be older than the write that invalidated).
    pub fn fill(&self, generation: u64, key: &Key<'_>, value: Value) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut e = self.lock();
        // Checked under the lock: invalidations bump the generation under it too.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        match (key, value) {
            (Key::Realm(name), Value::Realm(v)) => put_bounded(&mut e.realms, name, v),
            (Key::UserRoles(u), Value::UserRoles(v)) => put_bounded(&mut e.user_roles, u, v),
            (Key::InitialAccess(h), Value::InitialAccess(v)) => {
                put_bounded(&mut e.initial_access, h, v)
            }
            (Key::ClientByClientId(r, id), Value::Client(v)) => {
                put_bounded(&mut realm_entries(&mut e, r).clients_by_client_id, id, v)
            }
            (Key::Client(r, id), Value::Client(v)) => {
                put_bounded(&mut realm_entries(&mut e, r).clients, id, v)
            }
            (Key::ServiceAccount(r, id), Value::User(v)) => {
                put_bounded(&mut realm_entries(&mut e, r).service_accounts, id, v)
            }
            (Key::User(r, id), Value::User(v)) => {
                put_bounded(&mut realm_entries(&mut e, r).users, id, v)
            }
            (Key::Scopes(r), Value::Scopes(v)) => realm_entries(&mut e, r).scopes = timed(v),
            (Key::DefaultScopes(r), Value::DefaultScopes(v)) => {
                realm_entries(&mut e, r).default_scopes = timed(v)
            }
            (Key::Roles(r), Value::Roles(v)) => realm_entries(&mut e, r).roles = timed(v),
            (Key::Components(r), Value::Components(v)) => {
                realm_entries(&mut e, r).components = timed(v)
            }
            (Key::ResourceServers(r), Value::ResourceServers(v)) => {
                realm_entries(&mut e, r).resource_servers = timed(v)
            }
            _ => {}
        }
    }

    /// Drops what a write touched.
    pub fn invalidate(&self, section: &Section) {
        let mut e = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let realm = match section {
            Section::All => {
                *e = Entries::default();
                return;
            }
            Section::InitialAccess(r) => {
                e.initial_access.retain(|_, t| &t.value.realm_id != r);
                return;
            }
            Section::Clients(r)
            | Section::Users(r)
            | Section::Roles(r)
            | Section::Scopes(r)
            | Section::Components(r)
            | Section::ResourceServers(r) => r,
        };
        // Role mappings hang off users and roles.
        if matches!(section, Section::Users(_) | Section::Roles(_)) {
            e.user_roles.clear();
        }
        let Some(r) = e.per_realm.get_mut(realm) else {
            return;
        };
        match section {
            Section::Clients(_) => {
                r.clients_by_client_id.clear();
                r.clients.clear();
                // a client's service-account user goes with it
                r.service_accounts.clear();
            }
            Section::Users(_) => {
                r.users.clear();
                r.service_accounts.clear();
            }
            Section::Roles(_) => r.roles = None,
            Section::Scopes(_) => {
                r.scopes = None;
                r.default_scopes = None;
            }
            Section::Components(_) => r.components = None,
            Section::ResourceServers(_) => r.resource_servers = None,
            Section::All | Section::InitialAccess(_) => {}
        }
    }

    /// Turns the cache on or off (PostgreSQL: while the listener is connected); either
    /// way it starts empty.
    pub fn set_enabled(&self, on: bool) {
        self.invalidate(&Section::All);
        self.enabled.store(on, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
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
        let c = Cache::new(true);
        let g = c.generation();
        c.invalidate(&Section::Clients("r".into()));
        c.fill(g, &Key::Realm("a"), Value::Realm(realm("a")));
        assert!(c.get(&Key::Realm("a")).is_none());
        let g = c.generation();
        c.fill(g, &Key::Realm("a"), Value::Realm(realm("a")));
        assert!(c.get(&Key::Realm("a")).is_some());
    }

    #[test]
    fn invalidation_is_by_section_and_realm() {
        let c = Cache::new(true);
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
        let c = Cache::new(false);
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
}
