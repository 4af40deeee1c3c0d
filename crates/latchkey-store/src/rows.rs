//! Multi-row inserts. A statement sent to SQLite costs a round trip to sqlx's worker
//! thread (two context switches), and to PostgreSQL a network round trip, so a realm's
//! bundle and a batch of registrations and events (`group_commit`) insert each table's rows with one
//! statement per chunk instead of one per row. Chunk sizes are powers of two up to
//! `MAX_CHUNK`, so the statement cache holds at most seven shapes per table.

use latchkey_core::store::{
    ClientRecord, ComponentRecord, EventRecord, KeyRecord, RoleRecord, ScopeRecord, UserRecord,
};
use sqlx::AnyConnection;
use sqlx::any::AnyArguments;

use crate::{StoreResult, backend_err, to_doc, write_err};
use latchkey_core::store::StoreError;

pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>;

/// A value a query can bind (here: a document, owned or borrowed).
pub(crate) trait Value<'q>:
    'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>
{
}
impl<'q, T: 'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>> Value<'q> for T {}

/// The largest number of rows one statement inserts.
pub(crate) const MAX_CHUNK: usize = 64;

/// A row of one table.
pub(crate) trait Insert {
    /// `INSERT INTO table (columns)`
    const HEAD: &'static str;
    const COLUMNS: usize;
    /// What follows the values (`ON CONFLICT … DO NOTHING`).
    const TAIL: &'static str = "";
    /// Binds this row's values, in `HEAD`'s column order.
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>>;
    /// What a failed insert means (a unique violation names the broken rule).
    fn error(e: sqlx::Error) -> StoreError {
        backend_err(e)
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
fn statement(head: &str, columns: usize, rows: usize, tail: &str, numbered: bool) -> String {
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
fn chunk_sizes(mut n: usize) -> impl Iterator<Item = usize> {
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
        let mut q = sqlx::query(&sql);
        for row in chunk {
            q = row.bind(q)?;
        }
        q.execute(&mut *conn).await.map_err(R::error)?;
    }
    Ok(())
}

impl Insert for ClientRecord {
    const HEAD: &'static str =
        "INSERT INTO clients (id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at)";
    const COLUMNS: usize = 7;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(self.bind_with(q, self.doc()?))
    }
    fn error(e: sqlx::Error) -> StoreError {
        write_err("clientId")(e)
    }
}

impl Documented for ClientRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.rep)
    }
    fn bind_with<'q>(&'q self, q: Query<'q>, doc: impl Value<'q>) -> Query<'q> {
        q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(&self.client_id)
            .bind(doc)
            .bind(self.secret_sealed.as_deref())
            .bind(self.rat_hash.as_deref())
            .bind(self.created_at)
    }
}

impl Insert for UserRecord {
    const HEAD: &'static str = "INSERT INTO users (id, realm_id, username, email, first_name, last_name, doc, password_hash, service_account_client, created_at)";
    const COLUMNS: usize = 10;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(self.bind_with(q, self.doc()?))
    }
    fn error(e: sqlx::Error) -> StoreError {
        write_err("username")(e)
    }
}

impl Documented for UserRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.rep)
    }
    fn bind_with<'q>(&'q self, q: Query<'q>, doc: impl Value<'q>) -> Query<'q> {
        q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(&self.username)
            .bind(self.email.as_deref())
            .bind(self.rep.first_name.as_deref())
            .bind(self.rep.last_name.as_deref())
            .bind(doc)
            .bind(self.password_hash.as_deref())
            .bind(self.service_account_client.as_deref())
            .bind(self.created_at)
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
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(self.user_id).bind(self.role_id).bind(self.realm_id))
    }
}

impl Insert for EventRecord {
    const HEAD: &'static str = "INSERT INTO events (id, realm_id, time, type, client_id, user_id, ip_address, error, details)";
    const COLUMNS: usize = 9;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(self.bind_with(q, self.doc()?))
    }
}

impl Documented for EventRecord {
    fn doc(&self) -> StoreResult<String> {
        to_doc(&self.details)
    }
    fn bind_with<'q>(&'q self, q: Query<'q>, details: impl Value<'q>) -> Query<'q> {
        q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(self.time)
            .bind(&self.kind)
            .bind(self.client_id.as_deref())
            .bind(self.user_id.as_deref())
            .bind(self.ip_address.as_deref())
            .bind(self.error.as_deref())
            .bind(details)
    }
}

/// A row with a JSON document column (a client's or user's `doc`, an event's `details`).
pub(crate) trait Documented: Insert {
    /// The document, serialised.
    fn doc(&self) -> StoreResult<String>;
    /// Binds the row with `doc` in the document's place.
    fn bind_with<'q>(&'q self, q: Query<'q>, doc: impl Value<'q>) -> Query<'q>;
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
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(self.row.bind_with(q, self.doc.as_str()))
    }
    fn error(e: sqlx::Error) -> StoreError {
        R::error(e)
    }
}

impl Insert for RoleRecord {
    const HEAD: &'static str = "INSERT INTO roles (id, realm_id, client, name, doc)";
    const COLUMNS: usize = 5;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(self.client.as_deref().unwrap_or_default())
            .bind(&self.name)
            .bind(to_doc(&self.rep)?))
    }
    fn error(e: sqlx::Error) -> StoreError {
        write_err("role")(e)
    }
}

impl Insert for ScopeRecord {
    const HEAD: &'static str = "INSERT INTO client_scopes (id, realm_id, name, doc)";
    const COLUMNS: usize = 4;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(&self.name)
            .bind(to_doc(&self.rep)?))
    }
    fn error(e: sqlx::Error) -> StoreError {
        write_err("client scope")(e)
    }
}

impl Insert for ComponentRecord {
    const HEAD: &'static str = "INSERT INTO components (id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config, created_at)";
    const COLUMNS: usize = 9;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(&self.id)
            .bind(&self.realm_id)
            .bind(&self.parent_id)
            .bind(&self.provider_type)
            .bind(&self.provider_id)
            .bind(self.sub_type.as_deref())
            .bind(&self.name)
            .bind(to_doc(&self.config)?)
            .bind(crate::component_order()))
    }
    fn error(e: sqlx::Error) -> StoreError {
        write_err("component")(e)
    }
}

impl Insert for KeyRecord {
    const HEAD: &'static str =
        "INSERT INTO realm_keys (kid, realm_id, alg, private_sealed, public_jwk, created_at)";
    const COLUMNS: usize = 6;
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(&self.kid)
            .bind(&self.realm_id)
            .bind(&self.alg)
            .bind(&self.private_sealed)
            .bind(to_doc(&self.public_jwk)?)
            .bind(self.created_at))
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
    fn bind<'q>(&'q self, q: Query<'q>) -> StoreResult<Query<'q>> {
        Ok(q.bind(self.realm_id)
            .bind(self.scope_id)
            .bind(i64::from(self.default)))
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
