//! `GET /admin/realms/{realm}/events`: recorded events with Keycloak's filters.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;
use latchkey_core::store::{EventQuery, EventRecord};
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
        max: 100,
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "type" => q.types.push(v),
            "client" => q.client_id = Some(v),
            "user" => q.user_id = Some(v),
            "ipAddress" => q.ip_address = Some(v),
            "dateFrom" => q.date_from = Some(parse_date("dateFrom", &v, false)?),
            "dateTo" => q.date_to = Some(parse_date("dateTo", &v, true)?),
            "first" => {
                q.first = v
                    .parse()
                    .map_err(|_| AdminError::BadRequest("Invalid value for 'first'".into()))?
            }
            "max" => {
                q.max = v
                    .parse()
                    .map_err(|_| AdminError::BadRequest("Invalid value for 'max'".into()))?
            }
            "direction" => {
                q.ascending = match v.as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => {
                        return Err(AdminError::BadRequest(
                            "Invalid value for 'direction'".into(),
                        ));
                    }
                }
            }
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
