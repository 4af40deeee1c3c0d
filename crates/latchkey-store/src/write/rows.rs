//! Multi-row inserts. A statement sent to SQLite through sqlx costs a round trip to sqlx's
//! worker thread (two context switches), and to PostgreSQL a network round trip, so a
//! realm's bundle and a batch of registrations and events (`group_commit`) insert each
//! table's rows with one statement per chunk instead of one per row. Chunk sizes are
//! powers of two up to `MAX_CHUNK`, so the statement cache holds at most seven shapes per
//! table. A row lists its values once (`Insert::values`); sqlx binds them here, and the
//! group commit's own SQLite connection binds the same list (`sqlite_writer`).

use latchkey_core::registration::kind::RegistrationKind;
use latchkey_core::store::{
    ClientRecord, ComponentRecord, EventRecord, KeyRecord, RefreshTokenRecord, RoleRecord,
    ScopeRecord, TransientRecord, UserRecord,
};
use sqlx::AnyConnection;

use latchkey_core::store::{StoreError, StoreResult};

use crate::sql::{backend_err, to_doc, write_err};

/// One value of a row, as both ways of writing bind it.
pub(crate) enum Param<'a> {
    Text(Option<&'a str>),
    Owned(String),
    Int(i64),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(Some(s))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Self {
        Param::Text(Some(s))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Param::Text(s)
    }
}

impl From<String> for Param<'_> {
    fn from(s: String) -> Self {
        Param::Owned(s)
    }
}

impl From<i64> for Param<'_> {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

/// The largest number of rows one statement inserts.
pub(crate) const MAX_CHUNK: usize = 64;

/// A row of one table.
pub(crate) trait Insert {
    /// `INSERT INTO table (columns)`
    const HEAD: &'static str;
    const COLUMNS: usize;
    /// What follows the values (`ON CONFLICT … DO NOTHING`).
    const TAIL: &'static str = "";
    /// What a unique violation means (`Conflict { what }`); without it, a backend error.
    const UNIQUE: Option<&'static str> = None;
    /// This row's values, in `HEAD`'s column order.
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()>;
}

/// A failed sqlx insert of `R`'s rows.
fn insert_err<R: Insert>(e: sqlx::Error) -> StoreError {
    match R::UNIQUE {
        Some(what) => write_err(what)(e),
        None => backend_err(e),
    }
}

/// `HEAD VALUES ($1, …, $c), ($c+1, …), … TAIL` for `rows` rows of `columns` values; with
/// `numbered` false the placeholders are SQLite's anonymous `?`, bound in order.
///
/// The one place where the two backends' statements differ, and only in how placeholders
/// are written: sqlx binds a numbered SQLite parameter by asking SQLite for its name, which
/// SQLite finds by a linear scan, so binding a statement of n numbered parameters costs n²
/// (a 64-row insert of users has 640), while anonymous ones cost nothing to find.
/// PostgreSQL only knows `$n`.
pub(crate) fn statement(
    head: &str,
    columns: usize,
    rows: usize,
    tail: &str,
    numbered: bool,
) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 5 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * columns + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// Splits `n` rows into chunks whose sizes are powers of two, largest first.
pub(crate) fn chunk_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX_CHUNK {
            MAX_CHUNK
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        n -= size;
        Some(size)
    })
}

/// Inserts `rows` with one statement per chunk.
pub(crate) async fn insert_rows<R: Insert>(
    conn: &mut AnyConnection,
    rows: &[&R],
) -> StoreResult<()> {
    let numbered = conn.backend_name() != <sqlx::Sqlite as sqlx::Database>::NAME;
    let mut rest = rows;
    for size in chunk_sizes(rows.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = statement(R::HEAD, R::COLUMNS, size, R::TAIL, numbered);
        let mut values = Vec::with_capacity(size * R::COLUMNS);
        for row in chunk {
            row.values(&mut values)?;
        }
        let mut q = sqlx::query(&sql);
        for value in values {
            q = match value {
                Param::Text(s) => q.bind(s),
                Param::Owned(s) => q.bind(s),
                Param::Int(n) => q.bind(n),
            };
        }
        q.execute(&mut *conn).await.map_err(insert_err::<R>)?;
    }
    Ok(())
}

/// A client's last-used day (`$1` day, `$2` realm, `$3` client), unless it shows that day
/// or a later one already: the group commit's SQLite connection runs it (through sqlx,
/// `group_commit::touch_many` sets many clients' at once).
pub(crate) const TOUCH: &str = "UPDATE clients SET last_used = $1 \
     WHERE realm_id = $2 AND id = $3 AND (last_used IS NULL OR last_used < $1)";

impl Insert for ClientRecord {
    const HEAD: &'static str = "INSERT INTO clients (id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at, registration_kind)";
    const COLUMNS: usize = 8;
    const UNIQUE: Option<&'static str> = Some("clientId");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        values_with_doc(self, out)
    }
}

impl Documented for ClientRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.rep)
    }
    fn values_with<'a>(&'a self, doc: Param<'a>, out: &mut Vec<Param<'a>>) {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            (&self.client_id).into(),
            doc,
            self.secret_sealed.as_deref().into(),
            self.rat_hash.as_deref().into(),
            self.created_at.into(),
            RegistrationKind::of(&self.rep).as_str().into(),
        ]);
    }
}

impl Insert for UserRecord {
    const HEAD: &'static str = "INSERT INTO users (id, realm_id, username, email, first_name, last_name, doc, password_hash, service_account_client, created_at)";
    const COLUMNS: usize = 10;
    const UNIQUE: Option<&'static str> = Some("username");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        values_with_doc(self, out)
    }
}

impl Documented for UserRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.rep)
    }
    fn values_with<'a>(&'a self, doc: Param<'a>, out: &mut Vec<Param<'a>>) {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            (&self.username).into(),
            self.email.as_deref().into(),
            self.rep.first_name.as_deref().into(),
            self.rep.last_name.as_deref().into(),
            doc,
            self.password_hash.as_deref().into(),
            self.service_account_client.as_deref().into(),
            self.created_at.into(),
        ]);
    }
}

/// A user's role mapping.
pub(crate) struct UserRole<'a> {
    pub realm_id: &'a str,
    pub user_id: &'a str,
    pub role_id: &'a str,
}

impl Insert for UserRole<'_> {
    const HEAD: &'static str = "INSERT INTO user_roles (user_id, role_id, realm_id)";
    const COLUMNS: usize = 3;
    const TAIL: &'static str = " ON CONFLICT (user_id, role_id) DO NOTHING";
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            self.user_id.into(),
            self.role_id.into(),
            self.realm_id.into(),
        ]);
        Ok(())
    }
}

impl Insert for EventRecord {
    const HEAD: &'static str = "INSERT INTO events (id, realm_id, time, type, client_id, user_id, ip_address, error, details)";
    const COLUMNS: usize = 9;
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        values_with_doc(self, out)
    }
}

impl Documented for EventRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.details)
    }
    fn values_with<'a>(&'a self, details: Param<'a>, out: &mut Vec<Param<'a>>) {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            self.time.into(),
            (&self.kind).into(),
            self.client_id.as_deref().into(),
            self.user_id.as_deref().into(),
            self.ip_address.as_deref().into(),
            self.error.as_deref().into(),
            details,
        ]);
    }
}

impl Insert for RefreshTokenRecord {
    const HEAD: &'static str = "INSERT INTO refresh_tokens (hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, expires_at, resources)";
    const COLUMNS: usize = 9;
    const UNIQUE: Option<&'static str> = Some("refresh token");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.hash).into(),
            (&self.realm_id).into(),
            (&self.client_uuid).into(),
            (&self.user_id).into(),
            (&self.scope).into(),
            (&self.session_id).into(),
            self.auth_time.into(),
            self.expires_at.into(),
            // NULL when none was asked for: the common case costs nothing to store.
            match self.resources.is_empty() {
                true => Param::Text(None),
                false => to_doc(&self.resources)?.into(),
            },
        ]);
        Ok(())
    }
}

/// A row of `revoked_tokens` that records a login session's revocation
/// (`tokens::revoke_session`). A second revocation of the session keeps the later expiry.
pub(crate) struct RevokedKey {
    pub(crate) key: String,
    pub(crate) realm_id: String,
    pub(crate) expires_at: i64,
}

impl Insert for RevokedKey {
    const HEAD: &'static str = "INSERT INTO revoked_tokens (jti, realm_id, expires_at)";
    const COLUMNS: usize = 3;
    const TAIL: &'static str = " ON CONFLICT (jti) DO UPDATE SET expires_at = CASE \
        WHEN excluded.expires_at > revoked_tokens.expires_at THEN excluded.expires_at \
        ELSE revoked_tokens.expires_at END";
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.key).into(),
            (&self.realm_id).into(),
            self.expires_at.into(),
        ]);
        Ok(())
    }
}

impl Insert for TransientRecord {
    const HEAD: &'static str = "INSERT INTO transient (kind, id, realm_id, data, expires_at)";
    const COLUMNS: usize = 5;
    const TAIL: &'static str = " ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        values_with_doc(self, out)
    }
}

impl Documented for TransientRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.data)
    }
    fn values_with<'a>(&'a self, doc: Param<'a>, out: &mut Vec<Param<'a>>) {
        out.extend([
            (&self.kind).into(),
            (&self.id).into(),
            (&self.realm_id).into(),
            doc,
            self.expires_at.into(),
        ]);
    }
}

/// A row with a JSON document column (a client's or user's `doc`, an event's `details`).
pub(crate) trait Documented: Insert {
    /// The document, serialised.
    fn doc(&self) -> StoreResult<String>;
    /// The row's values with `doc` in the document's place.
    fn values_with<'a>(&'a self, doc: Param<'a>, out: &mut Vec<Param<'a>>);
}

/// `Insert::values` of a row with a document: the document serialised here, in its place.
fn values_with_doc<'a, R: Documented>(row: &'a R, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
    row.values_with(row.doc()?.into(), out);
    Ok(())
}

/// A row whose document was serialised before it reached the one writer task
/// (`group_commit`): the requests' tasks do that work side by side, while everything the
/// writer does stands in line.
pub(crate) struct Rendered<R> {
    pub row: R,
    doc: String,
}

impl<R: Documented> Rendered<R> {
    pub(crate) fn new(row: R) -> StoreResult<Rendered<R>> {
        let doc = row.doc()?;
        Ok(Rendered { row, doc })
    }
}

impl<R: Documented> Insert for Rendered<R> {
    const HEAD: &'static str = R::HEAD;
    const COLUMNS: usize = R::COLUMNS;
    const TAIL: &'static str = R::TAIL;
    const UNIQUE: Option<&'static str> = R::UNIQUE;
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        self.row.values_with(self.doc.as_str().into(), out);
        Ok(())
    }
}

impl Insert for RoleRecord {
    const HEAD: &'static str = "INSERT INTO roles (id, realm_id, client, name, doc)";
    const COLUMNS: usize = 5;
    const UNIQUE: Option<&'static str> = Some("role");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            self.client.as_deref().unwrap_or_default().into(),
            (&self.name).into(),
            to_doc(&self.rep)?.into(),
        ]);
        Ok(())
    }
}

impl Insert for ScopeRecord {
    const HEAD: &'static str = "INSERT INTO client_scopes (id, realm_id, name, doc)";
    const COLUMNS: usize = 4;
    const UNIQUE: Option<&'static str> = Some("client scope");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            (&self.name).into(),
            to_doc(&self.rep)?.into(),
        ]);
        Ok(())
    }
}

/// Orders components by creation: wall-clock nanoseconds plus a per-process sequence, so
/// a bundle inserted within one clock tick keeps its order.
static COMPONENT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new component's `created_at`.
fn component_order() -> i64 {
    COMPONENT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as i64 + now_nanos()
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Insert for ComponentRecord {
    const HEAD: &'static str = "INSERT INTO components (id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config, created_at)";
    const COLUMNS: usize = 9;
    const UNIQUE: Option<&'static str> = Some("component");
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.id).into(),
            (&self.realm_id).into(),
            (&self.parent_id).into(),
            (&self.provider_type).into(),
            (&self.provider_id).into(),
            self.sub_type.as_deref().into(),
            (&self.name).into(),
            to_doc(&self.config)?.into(),
            component_order().into(),
        ]);
        Ok(())
    }
}

impl Insert for KeyRecord {
    const HEAD: &'static str =
        "INSERT INTO realm_keys (kid, realm_id, alg, private_sealed, public_jwk, created_at)";
    const COLUMNS: usize = 6;
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            (&self.kid).into(),
            (&self.realm_id).into(),
            (&self.alg).into(),
            (&self.private_sealed).into(),
            to_doc(&self.public_jwk)?.into(),
            self.created_at.into(),
        ]);
        Ok(())
    }
}

/// A realm's default (or optional) client scope.
pub(crate) struct DefaultScope<'a> {
    pub realm_id: &'a str,
    pub scope_id: &'a str,
    pub default: bool,
}

impl Insert for DefaultScope<'_> {
    const HEAD: &'static str = "INSERT INTO realm_default_scopes (realm_id, scope_id, is_default)";
    const COLUMNS: usize = 3;
    fn values<'a>(&'a self, out: &mut Vec<Param<'a>>) -> StoreResult<()> {
        out.extend([
            self.realm_id.into(),
            self.scope_id.into(),
            i64::from(self.default).into(),
        ]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_largest_first() {
        let sizes = |n| chunk_sizes(n).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(37), [32, 4, 1]);
        assert_eq!(sizes(64), [64]);
        assert_eq!(sizes(130), [64, 64, 2]);
        for n in 0..300 {
            assert_eq!(sizes(n).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn statements_number_every_value() {
        assert_eq!(
            statement(
                "INSERT INTO t (a, b)",
                2,
                2,
                " ON CONFLICT DO NOTHING",
                true
            ),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            statement("INSERT INTO t (a, b)", 2, 2, "", false),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
