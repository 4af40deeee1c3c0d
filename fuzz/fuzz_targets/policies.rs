//! Client registration policies: any component configuration is validated (never a
//! panic) and, whether valid or not, evaluated against a client from the input.
#![no_main]

use std::collections::BTreeMap;

use latchkey_core::policies::{Action, POLICY_TYPE, Provider, Request, evaluate, validate_config};
use latchkey_core::rep::ClientRep;
use latchkey_core::store::ComponentRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (config, client) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let Ok(config) = serde_json::from_slice::<BTreeMap<String, Vec<String>>>(config) else {
        return;
    };
    let client: ClientRep = serde_json::from_slice(client).unwrap_or_default();
    let components: Vec<ComponentRecord> = Provider::ALL
        .iter()
        .map(|p| ComponentRecord {
            id: p.id().into(),
            realm_id: "r".into(),
            parent_id: "r".into(),
            provider_type: POLICY_TYPE.into(),
            provider_id: p.id().into(),
            sub_type: Some("anonymous".into()),
            name: p.id().into(),
            config: config.clone(),
        })
        .collect();
    for (p, c) in Provider::ALL.iter().zip(&components) {
        let _ = validate_config(*p, c);
    }
    let hosts = BTreeMap::new();
    let scopes = vec!["profile".to_string()];
    for action in [Action::Create, Action::Update] {
        let r = Request {
            action,
            source: Some("127.0.0.1".parse().unwrap()),
            resolved_hosts: &hosts,
            client: &client,
            previous: Some(&client),
            requested_scopes: &scopes,
            offered_scopes: &scopes,
            check_source: true,
            client_count: Some(3),
        };
        let _ = evaluate(&components, "anonymous", &r);
    }
});
