//! `GET /admin/realms/{realm}/events`: recorded events with Keycloak's filters.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;
use latchkey_core::store::{EventQuery, EventRecord, EventWindow};
use serde_json::{Value, json};

use super::AdminAuth;
use crate::error::AdminError;
use crate::state::SharedState;

fn event_out(e: &EventRecord) -> Value {
    let mut v = json!({
        "id": e.id,
        "time": e.time,
        "type": e.kind,
        "realmId": e.realm_id,
        "details": e.details,
    });
    for (key, value) in [
        ("clientId", &e.client_id),
        ("userId", &e.user_id),
        ("ipAddress", &e.ip_address),
        ("error", &e.error),
    ] {
        if let Some(x) = value {
            v[key] = json!(x);
        }
    }
    v
}

/// `yyyy-MM-dd` (the start of that day, or its end for `dateTo`) or epoch milliseconds.
pub(crate) fn parse_date(name: &str, value: &str, end_of_day: bool) -> Result<i64, AdminError> {
    let bad = || {
        AdminError::BadRequest(format!(
            "Invalid value for '{name}', expected format is yyyy-MM-dd or an Epoch timestamp"
        ))
    };
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    let parts: Vec<&str> = value.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm), UTC.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let start = days * 86_400_000;
    Ok(if end_of_day {
        start + 86_400_000 - 1
    } else {
        start
    })
}

/// Keycloak's default page: 100 events, newest first.
pub(crate) fn new_window() -> EventWindow {
    EventWindow {
        max: 100,
        ..Default::default()
    }
}

/// Reads one of the parameters every event list shares (`dateFrom`, `dateTo`, `first`,
/// `max`, `direction`) into `w`; false for any other parameter.
pub(crate) fn window_param(
    w: &mut EventWindow,
    key: &str,
    value: &str,
) -> Result<bool, AdminError> {
    let number = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| AdminError::BadRequest(format!("Invalid value for '{key}'")))
    };
    match key {
        "dateFrom" => w.date_from = Some(parse_date(key, value, false)?),
        "dateTo" => w.date_to = Some(parse_date(key, value, true)?),
        "first" => w.first = number(value)?,
        "max" => w.max = number(value)?,
        "direction" => {
            w.ascending = match value {
                "asc" => true,
                "desc" => false,
                _ => {
                    return Err(AdminError::BadRequest(
                        "Invalid value for 'direction'".into(),
                    ));
                }
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewEvents).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| AdminError::BadRequest("malformed query".into()))?;
    let mut q = EventQuery {
        window: new_window(),
        ..Default::default()
    };
    for (k, v) in pairs {
        if window_param(&mut q.window, &k, &v)? {
            continue;
        }
        match k.as_str() {
            "type" => q.types.push(v),
            "client" => q.client_id = Some(v),
            "user" => q.user_id = Some(v),
            "ipAddress" => q.ip_address = Some(v),
            _ => {}
        }
    }
    let events = state.store.list_events(&realm.id, &q).await?;
    Ok(axum::Json(events.iter().map(event_out).collect::<Vec<_>>()).into_response())
}

/// `DELETE /admin/realms/{realm}/events`.
pub async fn clear(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageEvents).await?;
    state.store.clear_events(&realm.id).await?;
    Ok(super::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_or_epoch_millis() {
        assert_eq!(parse_date("dateFrom", "1970-01-01", false).unwrap(), 0);
        assert_eq!(
            parse_date("dateFrom", "2026-11-26", false).unwrap(),
            1_795_651_200_000
        );
        assert_eq!(
            parse_date("dateTo", "1970-01-01", true).unwrap(),
            86_399_999
        );
        assert_eq!(parse_date("dateFrom", "12345", false).unwrap(), 12345);
        assert!(parse_date("dateFrom", "26/11/2026", false).is_err());
        assert!(parse_date("dateFrom", "2026-13-01", false).is_err());
    }
}
