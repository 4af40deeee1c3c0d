//! A realm's recorded events (registration requests, accepted and refused) and the query
//! language every event list shares: Keycloak's date, paging and order parameters.

use latchkey_core::store::{EventQuery, EventRecord, EventWindow};

use super::RealmAdmin;
use crate::error::AdminError;
use crate::state::SharedState;

/// `yyyy-MM-dd` (the start of that day, or its end for `dateTo`) or epoch milliseconds.
fn parse_date(name: &str, value: &str, end_of_day: bool) -> Result<i64, AdminError> {
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
    // yyyy: four digits, as Keycloak's date format reads it; a longer year would overflow
    // the day count below.
    if !(0..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
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
pub(super) fn new_window() -> EventWindow {
    EventWindow {
        max: 100,
        ..Default::default()
    }
}

/// Reads one of the parameters every event list shares (`dateFrom`, `dateTo`, `first`,
/// `max`, `direction`) into `w`; false for any other parameter.
fn window_param(w: &mut EventWindow, key: &str, value: &str) -> Result<bool, AdminError> {
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

/// Reads an event list's query string (`raw`, without `?`): the shared parameters into
/// `window`, every other one handed to `other`.
pub(super) fn parse_query(
    raw: Option<&str>,
    window: &mut EventWindow,
    mut other: impl FnMut(&str, String),
) -> Result<(), AdminError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| AdminError::BadRequest("malformed query".into()))?;
    for (k, v) in pairs {
        if !window_param(window, &k, &v)? {
            other(&k, v);
        }
    }
    Ok(())
}

/// Parses Keycloak's `events` query (`type` repeats).
pub fn query(raw: Option<&str>) -> Result<EventQuery, AdminError> {
    let mut q = EventQuery::default();
    let mut window = new_window();
    parse_query(raw, &mut window, |k, v| match k {
        "type" => q.types.push(v),
        "client" => q.client_id = Some(v),
        "user" => q.user_id = Some(v),
        "ipAddress" => q.ip_address = Some(v),
        _ => {}
    })?;
    q.window = window;
    Ok(q)
}

/// The realm's events that match `q`.
pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    q: &EventQuery,
) -> Result<Vec<EventRecord>, AdminError> {
    Ok(state.store.list_events(&admin.realm.id, q).await?)
}

/// Forgets the realm's events.
pub async fn clear(state: &SharedState, admin: &RealmAdmin<'_>) -> Result<(), AdminError> {
    Ok(state.store.clear_events(&admin.realm.id).await?)
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
