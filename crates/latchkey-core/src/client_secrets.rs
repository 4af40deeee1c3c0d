//! Client secrets that expire, under the `client-secret-expiration` registration policy:
//! the expiry (Keycloak's `client.secret.expiration.time` attribute, RFC 7591 §3.2.1's
//! `client_secret_expires_at`), the rotation a registration read makes in the last quarter
//! of a secret's life, and which secrets authenticate a client at a given time.

use crate::clients::{SECRET_CREATION_TIME, generate_secret, open_secret, secret_context};
use crate::crypto::{SecretBox, ct_eq};
use crate::rep::ClientRep;
use crate::store::{ClientRecord, PreviousSecret};

/// The attribute Keycloak keeps a secret's expiry in (seconds since the epoch).
pub const SECRET_EXPIRATION_TIME: &str = "client.secret.expiration.time";
pub const DAY_SECS: i64 = 86_400;

fn attribute(rep: &ClientRep, key: &str) -> Option<i64> {
    rep.attributes.as_ref()?.get(key)?.trim().parse().ok()
}

/// `client_secret_expires_at` (RFC 7591 §3.2.1): seconds since the epoch, 0 for never.
pub fn expires_at(rep: &ClientRep) -> i64 {
    attribute(rep, SECRET_EXPIRATION_TIME)
        .filter(|t| *t > 0)
        .unwrap_or(0)
}

/// Sets a secret's expiry to `lifetime_secs` after `now_secs`.
pub fn set_expiry(rep: &mut ClientRep, now_secs: i64, lifetime_secs: i64) {
    rep.attributes.get_or_insert_with(Default::default).insert(
        SECRET_EXPIRATION_TIME.into(),
        now_secs.saturating_add(lifetime_secs).to_string(),
    );
}

/// Removes the expiry: the secret (or its absence) never expires.
pub fn clear_expiry(rep: &mut ClientRep) {
    if let Some(attrs) = rep.attributes.as_mut() {
        attrs.remove(SECRET_EXPIRATION_TIME);
    }
}

/// The lifetime the current secret was issued with, if it expires.
pub fn lifetime(rep: &ClientRep) -> Option<i64> {
    let expires = expires_at(rep);
    let created = attribute(rep, SECRET_CREATION_TIME)?;
    // Both are attributes an admin may write: a creation time far in the past would
    // overflow the difference, which then means no known lifetime.
    expires
        .checked_sub(created)
        .filter(|life| expires > 0 && *life > 0)
}

/// Whether a registration read at `now_secs` rotates the secret: it expires and is in the
/// last quarter of its life (or past it), so that a client reading its registration
/// before the end always holds a working secret.
pub fn rotation_due(rep: &ClientRep, now_secs: i64) -> bool {
    let expires = expires_at(rep);
    if expires == 0 {
        return false;
    }
    let life = lifetime(rep).unwrap_or(0);
    now_secs >= expires - life / 4
}

/// A new secret for `client`, living `lifetime_secs` from `now_secs`; the current one
/// becomes the previous secret, accepted until its own expiry (an expired one is dropped).
/// Returns the client to store and the new secret in clear.
pub fn rotate(
    client: &ClientRecord,
    sealer: &SecretBox,
    now_secs: i64,
    lifetime_secs: i64,
) -> (ClientRecord, String) {
    let mut next = client.clone();
    let old_expiry = expires_at(&client.rep);
    next.previous_secret = client
        .secret_sealed
        .clone()
        .filter(|_| old_expiry > now_secs)
        .map(|sealed| PreviousSecret {
            sealed,
            expires_at: old_expiry,
        });
    let secret = generate_secret();
    next.secret_sealed = Some(sealer.seal(secret.as_bytes(), &secret_context(&client.id)));
    next.rep
        .attributes
        .get_or_insert_with(Default::default)
        .insert(SECRET_CREATION_TIME.into(), now_secs.to_string());
    set_expiry(&mut next.rep, now_secs, lifetime_secs);
    (next, secret)
}

/// The secrets that authenticate `client` at `now_secs`: the current one until its expiry
/// (if it has one), then the previous one until its own.
pub fn usable_secrets(client: &ClientRecord, sealer: &SecretBox, now_secs: i64) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    let expires = expires_at(&client.rep);
    if (expires == 0 || now_secs < expires)
        && let Some(s) = open_secret(client, sealer)
    {
        out.push(s);
    }
    if let Some(p) = client
        .previous_secret
        .as_ref()
        .filter(|p| now_secs < p.expires_at)
        && let Ok(plain) = sealer.open(&p.sealed, &secret_context(&client.id))
        && let Ok(s) = String::from_utf8(plain)
    {
        out.push(s);
    }
    out
}

/// Whether `offered` is a usable secret of `client` at `now_secs`, compared in constant
/// time against each.
pub fn accepts(client: &ClientRecord, sealer: &SecretBox, offered: &str, now_secs: i64) -> bool {
    usable_secrets(client, sealer, now_secs)
        .iter()
        .fold(false, |ok, s| ct_eq(offered.as_bytes(), s.as_bytes()) | ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_times_written_by_an_admin_give_no_lifetime() {
        let mut rep = ClientRep::default();
        let attrs = rep.attributes.get_or_insert_with(Default::default);
        attrs.insert(SECRET_EXPIRATION_TIME.into(), i64::MAX.to_string());
        attrs.insert(SECRET_CREATION_TIME.into(), i64::MIN.to_string());
        assert_eq!(lifetime(&rep), None);
        assert!(rotation_due(&rep, i64::MAX));
        assert!(!rotation_due(&rep, 0));
    }
    use crate::clients::{ScopeDefaults, new_client};

    fn sealer() -> SecretBox {
        SecretBox::new(&[3u8; 32]).unwrap()
    }

    /// A confidential client created at `now` whose secret lives `days`.
    fn client(now: i64, days: i64) -> (ClientRecord, String) {
        let rep = ClientRep {
            client_id: Some("app".into()),
            ..Default::default()
        };
        let mut n = new_client("r", rep, &ScopeDefaults::default(), &sealer(), now * 1000).unwrap();
        set_expiry(&mut n.record.rep, now, days * DAY_SECS);
        (n.record, n.secret.unwrap())
    }

    #[test]
    fn rotation_is_due_in_the_last_quarter_only() {
        let (c, _) = client(1000, 4);
        assert_eq!(expires_at(&c.rep), 1000 + 4 * DAY_SECS);
        assert_eq!(lifetime(&c.rep), Some(4 * DAY_SECS));
        assert!(!rotation_due(&c.rep, 1000));
        assert!(!rotation_due(&c.rep, 1000 + 3 * DAY_SECS - 1));
        assert!(rotation_due(&c.rep, 1000 + 3 * DAY_SECS));
        assert!(rotation_due(&c.rep, 1000 + 5 * DAY_SECS));
        let mut never = c.clone();
        clear_expiry(&mut never.rep);
        assert!(!rotation_due(&never.rep, i64::MAX / 2));
        assert_eq!(expires_at(&never.rep), 0);
    }

    #[test]
    fn the_previous_secret_works_until_its_own_expiry() {
        let (c, old) = client(0, 4);
        let at = 3 * DAY_SECS + 10;
        let (next, new) = rotate(&c, &sealer(), at, 4 * DAY_SECS);
        assert_ne!(old, new);
        assert_eq!(expires_at(&next.rep), at + 4 * DAY_SECS);
        assert_eq!(
            next.previous_secret.as_ref().unwrap().expires_at,
            4 * DAY_SECS
        );
        let s = sealer();
        assert!(accepts(&next, &s, &new, at));
        assert!(accepts(&next, &s, &old, at));
        assert!(accepts(&next, &s, &old, 4 * DAY_SECS - 1));
        assert!(
            !accepts(&next, &s, &old, 4 * DAY_SECS),
            "old secret expired"
        );
        assert!(accepts(&next, &s, &new, at + 4 * DAY_SECS - 1));
        assert!(
            !accepts(&next, &s, &new, at + 4 * DAY_SECS),
            "new secret expired"
        );
        assert!(!accepts(&next, &s, "", at));
    }

    #[test]
    fn an_expired_secret_is_not_kept_as_the_previous_one() {
        let (c, old) = client(0, 1);
        let (next, _) = rotate(&c, &sealer(), 2 * DAY_SECS, DAY_SECS);
        assert!(next.previous_secret.is_none());
        assert!(!accepts(&next, &sealer(), &old, 2 * DAY_SECS));
    }

    #[test]
    fn a_secret_without_expiry_never_expires() {
        let rep = ClientRep {
            client_id: Some("app".into()),
            ..Default::default()
        };
        let n = new_client("r", rep, &ScopeDefaults::default(), &sealer(), 0).unwrap();
        let secret = n.secret.unwrap();
        assert!(accepts(&n.record, &sealer(), &secret, i64::MAX));
    }
}
