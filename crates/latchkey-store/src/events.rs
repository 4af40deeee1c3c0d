//! Events (inserted through the group commit) and admin events: stored, filtered, cleared.

use latchkey_core::store::*;
use sqlx::AnyPool;
use sqlx::any::AnyRow;

use crate::sql::{backend_err, from_doc, get};
use crate::sql_store::SqlStore;

const ADMIN_EVENT_COLUMNS: &str = "id, realm_id, time, operation_type, resource_type, resource_path, \
     auth_realm_id, auth_client_id, auth_user_id, ip_address, representation";

pub(crate) async fn insert_event(db: &SqlStore, e: &EventRecord) -> StoreResult<()> {
    db.writes.event(e.clone()).await
}

pub(crate) async fn list_events(
    db: &SqlStore,
    realm_id: &str,
    q: &EventQuery,
) -> StoreResult<Vec<EventRecord>> {
    let mut f = EventFilter::new(
        "SELECT id, realm_id, time, type, client_id, user_id, ip_address, error, details FROM events",
    );
    f.any_of("type", &q.types);
    f.equals("client_id", &q.client_id);
    f.equals("user_id", &q.user_id);
    f.equals("ip_address", &q.ip_address);
    let rows = f.fetch(&db.pool, realm_id, &q.window).await?;
    rows.iter().map(event_row).collect()
}

pub(crate) async fn clear_events(db: &SqlStore, realm_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM events WHERE realm_id = $1")
        .bind(realm_id)
        .execute(&db.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
}

pub(crate) async fn insert_admin_event(db: &SqlStore, e: &AdminEventRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO admin_events ({ADMIN_EVENT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&e.id)
    .bind(&e.realm_id)
    .bind(e.time)
    .bind(&e.operation_type)
    .bind(&e.resource_type)
    .bind(&e.resource_path)
    .bind(&e.auth_realm_id)
    .bind(&e.auth_client_id)
    .bind(&e.auth_user_id)
    .bind(&e.ip_address)
    .bind(e.representation.clone())
    .execute(&db.writer)
    .await
    .map(|_| ())
    .map_err(backend_err)
}

pub(crate) async fn list_admin_events(
    db: &SqlStore,
    realm_id: &str,
    q: &AdminEventQuery,
) -> StoreResult<Vec<AdminEventRecord>> {
    let mut f = EventFilter::new(&format!("SELECT {ADMIN_EVENT_COLUMNS} FROM admin_events"));
    f.any_of("operation_type", &q.operation_types);
    f.any_of("resource_type", &q.resource_types);
    f.equals("auth_realm_id", &q.auth_realm_id);
    f.equals("auth_client_id", &q.auth_client_id);
    f.equals("auth_user_id", &q.auth_user_id);
    f.equals("ip_address", &q.ip_address);
    if let Some(path) = &q.resource_path {
        f.arg(" AND resource_path LIKE ", like_pattern(path));
        f.sql.push_str(" ESCAPE '\\'");
    }
    let rows = f.fetch(&db.pool, realm_id, &q.window).await?;
    rows.iter().map(admin_event_row).collect()
}

pub(crate) async fn clear_admin_events(db: &SqlStore, realm_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM admin_events WHERE realm_id = $1")
        .bind(realm_id)
        .execute(&db.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
}

fn event_row(row: &AnyRow) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        time: get(row, "time")?,
        kind: get(row, "type")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        ip_address: get(row, "ip_address")?,
        error: get(row, "error")?,
        details: from_doc(row, "details")?,
    })
}

fn admin_event_row(row: &AnyRow) -> StoreResult<AdminEventRecord> {
    Ok(AdminEventRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        time: get(row, "time")?,
        operation_type: get(row, "operation_type")?,
        resource_type: get(row, "resource_type")?,
        resource_path: get(row, "resource_path")?,
        auth_realm_id: get(row, "auth_realm_id")?,
        auth_client_id: get(row, "auth_client_id")?,
        auth_user_id: get(row, "auth_user_id")?,
        ip_address: get(row, "ip_address")?,
        representation: get(row, "representation")?,
    })
}

/// An event list's query: `WHERE realm_id = $1`, then one condition per filter given, the
/// time window, order and page.
struct EventFilter {
    sql: String,
    args: Vec<String>,
}

impl EventFilter {
    fn new(select: &str) -> EventFilter {
        EventFilter {
            sql: format!("{select} WHERE realm_id = $1"),
            args: Vec::new(),
        }
    }

    /// Appends `condition` followed by the next parameter, bound to `value`.
    fn arg(&mut self, condition: &str, value: String) {
        self.args.push(value);
        self.sql
            .push_str(&format!("{condition}${}", self.args.len() + 1));
    }

    fn equals(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.arg(&format!(" AND {column} = "), v.clone());
        }
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let mut list = Vec::new();
        for v in values {
            self.args.push(v.clone());
            list.push(format!("${}", self.args.len() + 1));
        }
        self.sql
            .push_str(&format!(" AND {column} IN ({})", list.join(", ")));
    }

    async fn fetch(
        mut self,
        pool: &AnyPool,
        realm_id: &str,
        w: &EventWindow,
    ) -> StoreResult<Vec<AnyRow>> {
        if let Some(from) = w.date_from {
            self.sql.push_str(&format!(" AND time >= {from}"));
        }
        if let Some(to) = w.date_to {
            self.sql.push_str(&format!(" AND time <= {to}"));
        }
        self.sql.push_str(if w.ascending {
            " ORDER BY time ASC, id"
        } else {
            " ORDER BY time DESC, id"
        });
        self.sql.push_str(&format!(
            " LIMIT {} OFFSET {}",
            w.max.max(0),
            w.first.max(0)
        ));
        let mut query = sqlx::query(&self.sql).bind(realm_id);
        for a in self.args {
            query = query.bind(a);
        }
        query.fetch_all(pool).await.map_err(backend_err)
    }
}

/// A `LIKE` pattern from a path where `*` matches anything (`\` escapes the rest).
fn like_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
