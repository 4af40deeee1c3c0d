//! The last-used days this node queued, by client (`clients::touch_client`), at most
//! `KEPT` clients, then it starts over. A client id the server generated is a UUID and is
//! kept as its 16 bytes; any other id (an imported client's) as its text. A token load over
//! a million clients fills it to the bound, so its size per client is what the bound costs:
//! 20 bytes and a control byte per slot and no allocation of its own, about 2.8 MiB at the
//! bound (a `String` key would be 12 bytes more a slot and a 40-byte allocation per
//! client, about three times that).

use std::collections::HashMap;

/// Clients remembered; past it, the memory starts over (at worst one more write per client
/// that day).
pub(crate) const KEPT: usize = 100_000;

#[derive(Default)]
pub(crate) struct Touched {
    uuids: HashMap<[u8; 16], i32>,
    other: HashMap<Box<str>, i32>,
}

/// The 16 bytes of `id` if it is a UUID in the form the server writes (lowercase,
/// hyphenated), so that it maps back to exactly this text.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    if id.len() != uuid::fmt::Hyphenated::LENGTH {
        return None;
    }
    let parsed = uuid::Uuid::try_parse(id).ok()?;
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    (parsed.hyphenated().encode_lower(&mut text) == id).then(|| parsed.into_bytes())
}

impl Touched {
    /// True if this node queued `day`, or a later one, for the client.
    pub(crate) fn queued(&self, id: &str, day: i64) -> bool {
        let kept = match uuid_bytes(id) {
            Some(bytes) => self.uuids.get(&bytes),
            None => self.other.get(id),
        };
        kept.is_some_and(|d| i64::from(*d) >= day)
    }

    /// Remembers `day` for the client; at `KEPT` clients, forgets the others first. A day
    /// past what 32 bits hold is not remembered (the next use queues it again).
    pub(crate) fn remember(&mut self, id: &str, day: i64) {
        let Ok(day) = i32::try_from(day) else {
            return;
        };
        let bytes = uuid_bytes(id);
        let known = match &bytes {
            Some(b) => self.uuids.contains_key(b),
            None => self.other.contains_key(id),
        };
        if !known && self.len() >= KEPT {
            self.uuids.clear();
            self.other.clear();
        }
        match bytes {
            Some(b) => {
                self.uuids.insert(b, day);
            }
            None => {
                self.other.insert(id.into(), day);
            }
        }
    }

    pub(crate) fn forget(&mut self, id: &str) {
        match uuid_bytes(id) {
            Some(b) => self.uuids.remove(&b),
            None => self.other.remove(id),
        };
    }

    pub(crate) fn len(&self) -> usize {
        self.uuids.len() + self.other.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_uuid_form_is_kept_as_bytes() {
        let id = "0190b3c4-7d2e-7a41-9c3b-5e6f7a8b9c0d";
        assert!(uuid_bytes(id).is_some());
        for other in [
            "0190B3C4-7D2E-7A41-9C3B-5E6F7A8B9C0D",
            "0190b3c47d2e7a419c3b5e6f7a8b9c0d",
            "{0190b3c4-7d2e-7a41-9c3b-5e6f7a8b9c0d}",
            "admin-cli",
            "",
        ] {
            assert_eq!(uuid_bytes(other), None, "{other}");
        }
    }

    #[test]
    fn a_day_is_queued_once_per_client_whatever_its_ids_form() {
        let mut t = Touched::default();
        let ids = [
            "0190b3c4-7d2e-7a41-9c3b-5e6f7a8b9c0d",
            // The same UUID in capitals: another client id, remembered apart.
            "0190B3C4-7D2E-7A41-9C3B-5E6F7A8B9C0D",
            "imported-client",
        ];
        for id in ids {
            assert!(!t.queued(id, 100));
            t.remember(id, 100);
        }
        assert_eq!(t.len(), 3);
        for id in ids {
            assert!(t.queued(id, 100));
            assert!(t.queued(id, 99), "an earlier day is behind the one queued");
            assert!(!t.queued(id, 101), "a later day is queued again");
        }
        t.forget(ids[0]);
        assert!(!t.queued(ids[0], 100));
        assert!(t.queued(ids[1], 100));
        assert!(!t.queued("x", i64::MAX));
        t.remember("x", i64::MAX);
        assert!(!t.queued("x", i64::MAX));
    }

    #[test]
    fn it_never_holds_more_than_its_bound() {
        let mut t = Touched::default();
        for i in 0..KEPT + 10 {
            let id = if i % 2 == 0 {
                uuid::Uuid::from_u128(i as u128).to_string()
            } else {
                format!("client-{i}")
            };
            t.remember(&id, 1);
            assert!(t.len() <= KEPT);
        }
        assert!(t.len() <= 10, "it started over");
    }
}
