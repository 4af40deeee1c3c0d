//! RFC 7591 registration metadata: parse, validate (dev and production rules), convert to
//! a Keycloak client and back; and the `default` provider's representation validation.
//! Never a panic; whatever validates converts, and converts back to metadata that
//! validates again.
#![no_main]

use latchkey_core::clients::ScopeDefaults;
use latchkey_core::registration::convert::{to_client_rep, to_metadata, validate_keycloak_rep};
use latchkey_core::registration::metadata::{ClientMetadata, ValidationContext, parse_object};
use latchkey_core::rep::ClientRep;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let defaults = ScopeDefaults {
        default: vec!["profile".into(), "email".into()],
        optional: vec!["offline_access".into()],
        all: vec!["profile".into(), "email".into(), "offline_access".into()],
        offered: vec!["profile".into(), "email".into(), "offline_access".into()],
    };
    let all_scopes = defaults.all.clone();
    for dev_mode in [false, true] {
        let ctx = ValidationContext { dev_mode };
        if let Ok(obj) = parse_object(data)
            && let Ok(meta) = ClientMetadata::validate(&obj, ctx)
        {
            let rep = to_client_rep(&meta, "fuzz-client", None, &defaults, &all_scopes);
            let back = to_metadata(&rep);
            // What was registered reads back as metadata that registers again.
            ClientMetadata::validate(&back, ctx)
                .unwrap_or_else(|e| panic!("round trip refused: {e:?}\n{back:?}"));
        }
        if let Ok(rep) = serde_json::from_slice::<ClientRep>(data) {
            let _ = validate_keycloak_rep(&rep, ctx);
        }
    }
});
