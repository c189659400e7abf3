//! The one query interface the hub's database code is written against, over two engines:
//! SQLite (the embedded default, one file in the data folder) and PostgreSQL (shared by a
//! province's hub replicas, `pg.rs`). Statements are written once, with SQLite's `?N`
//! placeholders, in the SQL both engines speak; `pg.rs` turns `?N` into `$N`. Where the
//! dialects differ (JSON functions, row locks, maintenance pragmas) the caller asks
//! [`Sql::dialect`].
//!
//! Values cross the boundary as [`Value`]s and rows come back owned, so neither engine's types
//! leak into the hub's logic; a column read as the wrong type is a [`StoreError::Column`].

use capture_store::StoreError;

/// Which engine a connection speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter or a column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Real(f64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of one statement: `args![a, b, c]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::db::sql::Value::from($v)),*] as &[$crate::db::sql::Value]
    };
}
pub(crate) use args;

/// One result row, owned.
#[derive(Debug)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `at` as `T`.
    pub fn get<T: FromValue>(&self, at: usize) -> Result<T, StoreError> {
        let v = self.0.get(at).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| StoreError::Column {
            index: at,
            wanted: std::any::type_name::<T>(),
            found: format!("{v:?}").chars().take(40).collect(),
        })
    }
}

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// What the hub's database code runs statements through: a connection or a transaction of
/// either engine.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, StoreError>;
    /// Runs a query; every row.
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, args: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The one row a query always gives (`COUNT(*)`, `EXISTS`).
    fn query_one(&mut self, sql: &str, args: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, args)?.ok_or(StoreError::Column {
            index: 0,
            wanted: "a row",
            found: "none".into(),
        })
    }

    /// `FOR UPDATE` on PostgreSQL, where replicas decide concurrently and a read that a write
    /// depends on must lock its row; nothing on SQLite, whose write transactions are
    /// `IMMEDIATE` (one writer at a time).
    fn lock_rows(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

// --- SQLite ---

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn sqlite_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    args: &[Value],
) -> Result<Vec<Row>, StoreError> {
    use rusqlite::types::ValueRef;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row(row));
    }
    Ok(out)
}

/// One statement on a SQLite connection (or a transaction's, through its `Deref`).
fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Value],
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(args))?)
}

impl Sql for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        sqlite_execute(self, sql, args)
    }
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        sqlite_rows(&mut self.prepare_cached(sql)?, args)
    }
}

/// A SQLite write transaction (`BEGIN IMMEDIATE`).
pub struct SqliteTx<'a>(pub(crate) rusqlite::Transaction<'a>);

impl Sql for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        sqlite_execute(&self.0, sql, args)
    }
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        sqlite_rows(&mut self.0.prepare_cached(sql)?, args)
    }
}
