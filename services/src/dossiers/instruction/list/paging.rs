//! A list's page, and a dossier's place in it, asked of the database when the list is
//! the whole exam in an order SQL gives (number, name, closure); else read from
//! [`entries`] and sorted here.

use sqlx::Row;

use super::{Context, Criteria, ENTRY_COLUMNS, Entry, LISTED, Sort, entries};
use crate::{
    Clock, Db,
    dossiers::instruction::{InstructionError, exam_deadline},
};

/// One page of a list: its entries, the list's length, and the page (the one asked,
/// or the last when it asked beyond).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged {
    pub entries: Vec<Entry>,
    pub total: usize,
    pub page: usize,
}

/// The page `page` (from 1) of `per_page` entries of the list `criteria` and `sort`
/// make. The whole exam in an order SQL can give (number, name, closure) is counted
/// and cut by the database: the first page of 50,000 dossiers reads 50 rows. Anything
/// else is [`entries`], sorted and cut here.
pub async fn page(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
    sort: Sort,
    page: usize,
    per_page: usize,
) -> Result<Paged, InstructionError> {
    let per_page = per_page.max(1);
    let last = |total: usize| page.clamp(1, total.div_ceil(per_page).max(1));
    let Some(key) = SqlOrder::of(db, criteria, sort) else {
        let mut all = entries(db, clock, exam, criteria).await?;
        sort.apply(&mut all);
        let (total, page) = (all.len(), last(all.len()));
        let from = ((page - 1) * per_page).min(total);
        let entries = all.drain(from..(from + per_page).min(total)).collect();
        return Ok(Paged {
            entries,
            total,
            page,
        });
    };
    let cx = Context::read(db, clock, exam, criteria).await?;
    let total = listed(db, exam).await?;
    let page = last(total);
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM dossiers d WHERE {LISTED} ORDER BY {} LIMIT {per_page} OFFSET {}",
        key.ascending(),
        (page - 1) * per_page
    );
    let mut entries = Vec::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(exam)
        .fetch_all(db.pool())
        .await?
    {
        entries.extend(cx.entry(&r)?);
    }
    Ok(Paged {
        entries,
        total,
        page,
    })
}

/// How many dossiers an exam's whole list holds.
async fn listed(db: &Db, exam: &str) -> Result<usize, InstructionError> {
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM dossiers d WHERE {LISTED}"
    )))
    .bind(exam)
    .fetch_one(db.pool())
    .await?;
    Ok(usize::try_from(total).unwrap_or(0))
}

/// A list's order as SQL gives it, when it can: the whole exam (no criterion), by
/// number, name or closure, as [`Sort::apply`] orders it.
struct SqlOrder {
    /// The sort key, then the number breaking ties. Names are compared as bytes, as
    /// Rust compares them (PostgreSQL's own collation may not). A number has one shape
    /// (`26-7K3Q-M9XA`: digits and capitals at fixed places), which every collation
    /// orders as bytes: its index (`dossiers_exam_number`) serves the order.
    key: String,
    number: String,
}

impl SqlOrder {
    fn of(db: &Db, criteria: &Criteria, sort: Sort) -> Option<Self> {
        if *criteria != Criteria::default() {
            return None;
        }
        let bytes = match db.kind() {
            crate::DbKind::Postgres => " COLLATE \"C\"",
            crate::DbKind::Sqlite => "",
        };
        let number = "d.number".to_string();
        let key = match sort {
            Sort::Number => number.clone(),
            Sort::Name => format!("d.identity_key{bytes}"),
            Sort::Closure => format!("COALESCE(d.closed_at, {})", i64::MAX),
            Sort::Stage => return None,
        };
        Some(Self { key, number })
    }

    fn ascending(&self) -> String {
        format!("{}, {}", self.key, self.number)
    }

    fn descending(&self) -> String {
        format!("{} DESC, {} DESC", self.key, self.number)
    }

    /// Rows before (`<`) or after (`>`) the row whose key is `$2` and number `$3`.
    fn beyond(&self, side: char) -> String {
        let (key, number) = (&self.key, &self.number);
        format!("({key} {side} $2 OR ({key} = $2 AND {number} {side} $3))")
    }
}

/// Where a dossier stands in a list: the numbers before and after it, its rank (from
/// 1), and the list's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub previous: Option<String>,
    pub next: Option<String>,
    pub rank: usize,
    pub total: usize,
}

/// Where the dossier `id` stands in the list `criteria` and `sort` make, if it holds
/// it. The whole exam in an order SQL gives is asked of the database (a dossier's page
/// among 50,000 reads four rows); anything else is [`entries`], sorted here.
pub async fn place(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
    sort: Sort,
    id: &str,
) -> Result<Option<Place>, InstructionError> {
    let Some(order) = SqlOrder::of(db, criteria, sort) else {
        let mut all = entries(db, clock, exam, criteria).await?;
        sort.apply(&mut all);
        let number = |i: usize| all.get(i).map(|e| e.number.clone());
        return Ok(all.iter().position(|e| e.id == id).map(|at| Place {
            previous: at.checked_sub(1).and_then(number),
            next: number(at + 1),
            rank: at + 1,
            total: all.len(),
        }));
    };
    exam_deadline(db, exam).await?;
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} AS sort_key, d.number FROM dossiers d WHERE {LISTED} AND d.id = $2",
        order.key
    )))
    .bind(exam)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let number: String = row.try_get("number")?;
    // The key as it was read: a closure instant, or text.
    let key = match sort {
        Sort::Closure => Key::Instant(row.try_get("sort_key")?),
        _ => Key::Text(row.try_get("sort_key")?),
    };
    let bound = |sql: String| {
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(exam);
        match &key {
            Key::Instant(at) => query.bind(*at),
            Key::Text(text) => query.bind(text.clone()),
        }
        .bind(number.clone())
    };
    let neighbour = |side: char, order_by: String| {
        bound(format!(
            "SELECT d.number FROM dossiers d WHERE {LISTED} AND {} ORDER BY {order_by} LIMIT 1",
            order.beyond(side)
        ))
        .fetch_optional(db.pool())
    };
    let before = bound(format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM dossiers d WHERE {LISTED} AND {}",
        order.beyond('<')
    ))
    .fetch_one(db.pool())
    .await?
    .try_get::<i64, _>("n")?;
    let previous = neighbour('<', order.descending()).await?;
    let next = neighbour('>', order.ascending()).await?;
    Ok(Some(Place {
        previous: previous.map(|r| r.try_get("number")).transpose()?,
        next: next.map(|r| r.try_get("number")).transpose()?,
        rank: usize::try_from(before).unwrap_or(0) + 1,
        total: listed(db, exam).await?,
    }))
}

/// A sort key read back to find a dossier's neighbours.
enum Key {
    Instant(i64),
    Text(String),
}
