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
//!   once, so creating a client invalidates nothing), and every entry expires after `TTL`
//!   as a last resort against a notification lost to a crash between commit and `NOTIFY`.
//!
//! Bounds: the rows (realms, clients, users, role mappings, initial access tokens) share
//! one map of at most `capacity` entries (`bounded`: amortised O(1) eviction that keeps
//! what is read); a realm's lists (scopes, roles, components…) are one entry per realm, at
//! most `MAX_REALMS` realms; invalidation leaves one small record per realm it touched
//! (`Cuts`), at most `MAX_REALMS` too. Invalidating a section is O(1): a row filled before
//! its section's cut is stale and dropped when next met.
//!
//! SQLite is served by one process (its file is not shared between nodes), so local
//! invalidation is the whole story there.

mod bounded;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latchkey_core::store::{
    ClientRecord, ComponentRecord, InitialAccessRecord, RealmRecord, ResourceServerRecord,
    RoleRecord, ScopeRecord, Shared, UserRecord,
};

/// How long an entry is trusted without an invalidation.
pub const TTL: Duration = Duration::from_secs(30);
/// Rows kept by default (`--cache-entries`): a token request for a client reads four (the
/// client by `clientId`, the client, its service account, the account's roles), which one
/// statement fills when the client is not cached (`clients::client_by_client_id`).
pub const DEFAULT_CAPACITY: usize = 20_000;
/// Realms whose lists and invalidation records are kept; past it both start over.
const MAX_REALMS: usize = 10_000;

use bounded::Bounded;

/// What a write touched, by realm. The wire form (`Section::encode`) travels in
/// PostgreSQL notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    /// the realm row itself, or everything (realm creation, rename, deletion)
    All,
    Clients(String),
    /// one client's row changed and nothing else (its last-used day): (realm id, id)
    Client(String, String),
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
            // Identifiers hold no control character (`ident`): a tab separates them.
            Section::Client(r, id) => format!("client\t{r}\t{id}"),
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
        if let Some(rest) = s.strip_prefix("client\t") {
            return match rest.split_once('\t') {
                Some((r, id)) => Section::Client(r.into(), id.into()),
                None => Section::All,
            };
        }
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

/// The kinds of row the bounded map holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Realm,
    /// (realm, `clientId`) → the client's id, whose row is under `Client`
    ClientId,
    Client,
    ServiceAccount,
    User,
    UserRoles,
    InitialAccess,
}

/// Sections a realm's invalidation cuts, by index.
const CLIENTS: usize = 0;
const USERS: usize = 1;
const ROLES: usize = 2;
const SCOPES: usize = 3;
const COMPONENTS: usize = 4;
const RESOURCE_SERVERS: usize = 5;
const INITIAL_ACCESS: usize = 6;
/// One client's row was dropped (`Section::Client`): blocks fills of the realm's client
/// rows read before it, without invalidating the others.
const CLIENT_FILLS: usize = 7;

/// For one realm, the generation of the last invalidation of each section: a row read
/// before it is stale.
type Cuts = [u64; 8];

/// A row: its key (checked on every hit: the map is keyed by the key's hash), the
/// generation its read started at, when it was filled, and its value.
struct Row {
    kind: Kind,
    realm: Box<str>,
    id: Box<str>,
    stamp: u64,
    at: Instant,
    value: Stored,
}

enum Stored {
    /// Boxed: a map slot is then a pointer, not the largest kind's size.
    Value(Box<Value>),
    ClientUuid(String),
}

/// A row's value as `get` hands it out: a value, or the id a `clientId` leads to.
type Found = Result<Value, String>;

struct Timed<T> {
    at: Instant,
    value: T,
}

impl<T: Clone> Timed<T> {
    fn fresh(&self) -> Option<T> {
        (self.at.elapsed() < TTL).then(|| self.value.clone())
    }
}

/// A realm's lists, one of each.
#[derive(Default)]
struct RealmLists {
    scopes: Option<Timed<Shared<ScopeRecord>>>,
    default_scopes: Option<Timed<Shared<(String, bool)>>>,
    roles: Option<Timed<Shared<RoleRecord>>>,
    components: Option<Timed<Shared<ComponentRecord>>>,
    resource_servers: Option<Timed<Shared<ResourceServerRecord>>>,
}

/// When each section was last invalidated.
#[derive(Default)]
struct Cutoffs {
    per_realm: HashMap<String, Cuts>,
    /// The last invalidation of role mappings (users or roles of any realm: a mapping is
    /// keyed by user id alone).
    user_roles: u64,
    /// The last `Section::All`.
    all: u64,
}

impl Cutoffs {
    /// The latest cut among `sections` of `realm` (and `Section::All`'s).
    fn cut(&self, realm: &str, sections: &[usize]) -> u64 {
        let cuts = self.per_realm.get(realm);
        sections
            .iter()
            .map(|&s| cuts.map_or(0, |c| c[s]))
            .fold(self.all, u64::max)
    }

    /// The latest cut a row of `kind` depends on (`fill`: also the cuts that only block
    /// fills). `realm` is the row's realm (an initial access token's from its value).
    fn row_cut(&self, kind: Kind, realm: &str, filling: bool) -> u64 {
        match kind {
            Kind::Realm => self.all,
            Kind::ClientId | Kind::Client if filling => self.cut(realm, &[CLIENTS, CLIENT_FILLS]),
            Kind::ClientId | Kind::Client => self.cut(realm, &[CLIENTS]),
            Kind::ServiceAccount => self.cut(realm, &[CLIENTS, USERS]),
            Kind::User => self.cut(realm, &[USERS]),
            Kind::UserRoles => self.user_roles.max(self.all),
            Kind::InitialAccess => self.cut(realm, &[INITIAL_ACCESS]),
        }
    }
}

struct Entries {
    rows: Bounded<u64, Row>,
    lists: HashMap<String, RealmLists>,
    cuts: Cutoffs,
}

impl Entries {
    fn new(capacity: usize) -> Self {
        Entries {
            rows: Bounded::new(capacity),
            lists: HashMap::new(),
            cuts: Cutoffs::default(),
        }
    }

    /// The realm's cuts, to be set to `generation`.
    fn cuts_of(&mut self, realm: &str, generation: u64) -> &mut Cuts {
        if self.cuts.per_realm.len() >= MAX_REALMS && !self.cuts.per_realm.contains_key(realm) {
            // Forgetting cuts would revive stale rows: start over instead.
            *self = Entries::new(self.rows.capacity());
            self.cuts.all = generation;
        }
        self.cuts.per_realm.entry(realm.to_string()).or_default()
    }

    fn lists_of(&mut self, realm: &str) -> &mut RealmLists {
        if self.lists.len() >= MAX_REALMS && !self.lists.contains_key(realm) {
            self.lists.clear();
        }
        self.lists.entry(realm.to_string()).or_default()
    }
}

pub struct Cache {
    enabled: AtomicBool,
    generation: AtomicU64,
    hasher: RandomState,
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

impl Key<'_> {
    /// The row's kind, realm and id, for keys held in the bounded map.
    fn row(&self) -> Option<(Kind, &str, &str)> {
        Some(match *self {
            Key::Realm(name) => (Kind::Realm, "", name),
            Key::ClientByClientId(r, id) => (Kind::ClientId, r, id),
            Key::Client(r, id) => (Kind::Client, r, id),
            Key::ServiceAccount(r, id) => (Kind::ServiceAccount, r, id),
            Key::User(r, id) => (Kind::User, r, id),
            Key::UserRoles(u) => (Kind::UserRoles, "", u),
            Key::InitialAccess(h) => (Kind::InitialAccess, "", h),
            _ => return None,
        })
    }
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
        #[derive(Clone)]
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

fn timed<T>(value: T) -> Option<Timed<T>> {
    Some(Timed {
        at: Instant::now(),
        value,
    })
}

/// The realm whose cuts a row obeys: an initial access token's is in its value.
fn cut_realm<'a>(kind: Kind, realm: &'a str, value: &'a Stored) -> &'a str {
    match (kind, value) {
        (Kind::InitialAccess, Stored::Value(v)) => match &**v {
            Value::InitialAccess(t) => &t.realm_id,
            _ => realm,
        },
        _ => realm,
    }
}

impl Cache {
    /// A cache of at most `capacity` rows (see the module's bounds).
    pub fn new(enabled: bool, capacity: usize) -> Cache {
        Cache {
            enabled: AtomicBool::new(enabled),
            generation: AtomicU64::new(0),
            hasher: RandomState::new(),
            entries: Mutex::new(Entries::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation to hand to `fill` after reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Rows held now, and the most it ever holds.
    pub fn rows(&self) -> (usize, usize) {
        let e = self.lock();
        (e.rows.len(), e.rows.capacity())
    }

    fn hash(&self, kind: Kind, realm: &str, id: &str) -> u64 {
        self.hasher.hash_one((kind as u8, realm, id))
    }

    /// The row under (kind, realm, id) if it is fresh and no cut made it stale; a stale
    /// row is dropped.
    fn row(&self, e: &mut Entries, kind: Kind, realm: &str, id: &str) -> Option<Found> {
        let h = self.hash(kind, realm, id);
        let row = e.rows.get(&h)?;
        if row.kind != kind || &*row.realm != realm || &*row.id != id {
            return None;
        }
        let cut = e
            .cuts
            .row_cut(kind, cut_realm(kind, realm, &row.value), false);
        if row.at.elapsed() >= TTL || row.stamp < cut {
            e.rows.remove(&h);
            return None;
        }
        Some(match &row.value {
            Stored::Value(v) => Ok((**v).clone()),
            Stored::ClientUuid(id) => Err(id.clone()),
        })
    }

    pub fn get(&self, key: &Key<'_>) -> Option<Value> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let mut e = self.lock();
        if let Some((kind, realm, id)) = key.row() {
            return match self.row(&mut e, kind, realm, id)? {
                Ok(v) => Some(v),
                Err(uuid) => match self.row(&mut e, Kind::Client, realm, &uuid)? {
                    Ok(Value::Client(c)) if c.client_id == id => Some(Value::Client(c)),
                    _ => None,
                },
            };
        }
        let lists = |r: &str| e.lists.get(r);
        match *key {
            Key::Scopes(r) => lists(r)?.scopes.as_ref()?.fresh().map(Value::Scopes),
            Key::DefaultScopes(r) => lists(r)?
                .default_scopes
                .as_ref()?
                .fresh()
                .map(Value::DefaultScopes),
            Key::Roles(r) => lists(r)?.roles.as_ref()?.fresh().map(Value::Roles),
            Key::Components(r) => lists(r)?
                .components
                .as_ref()?
                .fresh()
                .map(Value::Components),
            Key::ResourceServers(r) => lists(r)?
                .resource_servers
                .as_ref()?
                .fresh()
                .map(Value::ResourceServers),
            _ => None,
        }
    }

    fn put(
        &self,
        e: &mut Entries,
        generation: u64,
        kind: Kind,
        realm: &str,
        id: &str,
        value: Stored,
    ) {
        if generation < e.cuts.row_cut(kind, cut_realm(kind, realm, &value), true) {
            return;
        }
        let row = Row {
            kind,
            realm: realm.into(),
            id: id.into(),
            stamp: generation,
            at: Instant::now(),
            value,
        };
        e.rows.insert(self.hash(kind, realm, id), row);
    }

    /// Stores what a read found, unless an invalidation of what it read happened since
    /// `generation` was taken (the value may then be older than the write that
    /// invalidated).
    pub fn fill(&self, generation: u64, key: &Key<'_>, value: Value) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        // Cuts are set under this lock, so none can slip between the check and the insert.
        let mut e = self.lock();
        if let Some((kind, realm, id)) = key.row() {
            match (kind, value) {
                (Kind::ClientId, Value::Client(c)) => {
                    let uuid = c.id.clone();
                    self.put(
                        &mut e,
                        generation,
                        Kind::Client,
                        realm,
                        &uuid,
                        Stored::Value(Box::new(Value::Client(c))),
                    );
                    self.put(
                        &mut e,
                        generation,
                        kind,
                        realm,
                        id,
                        Stored::ClientUuid(uuid),
                    );
                }
                (_, value) => self.put(
                    &mut e,
                    generation,
                    kind,
                    realm,
                    id,
                    Stored::Value(Box::new(value)),
                ),
            }
            return;
        }
        let (r, section) = match *key {
            Key::Scopes(r) | Key::DefaultScopes(r) => (r, SCOPES),
            Key::Roles(r) => (r, ROLES),
            Key::Components(r) => (r, COMPONENTS),
            Key::ResourceServers(r) => (r, RESOURCE_SERVERS),
            _ => return,
        };
        if generation < e.cuts.cut(r, &[section]) {
            return;
        }
        let lists = e.lists_of(r);
        match (key, value) {
            (Key::Scopes(_), Value::Scopes(v)) => lists.scopes = timed(v),
            (Key::DefaultScopes(_), Value::DefaultScopes(v)) => lists.default_scopes = timed(v),
            (Key::Roles(_), Value::Roles(v)) => lists.roles = timed(v),
            (Key::Components(_), Value::Components(v)) => lists.components = timed(v),
            (Key::ResourceServers(_), Value::ResourceServers(v)) => {
                lists.resource_servers = timed(v)
            }
            _ => {}
        }
    }

    /// Drops what a write touched.
    pub fn invalidate(&self, section: &Section) {
        let mut e = self.lock();
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let (realm, cut) = match section {
            Section::All => {
                let capacity = e.rows.capacity();
                *e = Entries::new(capacity);
                e.cuts.all = generation;
                return;
            }
            Section::Client(r, id) => {
                let h = self.hash(Kind::Client, r, id);
                e.rows.remove(&h);
                (r, CLIENT_FILLS)
            }
            Section::Clients(r) => (r, CLIENTS),
            Section::Users(r) => (r, USERS),
            Section::Roles(r) => (r, ROLES),
            Section::Scopes(r) => (r, SCOPES),
            Section::Components(r) => (r, COMPONENTS),
            Section::ResourceServers(r) => (r, RESOURCE_SERVERS),
            Section::InitialAccess(r) => (r, INITIAL_ACCESS),
        };
        e.cuts_of(realm, generation)[cut] = generation;
        // Role mappings hang off users and roles.
        if matches!(section, Section::Users(_) | Section::Roles(_)) {
            e.cuts.user_roles = generation;
        }
        if let Some(lists) = e.lists.get_mut(realm.as_str()) {
            match cut {
                ROLES => lists.roles = None,
                SCOPES => {
                    lists.scopes = None;
                    lists.default_scopes = None;
                }
                COMPONENTS => lists.components = None,
                RESOURCE_SERVERS => lists.resource_servers = None,
                _ => {}
            }
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
mod tests;
