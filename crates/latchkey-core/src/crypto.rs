//! Secrets: random tokens, hashes of opaque tokens, the AEAD box that encrypts client
//! secrets and signing keys at rest (under a key kept outside the database), Argon2id
//! passwords, constant-time equality.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // aws-lc's RNG only fails when the OS has no entropy source at all; there is nothing
    // sensible to do then but stop.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut out).expect("the OS random number generator failed");
    out
}

/// An opaque token of `N` random bytes, base64url without padding.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A random (version 4) UUID: the id of most stored objects, of sessions and of tokens.
pub fn new_uuid() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .to_string()
}

/// A time-ordered (version 7, RFC 9562) UUID: the milliseconds since the epoch, then 74
/// random bits. For rows created at a high rate (clients and their service accounts,
/// events): each new key lands at the right edge of its B-tree indexes instead of on a
/// random page, so a batch of registrations dirties a few pages, not a few per row, and
/// the cost does not grow with the number of clients already stored.
pub fn new_row_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random_bytes::<10>())
        .into_uuid()
        .to_string()
}

/// The stored form of an opaque token: base64url(SHA-256). Opaque tokens carry at least
/// 128 bits of randomness, so an unsalted fast hash is enough to make a dump useless.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

/// Constant-time equality for secrets.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key must be 32 bytes, base64 encoded")]
    BadMasterKey,
    #[error("a sealed value could not be opened: wrong master key or corrupted data")]
    Open,
    #[error("password hashing failed")]
    Password,
}

/// AES-256-GCM under the master key kept outside the database. Each sealed value is
/// `base64url(nonce || ciphertext || tag)`, bound by its associated data to the row it
/// belongs to, so a value copied onto another row does not open.
pub struct SecretBox {
    key: LessSafeKey,
    /// HMAC-SHA256 key derived from the master key (never the AEAD key itself).
    mac: hmac::Key,
}

impl SecretBox {
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::BadMasterKey)?;
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            b"latchkey keyed hash v1",
        );
        Ok(Self {
            key: LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// Reads a master key file's content: base64 (standard or url-safe) of 32 bytes.
    pub fn from_encoded(encoded: &str) -> Result<Self, CryptoError> {
        let text = encoded.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| CryptoError::BadMasterKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadMasterKey);
        }
        Self::new(&bytes)
    }

    /// A new random master key, encoded as `from_encoded` reads it.
    pub fn generate_encoded() -> String {
        base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
    }

    /// The stored form of a short secret, too short for `hash_token` (a dump would give
    /// it back by trying every value): base64url(HMAC-SHA256) under a key derived from the
    /// master key, bound to `context`.
    pub fn keyed_hash(&self, value: &str, context: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(context.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(ctx.sign())
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs over GCM's 64 GiB limit.
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| CryptoError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }
}

/// Run after every Argon2 computation, once its 7 MiB block is freed (`after_password_work`).
static AFTER_PASSWORD_WORK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what runs after each password hash or check, on the thread that did it: the binary
/// hands its allocator the freed Argon2 block back to the operating system there, since a
/// login would otherwise raise the resident set by 7 MiB for good. Set once; later calls
/// are ignored.
pub fn after_password_work(hook: fn()) {
    let _ = AFTER_PASSWORD_WORK.set(hook);
}

fn password_work_done() {
    if let Some(hook) = AFTER_PASSWORD_WORK.get() {
        hook();
    }
}

/// Argon2id with 7 MiB and 5 passes, one of the settings OWASP's Password Storage Cheat
/// Sheet lists as equivalent to 19 MiB and 2 passes: about the same work, a third of the
/// memory held while a login is checked. Stored hashes carry their parameters, so hashes
/// made with other settings still verify.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|_| CryptoError::Password)?;
    let params = argon2::Params::new(7 * 1024, 5, 1, None).map_err(|_| CryptoError::Password)?;
    let hashed = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Password);
    password_work_done();
    hashed
}

/// Checks a password against its stored hash (constant time inside argon2 and aws-lc):
/// Argon2 (Latchkey's own, or imported from Keycloak) or an imported Keycloak PBKDF2 hash
/// (`keycloak_hash`).
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if crate::keycloak_hash::is_pbkdf2(stored) {
        return crate::keycloak_hash::verify_pbkdf2(password, stored);
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => {
            let ok = argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            password_work_done();
            ok
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal(b"hunter2", "client-secret:a");
        assert_eq!(b.open(&sealed, "client-secret:a").unwrap(), b"hunter2");
        assert!(b.open(&sealed, "client-secret:b").is_err());
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, "client-secret:a").is_err());
        assert!(!sealed.contains("hunter2"));
    }

    #[test]
    fn the_hook_runs_after_each_password_hash_and_check() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        after_password_work(|| {
            RUNS.fetch_add(1, Ordering::SeqCst);
        });
        let before = RUNS.load(Ordering::SeqCst);
        let h = hash_password("pw").unwrap();
        let hashed = RUNS.load(Ordering::SeqCst);
        assert!(hashed > before, "after hashing");
        assert!(verify_password("pw", &h));
        assert!(RUNS.load(Ordering::SeqCst) > hashed, "after checking");
    }

    #[test]
    fn passwords_verify_with_argon2id() {
        let h = hash_password("pw").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_password("pw", &h));
        // A hash made with the crate's defaults (19 MiB, 2 passes) still verifies.
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&[1u8; 16]).unwrap();
        let old = argon2::Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(old.contains("m=19456,t=2"), "{old}");
        assert!(verify_password("pw", &old));
        assert!(!verify_password("pw2", &old));
        assert!(!verify_password("pw2", &h));
        assert!(!verify_password("pw", "garbage"));
    }

    #[test]
    fn tokens_have_the_requested_entropy() {
        assert_eq!(random_token::<32>().len(), 43);
        assert_ne!(random_token::<16>(), random_token::<16>());
        assert_eq!(new_uuid().len(), 36);
        let (a, b) = (new_row_id(), new_row_id());
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "7", "version 7: {a}");
    }
}
