//! Password guessing: Keycloak's brute-force detection, per user with the
//! realm's settings, and a per-address limit on failed passwords. One bounded in-memory
//! structure per node, used alike by the login form and the password grant (through
//! `oidc::password::password_user`, the one place a password is checked).
//!
//! Per user, as Keycloak's `DefaultBruteForceProtector`: each failure is counted (the count
//! starts over after `maxDeltaTimeSeconds` without one); from `failureFactor` failures on,
//! each failure locks the user for `waitIncrementSeconds` times the number of whole
//! `failureFactor`s reached (`MULTIPLE`) or times the failures past it plus one (`LINEAR`),
//! at most `maxFailureWaitSeconds`; two failures within `quickLoginCheckMilliSeconds`
//! lock for `minimumQuickLoginWaitSeconds`. With `permanentLockout` the user is disabled
//! instead (after `maxTemporaryLockouts` temporary ones). While locked, an attempt is
//! refused, right password or not, with the answer a wrong password gets, and is not
//! counted; a success clears the count.
//!
//! Password checks for one user take turns ([`BruteForce::one_at_a_time`]) and each
//! attempt counts against its address before it is checked, so guesses sent at once cannot
//! all pass either check before the first failure counts.
//!
//! Memory is bounded: past [`MAX_TRACKED_USERS`] users, unlocked entries and then the
//! oldest go first, so an attacker spraying many users can make the node forget counts,
//! never lock a user it has not failed on. Counts are per node, like Keycloak's without a
//! shared cache; a permanent lockout is in the store, so every node sees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_core::Millis;
use latchkey_core::rep::RealmRep;

use crate::limits::Throttle;

/// Users tracked at most.
pub const MAX_TRACKED_USERS: usize = 65_536;

/// The user attribute Keycloak sets on a user disabled by a permanent lockout
/// (`UserModel.DISABLED_REASON`, `BruteForceProtector.DISABLED_BY_PERMANENT_LOCKOUT`).
pub const DISABLED_REASON: &str = "disabledReason";
pub const PERMANENT_LOCKOUT: &str = "permanentLockout";

/// A realm's brute-force settings, in milliseconds; `None` from [`Settings::of`] when the
/// realm has detection off. Missing numbers take Keycloak's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub permanent_lockout: bool,
    pub max_temporary_lockouts: u32,
    pub linear: bool,
    pub failure_factor: u32,
    pub wait_increment: Millis,
    pub max_failure_wait: Millis,
    pub quick_login_check: Millis,
    pub minimum_quick_login_wait: Millis,
    pub max_delta_time: Millis,
}

impl Settings {
    pub fn of(rep: &RealmRep) -> Option<Settings> {
        if rep.brute_force_protected != Some(true) {
            return None;
        }
        // Any number an admin stores is usable: negative is 0, huge saturates.
        let secs = |v: Option<i64>, default: i64| v.unwrap_or(default).max(0).saturating_mul(1000);
        Some(Settings {
            permanent_lockout: rep.permanent_lockout.unwrap_or(false),
            max_temporary_lockouts: rep
                .max_temporary_lockouts
                .unwrap_or(0)
                .clamp(0, i64::from(u32::MAX)) as u32,
            linear: rep.brute_force_strategy.as_deref() == Some("LINEAR"),
            // Keycloak's console requires at least 1; a 0 would divide by zero.
            failure_factor: rep
                .failure_factor
                .unwrap_or(30)
                .clamp(1, i64::from(u32::MAX)) as u32,
            wait_increment: secs(rep.wait_increment_seconds, 60),
            max_failure_wait: secs(rep.max_failure_wait_seconds, 900),
            quick_login_check: rep.quick_login_check_milli_seconds.unwrap_or(1000).max(0),
            minimum_quick_login_wait: secs(rep.minimum_quick_login_wait_seconds, 60),
            max_delta_time: secs(rep.max_delta_time_seconds, 43_200),
        })
    }

    /// Keycloak's permanent lockout without temporary ones first: counts never start over
    /// and no wait applies; the user is disabled at `failureFactor` failures.
    fn permanent_only(&self) -> bool {
        self.permanent_lockout && self.max_temporary_lockouts == 0
    }
}

/// One user's failures.
#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last: Millis,
    /// Locked until then.
    not_before: Millis,
    temporary_lockouts: u32,
}

/// What a counted failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    Counted,
    /// The user is to be disabled (`permanentLockout`).
    PermanentLockout,
}

pub struct BruteForce {
    users: Mutex<HashMap<String, Failures>>,
    /// Users whose password is being checked (see [`BruteForce::one_at_a_time`]); an entry
    /// lives while a check or a waiter holds it, so there are at most as many as requests
    /// in flight.
    gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Failed passwords per address (`Limits::failed_passwords`; 0 in `start-dev`).
    addresses: Throttle,
}

impl BruteForce {
    /// `address_limit` failed passwords per address per `window`; 0 is off.
    pub fn new(address_limit: u32, window: Duration) -> Self {
        BruteForce {
            users: Mutex::new(HashMap::new()),
            gates: Arc::new(Mutex::new(HashMap::new())),
            addresses: Throttle::new(address_limit, window),
        }
    }

    /// Before a password is checked: `Err(retry_after)` when the address has used its
    /// allowance of failed passwords; else the attempt is counted as failed until
    /// [`BruteForce::address_succeeded`] takes it back. Counted before the outcome is known,
    /// so that attempts sent at once cannot all pass the check before the first failure
    /// counts. An unknown user and an attempt refused while locked count as failures.
    pub fn address_attempt(&self, address: &str) -> Result<(), Duration> {
        self.addresses.hit(address)
    }

    /// The password was right: the attempt does not count against the address.
    pub fn address_succeeded(&self, address: &str) {
        self.addresses.uncount(address);
    }

    /// Whether the user (`key`: realm and user id) is temporarily locked at `now`.
    pub fn locked(&self, key: &str, now: Millis) -> bool {
        self.lock().get(key).is_some_and(|f| now < f.not_before)
    }

    /// Counts a failed password for the user, as Keycloak's `DefaultBruteForceProtector`.
    pub fn user_failed(&self, s: &Settings, key: &str, now: Millis) -> Failed {
        let mut map = self.lock();
        if map.len() >= MAX_TRACKED_USERS && !map.contains_key(key) {
            evict(&mut map, now);
        }
        let f = map.entry(key.to_string()).or_default();
        let seen = f.last > 0;
        let delta = if seen { now - f.last } else { 0 };
        f.last = now;
        if !s.permanent_only() && delta > s.max_delta_time {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        let factor = s.failure_factor;
        let mut wait: Millis = 0;
        if !s.permanent_only() {
            wait = if s.linear {
                s.wait_increment
                    .saturating_mul(i64::from(f.count) + 1 - i64::from(factor))
            } else {
                s.wait_increment.saturating_mul(i64::from(f.count / factor))
            };
        }
        let mut quick = false;
        if wait <= 0 && seen && delta < s.quick_login_check {
            wait = s.minimum_quick_login_wait;
            quick = true;
        }
        if wait > 0 {
            if !s.permanent_only() {
                wait = wait.min(s.max_failure_wait);
            }
            if !quick {
                f.temporary_lockouts = f.temporary_lockouts.saturating_add(1);
            }
            if quick || !s.permanent_lockout || f.temporary_lockouts <= s.max_temporary_lockouts {
                f.not_before = now.saturating_add(wait);
            }
        }
        let permanent = s.permanent_lockout
            && (f.temporary_lockouts > s.max_temporary_lockouts
                || (s.max_temporary_lockouts == 0 && f.count >= factor));
        if permanent {
            // The lockout is the user's `enabled` in the store from now on; an admin who
            // enables the user again starts from a clean count (Keycloak's
            // `cleanUpPermanentLockout`).
            map.remove(key);
            return Failed::PermanentLockout;
        }
        Failed::Counted
    }

    /// Waits until no other password check for the user (`key`) is running. Checked one at
    /// a time, concurrent guesses cannot all pass the lock check before the first failure
    /// is counted: without it, a thousand guesses sent at once would each be checked.
    pub async fn one_at_a_time(&self, key: &str) -> Gate {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            if gates.len() >= MAX_TRACKED_USERS {
                // Left behind by waiters whose request was dropped (a [`Gate`] removes its
                // entry only when nobody waits): nobody holds them now.
                gates.retain(|_, g| Arc::strong_count(g) > 1);
            }
            gates.entry(key.to_string()).or_default().clone()
        };
        Gate {
            guard: Some(gate.lock_owned().await),
            key: key.to_string(),
            gates: self.gates.clone(),
        }
    }

    /// A right password: the user's count starts over.
    pub fn user_succeeded(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn tracked_users(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The turn of one password check for one user; dropping it lets the next one in.
pub struct Gate {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    key: String,
    gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        self.guard = None;
        // Nobody else holds or waits for it (only the map's reference is left): forget it.
        // Taking a reference needs the map's lock, held here, so none can appear meanwhile.
        if gates
            .get(&self.key)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            gates.remove(&self.key);
        }
    }
}

/// Frees an eighth of the map at once (so the O(n) pass runs once per
/// `MAX_TRACKED_USERS / 8` new users): unlocked users first, the oldest failures first.
fn evict(map: &mut HashMap<String, Failures>, now: Millis) {
    let rank = |f: &Failures| (now < f.not_before, f.last);
    let mut ranks: Vec<(bool, Millis)> = map.values().map(rank).collect();
    let cut = ranks.len() / 8;
    let (_, cutoff, _) = ranks.select_nth_unstable(cut);
    let cutoff = *cutoff;
    map.retain(|_, f| rank(f) > cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Millis = 1000;

    /// Keycloak's defaults, with a small factor and no quick-login check unless a test
    /// sets one.
    fn settings() -> Settings {
        Settings {
            permanent_lockout: false,
            max_temporary_lockouts: 0,
            linear: false,
            failure_factor: 3,
            wait_increment: 60 * S,
            max_failure_wait: 900 * S,
            quick_login_check: 0,
            minimum_quick_login_wait: 60 * S,
            max_delta_time: 43_200 * S,
        }
    }

    #[test]
    fn realm_settings_default_to_keycloaks_and_off_is_none() {
        let mut rep = RealmRep {
            brute_force_protected: Some(true),
            ..Default::default()
        };
        let s = Settings::of(&rep).unwrap();
        assert_eq!(
            s,
            Settings {
                failure_factor: 30,
                quick_login_check: 1000,
                ..settings()
            }
        );
        rep.failure_factor = Some(0);
        assert_eq!(Settings::of(&rep).unwrap().failure_factor, 1);
        rep.brute_force_protected = Some(false);
        assert_eq!(Settings::of(&rep), None);
        rep.brute_force_protected = None;
        assert_eq!(Settings::of(&rep), None);
    }

    #[test]
    fn extreme_settings_neither_panic_nor_overflow() {
        let rep = RealmRep {
            brute_force_protected: Some(true),
            failure_factor: Some(-4),
            wait_increment_seconds: Some(i64::MAX),
            max_failure_wait_seconds: Some(i64::MAX),
            max_delta_time_seconds: Some(i64::MIN),
            ..Default::default()
        };
        let b = BruteForce::new(0, Duration::from_secs(60));
        for linear in [false, true] {
            let s = Settings {
                linear,
                ..Settings::of(&rep).unwrap()
            };
            for i in 0..3 {
                b.user_failed(&s, "u", 1_000_000 + i * 10 * S);
            }
            assert!(b.locked("u", i64::MAX - 1));
            b.user_succeeded("u");
        }
    }

    #[test]
    fn multiple_strategy_locks_at_each_factor_and_caps_the_wait() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let s = Settings {
            max_failure_wait: 100 * S,
            ..settings()
        };
        let mut now = 1_000_000;
        for _ in 0..2 {
            now += 10 * S;
            assert_eq!(b.user_failed(&s, "u", now), Failed::Counted);
            assert!(!b.locked("u", now), "under the factor");
        }
        now += 10 * S;
        b.user_failed(&s, "u", now);
        assert!(b.locked("u", now) && b.locked("u", now + 59 * S));
        assert!(!b.locked("u", now + 60 * S), "waitIncrementSeconds");
        assert!(!b.locked("other", now), "per user");
        // Past the factor every failure locks again: 4/3 → 1 increment, 6/3 → 2, capped.
        now += 60 * S;
        b.user_failed(&s, "u", now);
        assert!(b.locked("u", now + 59 * S) && !b.locked("u", now + 60 * S));
        now += 60 * S;
        b.user_failed(&s, "u", now);
        now += 60 * S;
        b.user_failed(&s, "u", now);
        assert!(b.locked("u", now + 99 * S), "2 × 60 s, capped at 100 s");
        assert!(!b.locked("u", now + 100 * S), "maxFailureWaitSeconds");
        b.user_succeeded("u");
        assert!(!b.locked("u", now), "a success clears");
    }

    #[test]
    fn linear_strategy_grows_by_one_increment_per_failure() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let s = Settings {
            linear: true,
            ..settings()
        };
        let mut now = 1_000_000;
        for _ in 0..3 {
            now += 1000 * S;
            b.user_failed(&s, "u", now);
        }
        assert!(b.locked("u", now + 59 * S) && !b.locked("u", now + 60 * S));
        now += 1000 * S;
        b.user_failed(&s, "u", now);
        assert!(b.locked("u", now + 119 * S) && !b.locked("u", now + 120 * S));
    }

    #[test]
    fn quick_failures_lock_for_the_minimum_wait() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let s = Settings {
            quick_login_check: 1000,
            ..settings()
        };
        let now = 1_000_000;
        b.user_failed(&s, "u", now);
        assert!(!b.locked("u", now), "one failure is not quick");
        b.user_failed(&s, "u", now + 500);
        assert!(b.locked("u", now + 500 + 59 * S));
        assert!(!b.locked("u", now + 500 + 60 * S));
        b.user_failed(&s, "v", now);
        b.user_failed(&s, "v", now + 1500);
        assert!(!b.locked("v", now + 1500), "slower than the check");
    }

    #[test]
    fn counts_start_over_after_max_delta() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let s = Settings {
            max_delta_time: 100 * S,
            ..settings()
        };
        let now = 1_000_000;
        b.user_failed(&s, "u", now);
        b.user_failed(&s, "u", now + 10 * S);
        b.user_failed(&s, "u", now + 200 * S);
        assert!(!b.locked("u", now + 200 * S), "the third is a first again");
        b.user_failed(&s, "u", now + 210 * S);
        b.user_failed(&s, "u", now + 220 * S);
        assert!(b.locked("u", now + 220 * S));
    }

    #[test]
    fn permanent_lockout_after_the_factor_or_the_temporary_lockouts() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let permanent = Settings {
            permanent_lockout: true,
            ..settings()
        };
        let now = 1_000_000;
        assert_eq!(b.user_failed(&permanent, "u", now), Failed::Counted);
        assert_eq!(b.user_failed(&permanent, "u", now + S), Failed::Counted);
        assert_eq!(
            b.user_failed(&permanent, "u", now + 2 * S),
            Failed::PermanentLockout
        );
        assert_eq!(b.tracked_users(), 0, "the store holds the lockout");
        let one_temporary = Settings {
            max_temporary_lockouts: 1,
            ..permanent
        };
        let mut now = now;
        for _ in 0..3 {
            now += 1000 * S;
            assert_eq!(b.user_failed(&one_temporary, "v", now), Failed::Counted);
        }
        assert!(b.locked("v", now), "the first lockout is temporary");
        now += 1000 * S;
        assert_eq!(
            b.user_failed(&one_temporary, "v", now),
            Failed::PermanentLockout
        );
    }

    #[test]
    fn memory_is_bounded_and_locked_users_are_kept_longest() {
        let b = BruteForce::new(0, Duration::from_secs(60));
        let s = Settings {
            wait_increment: 600 * S,
            ..settings()
        };
        let now = 1_000_000;
        for _ in 0..3 {
            b.user_failed(&s, "locked", now);
        }
        for i in 0..MAX_TRACKED_USERS + 10 {
            b.user_failed(&s, &i.to_string(), now + 1 + i as Millis);
        }
        assert!(b.tracked_users() <= MAX_TRACKED_USERS);
        assert!(b.tracked_users() > MAX_TRACKED_USERS / 2);
        assert!(
            b.locked("locked", now + 1),
            "a locked user outlives the unlocked"
        );
    }

    #[tokio::test]
    async fn password_checks_for_one_user_take_turns_and_leave_nothing_behind() {
        let b = Arc::new(BruteForce::new(0, Duration::from_secs(60)));
        let first = b.one_at_a_time("u").await;
        let other = b.one_at_a_time("v").await;
        let waiter = tokio::spawn({
            let b = b.clone();
            async move {
                let _turn = b.one_at_a_time("u").await;
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the second check for u waits");
        drop(first);
        waiter.await.unwrap();
        drop(other);
        assert!(b.gates.lock().unwrap().is_empty());
    }

    #[test]
    fn addresses_are_limited_when_on() {
        let b = BruteForce::new(2, Duration::from_secs(60));
        assert!(b.address_attempt("192.0.2.1").is_ok());
        assert!(b.address_attempt("192.0.2.1").is_ok());
        b.address_succeeded("192.0.2.1");
        assert!(
            b.address_attempt("192.0.2.1").is_ok(),
            "a success does not count"
        );
        assert!(b.address_attempt("192.0.2.1").is_err());
        assert!(b.address_attempt("192.0.2.2").is_ok());
        let off = BruteForce::new(0, Duration::from_secs(60));
        for _ in 0..1000 {
            assert!(off.address_attempt("192.0.2.1").is_ok());
        }
    }
}
