//! Shared server state: the store, the master-key box, the settings that shape URLs, the
//! per-realm key cache, the abuse limits' counters and the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey_core::Millis;
use latchkey_core::clients::ScopeDefaults;
use latchkey_core::crypto::SecretBox;
use latchkey_core::registration::cimd::Refusal;
use latchkey_core::store::{ClientRecord, RealmRecord, ScopeRecord, Shared, Store};
use serde_json::Value;

use crate::brute_force::BruteForce;
use crate::fetch::cache::{DEFAULT_CAPACITY, DocumentCache};
use crate::fetch::{FetchPolicy, Fetcher};
use crate::limits::Throttle;
use crate::metrics::Metrics;
pub use crate::realm_keys::RealmKeys;
use crate::settings::ServerSettings;

/// A client's `jwks_uri` document as fetched: when, and its keys.
type CachedJwks = (std::time::Instant, Arc<Vec<Value>>);

/// A realm's discovery document as served under one issuer URL (`oidc::discovery`): it is
/// served again while the store hands back the same list of the realm's scopes (the same
/// `Arc`). The store replaces that list, on every node, when the scopes change and when
/// anything of the realm's own row does (its CIMD switch; a realm write invalidates all of
/// the realm's cached lists), and a realm made again under the name has lists of its own;
/// with the cache off, every read is a new list and the document is built each time.
pub struct DiscoveryDoc {
    pub scopes: Shared<ScopeRecord>,
    pub body: axum::body::Bytes,
}

/// Discovery documents kept: one per realm and issuer URL, and the URL follows the `Host`
/// header unless `--hostname` is set, so a client could make up many; past it the memo
/// starts over.
const DISCOVERY_DOCS_KEPT: usize = 1_000;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub sealer: Arc<SecretBox>,
    pub settings: ServerSettings,
    pub metrics: Metrics,
    /// The one outbound HTTP client (`fetch/`): https only, loopback only in dev mode.
    pub fetcher: Fetcher,
    /// Anonymous registrations per address (`--anonymous-registration-limit`). Per node.
    pub anonymous_registrations: Throttle,
    /// Failed registration/initial access token attempts per address. Per node.
    pub failed_tokens: Throttle,
    /// Stored events of refused unauthenticated registration requests per address. Per node.
    pub refused_events: Throttle,
    /// Authorization requests per address (`--authorization-request-limit`), device
    /// authorization requests included. Per node.
    pub authorization_requests: Throttle,
    /// Wrong device user codes per address (`limits::FAILED_USER_CODES`). Per node.
    pub failed_user_codes: Throttle,
    /// Failed passwords per user (the realm's brute-force settings) and per address. Per
    /// node.
    pub brute_force: BruteForce,
    /// Client ID metadata documents fetched by this node, by realm id and URL (`oidc/cimd/`):
    /// an entry means the stored client is the document's until the entry expires.
    pub cimd_documents: DocumentCache<(), Result<ClientRecord, Refusal>>,
    /// Clients' `jwks_uri` documents: URL → (fetched at, keys).
    client_jwks: Mutex<HashMap<String, CachedJwks>>,
    keys: Mutex<HashMap<String, Arc<RealmKeys>>>,
    /// Each realm's `ScopeDefaults` (`scope_defaults`), by realm id.
    scope_defaults: Mutex<HashMap<String, CachedScopeDefaults>>,
    /// Discovery documents by issuer URL (`discovery_doc`).
    discovery_docs: Mutex<HashMap<String, Arc<DiscoveryDoc>>>,
}

/// A realm's `ScopeDefaults` and the store's lists they were derived from.
struct CachedScopeDefaults {
    scopes: Shared<ScopeRecord>,
    links: Shared<(String, bool)>,
    scope_defaults: Arc<ScopeDefaults>,
}

/// Clients' `jwks_uri` documents kept; past it the expired go, or all of them.
const CLIENT_JWKS_KEPT: usize = 10_000;

/// Realms whose `ScopeDefaults` are kept; past it the memo starts over (deleted realms'
/// entries go with it).
const SCOPE_DEFAULTS_KEPT: usize = 10_000;

pub type SharedState = Arc<AppState>;

/// Inserts into a map that holds at most `kept` entries: when a new key finds it full, the
/// entries `stale` says are expired go, and all of them if that freed less than an eighth,
/// so the pass runs once per many new keys rather than on each.
fn insert_bounded<V>(
    map: &mut HashMap<String, V>,
    key: &str,
    value: V,
    kept: usize,
    stale: impl Fn(&V) -> bool,
) {
    if map.len() >= kept && !map.contains_key(key) {
        map.retain(|_, v| !stale(v));
        if map.len() > kept - kept / 8 {
            map.clear();
        }
    }
    map.insert(key.to_string(), value);
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, sealer: Arc<SecretBox>, settings: ServerSettings) -> Self {
        let fetcher = Fetcher::new(if settings.dev_mode {
            FetchPolicy::dev()
        } else {
            FetchPolicy::production()
        });
        let limits = settings.limits;
        Self {
            store,
            sealer,
            anonymous_registrations: Throttle::new(limits.anonymous_registrations, limits.window),
            failed_tokens: Throttle::new(limits.failed_tokens, limits.window),
            refused_events: Throttle::new(crate::limits::REFUSED_EVENTS_STORED, limits.window),
            authorization_requests: Throttle::new(limits.authorization_requests, limits.window),
            failed_user_codes: Throttle::new(crate::limits::FAILED_USER_CODES, limits.window),
            // start-dev: everything comes from one loopback address.
            brute_force: BruteForce::new(
                if settings.dev_mode {
                    0
                } else {
                    limits.failed_passwords
                },
                limits.window,
            ),
            settings,
            metrics: Metrics::default(),
            fetcher,
            cimd_documents: DocumentCache::new(DEFAULT_CAPACITY),
            client_jwks: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            scope_defaults: Mutex::new(HashMap::new()),
            discovery_docs: Mutex::new(HashMap::new()),
        }
    }

    /// The discovery document last served under `issuer`, if any (`DiscoveryDoc` says when
    /// it may be served again).
    pub fn discovery_doc(&self, issuer: &str) -> Option<Arc<DiscoveryDoc>> {
        let docs = self
            .discovery_docs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        docs.get(issuer).cloned()
    }

    /// Keeps the document served under `issuer` (at most `DISCOVERY_DOCS_KEPT`).
    pub fn keep_discovery_doc(&self, issuer: &str, doc: Arc<DiscoveryDoc>) {
        let mut docs = self
            .discovery_docs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        insert_bounded(&mut docs, issuer, doc, DISCOVERY_DOCS_KEPT, |_| false);
    }

    /// The realm's keys, loaded and unsealed on first use and again whenever the store's
    /// list of the realm's components is a new one (a key provider changed, on any node).
    pub async fn realm_keys(&self, realm: &RealmRecord) -> Result<Arc<RealmKeys>, String> {
        let components = self
            .store
            .list_components(&realm.id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(k) = self.lock_keys().get(&realm.id)
            && Arc::ptr_eq(&k.components, &components)
        {
            return Ok(k.clone());
        }
        let records = self
            .store
            .realm_keys(&realm.id)
            .await
            .map_err(|e| e.to_string())?;
        let keys = Arc::new(RealmKeys::build(&self.sealer, records, components)?);
        self.lock_keys().insert(realm.id.clone(), keys.clone());
        Ok(keys)
    }

    /// A client's keys from its `jwks_uri`, cached for five minutes; `refresh` refetches
    /// (a client may rotate its keys) unless the cached copy is under 30 s old.
    pub async fn client_jwks(&self, uri: &str, refresh: bool) -> Result<Vec<Value>, String> {
        let cached = self
            .client_jwks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uri)
            .cloned();
        if let Some((at, keys)) = &cached {
            let age = at.elapsed().as_secs();
            if age < 300 && (!refresh || age < 30) {
                return Ok(keys.as_ref().clone());
            }
        }
        let doc = self
            .fetcher
            .get_json(uri)
            .await
            .map_err(|e| format!("jwks_uri: {e}"))?;
        let keys: Vec<Value> = doc
            .get("keys")
            .and_then(Value::as_array)
            .cloned()
            .ok_or("jwks_uri: not a JWK Set")?;
        // Every client may name a URL of its own: the map is bounded.
        insert_bounded(
            &mut self.client_jwks.lock().unwrap_or_else(|p| p.into_inner()),
            uri,
            (std::time::Instant::now(), Arc::new(keys.clone())),
            CLIENT_JWKS_KEPT,
            |(at, _)| at.elapsed().as_secs() >= 300,
        );
        Ok(keys)
    }

    /// The realm's `ScopeDefaults` from the store's lists of its scopes and default-scope
    /// links, derived again only when the store hands back other lists than last time: its
    /// cache replaces a list on any change, on any node, so the same lists (by pointer)
    /// mean the same `ScopeDefaults`. Every registration needs them.
    pub fn scope_defaults(
        &self,
        realm_id: &str,
        scopes: Shared<ScopeRecord>,
        links: Shared<(String, bool)>,
    ) -> Arc<ScopeDefaults> {
        let mut memo = self
            .scope_defaults
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(m) = memo.get(realm_id)
            && Arc::ptr_eq(&m.scopes, &scopes)
            && Arc::ptr_eq(&m.links, &links)
        {
            return m.scope_defaults.clone();
        }
        let scope_defaults = Arc::new(ScopeDefaults::from_records(&scopes, &links));
        if memo.len() >= SCOPE_DEFAULTS_KEPT {
            memo.clear();
        }
        memo.insert(
            realm_id.to_string(),
            CachedScopeDefaults {
                scopes,
                links,
                scope_defaults: scope_defaults.clone(),
            },
        );
        scope_defaults
    }

    /// The client was used (a token request it authenticated, an authorization request, its
    /// registration access token): records the day, at most once a day per node, without
    /// waiting (`Store::touch_client`).
    pub fn client_used(&self, client: &ClientRecord, now: Millis) {
        let day = latchkey_core::last_used::day(now);
        if client.last_used.is_none_or(|d| d < day) {
            self.store.touch_client(&client.realm_id, &client.id, day);
        }
    }

    pub fn forget_realm_keys(&self, realm_id: &str) {
        self.lock_keys().remove(realm_id);
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RealmKeys>>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_map_never_passes_its_bound_and_keeps_fresh_entries_when_it_can() {
        let mut map = HashMap::new();
        for i in 0..1_000 {
            insert_bounded(&mut map, &format!("k{i}"), i, 64, |_| false);
            assert!(map.len() <= 64, "{} entries", map.len());
        }
        assert!(map.contains_key("k999"), "the newest entry is kept");
        // With half of the entries stale, a full map drops those and keeps the rest.
        let mut map = HashMap::new();
        for i in 0..64 {
            insert_bounded(&mut map, &format!("k{i}"), i, 64, |_| false);
        }
        insert_bounded(&mut map, "new", 1_000, 64, |v| v % 2 == 0);
        assert_eq!(map.len(), 33);
        assert!(map.contains_key("k1") && !map.contains_key("k0"));
        // Replacing a key already there never evicts.
        insert_bounded(&mut map, "k1", 7, 33, |_| true);
        assert_eq!(map.len(), 33);
    }
}
