//! The realm switches of dynamic client registration: whether anonymous callers, and
//! authenticated ones, may register clients, and whether the realm's client registration
//! policies are enforced. Registration obeys them; the admin API and the console show and
//! set them.

use latchkey_core::realm_setup::REGISTRATION_SWITCHES;
use latchkey_core::store::RealmRecord;

/// Anonymous registration (no token, or an initial access token) is allowed.
pub const ANONYMOUS_SWITCH: &str = "clientRegistrationAnonymousEnabled";
/// Registration with a bearer access token is allowed.
pub const AUTHENTICATED_SWITCH: &str = "clientRegistrationAuthenticatedEnabled";
/// The realm's client registration policies are applied to registrations.
pub const POLICIES_SWITCH: &str = "clientRegistrationPoliciesEnabled";

/// Whether a realm switch is on: `"true"`/`"false"` in the realm's attributes, or, where
/// the realm does not set it, the default `REGISTRATION_SWITCHES` gives.
pub fn switch(realm: &RealmRecord, name: &str) -> bool {
    let default = REGISTRATION_SWITCHES
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v == "true")
        .unwrap_or(false);
    realm
        .rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(default)
}
