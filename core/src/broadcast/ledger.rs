//! The durable per-campaign ledger (SQLite, WAL, `synchronous=FULL`).
//!
//! One row per recipient: `state` (`pending`, `in_flight`, `accepted`, `failed`,
//! `unknown`), `attempts`, the wamid once accepted, the error code once failed, the last
//! status webhook seen. Every transition is one conditional `UPDATE`, committed before the
//! next step, so a crash at any point leaves a state that says what may have happened:
//!
//! - a row is set `in_flight` (committed) **before** its request is written, leased to the
//!   handle that claimed it ([`IN_FLIGHT_LEASE`], renewed by the run while the send is
//!   under way). A process that dies mid-send stops renewing; once the lease has run out,
//!   the next [`Ledger::open`] or the poll of any run turns the row into `unknown` (it may
//!   or may not have gone out). A row another live process is sending is never touched:
//!   several processes may share one ledger, and opening it (a second run, a progress
//!   page) changes nothing they are doing;
//! - `unknown` rows are settled by status webhooks that carry the recipient's key (see
//!   [`Ledger::apply_status`]): a status arrived, so it was sent (`accepted`, with the
//!   wamid); no status within the quiet window, so it is safe to send again (`pending`).
//!   The window starts when the row becomes `unknown`, and again when a run starts: after
//!   a crash, the statuses that came while nothing listened are delivered again, and the
//!   window leaves time for them;
//! - the answer to a send always wins over `unknown`: a wamid the API returned settles the
//!   row even if its lease ran out meanwhile.
//!
//! The `meta` table holds the campaign id, template, language, row count, the run state
//! (`running`, `paused`, `stopped`, `done`), an optional start time, and the last summary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an `in_flight` row stays its claimer's without renewal; a run renews the rows
/// it is sending every fifth of this ([`Ledger::renew`]).
pub const IN_FLIGHT_LEASE: Duration = Duration::from_secs(10);

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Campaign;
use crate::error::{Error, Result};
use crate::fork_gate::{Gated, Inside, lock_inside, section};
use crate::webhook::StatusUpdate;

/// The state of one recipient in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Not sent yet (or safe to send again).
    Pending,
    /// A send is under way (committed before the request is written).
    InFlight,
    /// Accepted by the API (a wamid is known).
    Accepted,
    /// Failed for good (the error code is kept).
    Failed,
    /// May or may not have been sent: waiting for a status webhook or the quiet window.
    Unknown,
}

impl RecipientState {
    /// Every state, in display order.
    pub const ALL: [RecipientState; 5] = [
        RecipientState::Pending,
        RecipientState::InFlight,
        RecipientState::Accepted,
        RecipientState::Failed,
        RecipientState::Unknown,
    ];

    /// The stored name (`pending`, `in_flight`, `accepted`, `failed`, `unknown`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::InFlight => "in_flight",
            RecipientState::Accepted => "accepted",
            RecipientState::Failed => "failed",
            RecipientState::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> RecipientState {
        match s {
            "in_flight" => RecipientState::InFlight,
            "accepted" => RecipientState::Accepted,
            "failed" => RecipientState::Failed,
            "unknown" => RecipientState::Unknown,
            _ => RecipientState::Pending,
        }
    }
}

/// Counts of recipients per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// All recipients.
    pub total: u64,
    /// `pending`.
    pub pending: u64,
    /// `in_flight`.
    pub in_flight: u64,
    /// `accepted`.
    pub accepted: u64,
    /// `failed`.
    pub failed: u64,
    /// `unknown`.
    pub unknown: u64,
}

/// One recipient's ledger row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Row number in the source CSV (the header is row 1), or the index + 1.
    pub row: u64,
    /// The recipient (normalised phone number).
    pub to: String,
    /// Body parameters.
    pub params: Vec<String>,
    /// State.
    pub state: RecipientState,
    /// Send attempts made (requests that may have been written).
    pub attempts: u32,
    /// The wamid, once accepted.
    pub wamid: Option<String>,
    /// The error code (`template`, `recipient`, …) once failed.
    pub error_code: Option<String>,
    /// Meta's numeric code of the failure, when there was one.
    pub api_code: Option<i64>,
    /// The last status webhook seen (`sent`, `delivered`, `read`, `failed`).
    pub last_status: Option<String>,
}

/// What [`Ledger::apply_status`] did with a status event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Not for this campaign (no key, or another campaign's key).
    Ignored,
    /// Settled a recipient that was `unknown`, or `pending` again after its quiet window
    /// (one of its sends may have gone out).
    Settled,
    /// Recorded the status of an already settled recipient, of one this ledger has not
    /// sent (never tried, or refused every send), or of one in flight (kept for its
    /// send's answer to weigh; see [`Ledger::apply_status`]).
    Recorded,
}

/// A campaign ledger. Cheap to clone (one connection behind a mutex); every handle
/// [`Ledger::open`] or [`Ledger::open_existing`] returns has its own owner name for the
/// rows it claims, shared by its clones.
#[derive(Clone)]
pub struct Ledger {
    /// Every use of it (and its close) is a section of the fork gate ([`crate::fork_gate`]).
    /// Closed before every fork, opened again at the next use ([`Ledger::lock`]).
    conn: Arc<Mutex<Gated<Connection>>>,
    path: PathBuf,
    /// `path` made absolute at open, to open the file again after a fork (a `chdir` since
    /// does not move it).
    reopen_at: PathBuf,
    /// Which file `path` was at open: a row is never claimed for sending in a file that
    /// was deleted or replaced since (a later run on the path would send it again).
    file: Arc<Mutex<crate::util::FileId>>,
    campaign_id: String,
    /// This ledger's own mark in its keys (`wa360:<campaign>.<nonce>:<to>`), made with the
    /// file: a status of another ledger of an identical campaign (last week's run of the
    /// same list) carries the same campaign id, and settled rows this ledger never sent.
    /// `None` for a ledger an older version made and this one opened only to read.
    nonce: Option<String>,
    owner: Arc<str>,
    lease: Duration,
}

/// A name no other handle (or run), in this process or another, has. It starts with `f-`:
/// a handle that weighs the statuses kept aside while its rows are in flight (`flight_*`).
/// Rows claimed by an older version (whose names start with a digit) never read those
/// columns, so a status for one of them settles it at once, as that version expects.
pub(crate) fn owner_name() -> Arc<str> {
    format!("f-{}-{:016x}", std::process::id(), fastrand::u64(..)).into()
}

/// SQL: the row is claimed by a handle that weighs the statuses kept aside (`owner_name`).
const WEIGHS_FLIGHT: &str = "owner LIKE 'f-%'";

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("campaign_id", &self.campaign_id)
            .finish()
    }
}

/// The prefix of every broadcast key in `biz_opaque_callback_data`.
pub const KEY_PREFIX: &str = "wa360:";

/// The per-recipient key of a campaign in the form older versions sent,
/// `wa360:<campaign>:<to>`; statuses carrying it still settle rows. A broadcast now sends
/// its ledger's form, `wa360:<campaign>.<mark>:<to>`: use [`Ledger::key_for`] to match
/// statuses to sends.
pub fn recipient_key(campaign_id: &str, to: &str) -> String {
    format!("{KEY_PREFIX}{campaign_id}:{to}")
}

/// Split a key into (campaign id, recipient); the campaign part keeps a ledger's
/// `.<nonce>`, when the key has one.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(KEY_PREFIX)?.split_once(':')
}

use crate::util::ms;
pub(crate) use crate::util::now_ms;

/// A ledger that cannot be read or written (locked past the busy timeout, disk full) is a
/// `store` error, as an inbox that fails is.
fn db_err(e: rusqlite::Error) -> Error {
    Error::Store(format!("ledger: {e}"))
}

/// Turn `sqlite:///abs/path` or a plain absolute path into a file path. A relative path is
/// refused: it names another file in each directory the program runs from, and a new
/// ledger knows nothing of the sends recorded in the other, so a rerun from elsewhere (a
/// cron job, another shell, a worker with another working directory) would send to
/// everyone again.
pub fn ledger_path(url: &str) -> Result<PathBuf> {
    let rest = if let Some(r) = url.strip_prefix("sqlite://") {
        r
    } else if url.contains("://") {
        return Err(Error::invalid(
            "ledger",
            "must be sqlite:///PATH (or a file path); no other ledger backend is available",
        ));
    } else {
        url
    };
    if rest.is_empty() {
        return Err(Error::invalid(
            "ledger",
            "needs a file path, e.g. sqlite:///tmp/campaign.db",
        ));
    }
    let path = PathBuf::from(rest);
    if path.is_relative() {
        return Err(relative(&path));
    }
    Ok(path)
}

fn relative(path: &Path) -> Error {
    Error::invalid(
        "ledger",
        format!(
            "must be an absolute path, e.g. sqlite:///var/lib/app/campaign.db (got {:?}: a \
             relative path is another file in each directory this runs from, and a new ledger \
             sends to everyone again)",
            path.display()
        ),
    )
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    recipient TEXT PRIMARY KEY,
    row INTEGER NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    wamid TEXT,
    error_code TEXT,
    api_code INTEGER,
    last_status TEXT,
    updated_ms INTEGER NOT NULL,
    unknown_since_ms INTEGER,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    flight_status TEXT,
    flight_wamid TEXT,
    flight_code INTEGER,
    flight_failed_wamid TEXT,
    flight_failed_code INTEGER,
    flight_attempt INTEGER
);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (state, row);
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL);
";

/// A ledger made before rows had owners gets the two columns (its `in_flight` rows then
/// have a lease that ran out long ago, as a crashed run's would).
fn add_owner_columns(conn: &mut Connection) -> rusqlite::Result<()> {
    upgrade_once(
        conn,
        |conn| {
            conn.prepare(
                "SELECT 1 FROM pragma_table_info('recipients') WHERE name = 'lease_until_ms'",
            )?
            .exists([])
        },
        |tx| {
            tx.execute_batch(
                "ALTER TABLE recipients ADD COLUMN owner TEXT;
                 ALTER TABLE recipients ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;",
            )
        },
    )
}

/// The columns of a status kept aside while its row was in flight: the latest status, its
/// wamid and error code; the latest `failed` one's wamid and code (the answer's wamid is
/// checked against it); and the attempt it was kept during (`attempts` then), so a status
/// kept for one claim is never read after another.
const FLIGHT_COLUMNS: [(&str, &str); 6] = [
    ("flight_status", "TEXT"),
    ("flight_wamid", "TEXT"),
    ("flight_code", "INTEGER"),
    ("flight_failed_wamid", "TEXT"),
    ("flight_failed_code", "INTEGER"),
    ("flight_attempt", "INTEGER"),
];

/// A ledger made before statuses seen in flight were kept aside gets their columns. A
/// handle that cannot write leaves that to the next one that can (it reads no such column,
/// and settles nothing).
fn add_flight_columns(conn: &mut Connection) -> rusqlite::Result<()> {
    let missing = |conn: &Connection| -> rusqlite::Result<Vec<(&str, &str)>> {
        let mut has =
            conn.prepare("SELECT 1 FROM pragma_table_info('recipients') WHERE name = ?1")?;
        let mut out = Vec::new();
        for (name, ty) in FLIGHT_COLUMNS {
            if !has.exists([name])? {
                out.push((name, ty));
            }
        }
        Ok(out)
    };
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Ok(());
    }
    upgrade_once(
        conn,
        |conn| Ok(missing(conn)?.is_empty()),
        |tx| {
            for (name, ty) in missing(tx)? {
                tx.execute_batch(&format!("ALTER TABLE recipients ADD COLUMN {name} {ty};"))?;
            }
            Ok(())
        },
    )
}

/// A row settled by the status seen while it was in flight (`flight_status`): `failed`
/// with the status's error code for a `failed` status, else `accepted` with its wamid.
const SETTLE_FROM_FLIGHT: &str = "state = CASE WHEN flight_status = 'failed' THEN 'failed' ELSE 'accepted' END, \
     wamid = COALESCE(flight_wamid, wamid), \
     error_code = CASE WHEN flight_status = 'failed' THEN 'status_failed' ELSE error_code END, \
     api_code = CASE WHEN flight_status = 'failed' THEN flight_code ELSE api_code END, \
     unknown_since_ms = NULL, owner = NULL";

/// A row leaving `in_flight` forgets the status seen meanwhile (SQLite reads the old values
/// for every other column the same `UPDATE` sets).
const CLEAR_FLIGHT: &str = "flight_status = NULL, flight_wamid = NULL, flight_code = NULL, \
     flight_failed_wamid = NULL, flight_failed_code = NULL, flight_attempt = NULL";

/// Run `upgrade` on a ledger of an older version unless `done` says it has run: checked
/// first without a lock (the usual case, nothing to do), then again under the write lock,
/// since another process opening the file may be upgrading it too.
fn upgrade_once(
    conn: &mut Connection,
    done: impl Fn(&Connection) -> rusqlite::Result<bool>,
    upgrade: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    if done(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if !done(&tx)? {
        upgrade(&tx)?;
    }
    tx.commit()
}

/// A ledger made before `unknown_since_ms` marked the pending rows that may have been sent
/// (earlier versions cleared it when the quiet window released a row): every pending row
/// tried before is marked, once, so a late status still settles it, as those versions let
/// it. The marked rows include ones refused a send, as before; rows tried from now on are
/// marked only when one of their sends may have gone out.
fn mark_pending_rows_of_older_versions(conn: &mut Connection) -> rusqlite::Result<()> {
    const DONE: &str = "pending_rows_marked";
    // A handle that cannot write (a status page run by a user who may only read the file)
    // settles nothing either: the rows are marked by the next process that can.
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Ok(());
    }
    upgrade_once(
        conn,
        |conn| {
            conn.prepare("SELECT 1 FROM meta WHERE key = ?1")?
                .exists([DONE])
        },
        |tx| {
            tx.execute(
                "UPDATE recipients SET unknown_since_ms = updated_ms \
                 WHERE state = 'pending' AND attempts > 0 AND unknown_since_ms IS NULL",
                [],
            )?;
            tx.execute("INSERT INTO meta (key, value) VALUES (?1, '1')", [DONE])?;
            Ok(())
        },
    )
}

fn file_id(path: &Path) -> Result<crate::util::FileId> {
    crate::util::FileId::of(path)
        .map_err(|e| Error::Store(format!("ledger {}: {e}", path.display())))
}

/// Where opening a ledger file failed.
enum OpenStep {
    /// The file itself (not a database, no permission).
    File,
    /// WAL mode, synchronous, busy timeout.
    Setup,
    /// The schema: an error here means the file is not a ledger.
    Schema,
}

/// `conn` in the ledger's mutex, closed before every fork (see
/// [`crate::fork_gate::close_at_every_fork`]; [`Ledger::lock`] opens it again).
fn closed_at_every_fork(conn: Gated<Connection>) -> Arc<Mutex<Gated<Connection>>> {
    let conn = Arc::new(Mutex::new(conn));
    crate::fork_gate::close_at_every_fork(Arc::downgrade(&conn) as _);
    conn
}

/// `conn` locked inside a section of the fork gate (entered before the lock), opened again
/// at `reopen_at` when it was closed before a fork ([`closed_at_every_fork`]).
/// The file's identities ([`crate::util::FileId`]) are taken again then: another program may
/// have been the file's last to close meanwhile and deleted its log, and the connection
/// opened again uses the ones there now.
fn locked<'a>(
    conn: &'a Arc<Mutex<Gated<Connection>>>,
    reopen_at: &Path,
    file: Option<&Mutex<crate::util::FileId>>,
) -> Result<Inside<'a, Gated<Connection>>> {
    let mut held = lock_inside(conn);
    if !held.is_open() {
        let again = reopen_conn(reopen_at)?;
        if let Some(file) = file {
            // Never a file that replaced the ledger's since: nothing is read from it or
            // written to it (the connection opened there is closed again).
            let mut file = crate::util::lock(file);
            *file = file.taken_again().map_err(|why| {
                Error::Store(format!(
                    "ledger {}: {why}; not opened again (restart the process to open the file there now)",
                    reopen_at.display()
                ))
            })?;
        }
        held.reopen(again);
    }
    Ok(held)
}

/// `path` made absolute, to open the file again after a fork (a `chdir` since does not
/// move it).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::Store(format!("ledger {}: {e}", path.display())))
}

/// The ledger's file opened again after a fork closed its connection
/// ([`crate::util::open_again`]; its schema is in place).
fn reopen_conn(path: &Path) -> Result<Connection> {
    let conn = crate::util::open_again(path, BUSY_TIMEOUT).map_err(|e| {
        Error::Store(format!(
            "ledger {}: cannot open it again: {e}",
            path.display()
        ))
    })?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    Ok(conn)
}

fn open_conn(path: &Path) -> Result<Arc<Mutex<Gated<Connection>>>> {
    crate::input::file_path_option("ledger", path)?;
    // Several processes (one per shard of a campaign) may create the file at once.
    let opened = crate::util::retry_while_busy(
        BUSY_TIMEOUT,
        |(_, e): &(OpenStep, rusqlite::Error)| crate::util::sqlite_busy(e),
        || open_conn_once(path),
    );
    opened.map_err(|(step, e)| match step {
        _ if crate::util::sqlite_busy(&e) => db_err(e),
        OpenStep::File => Error::invalid(
            "ledger",
            format!("cannot open {} as a SQLite ledger: {e}", path.display()),
        ),
        OpenStep::Setup => db_err(e),
        OpenStep::Schema => Error::invalid(
            "ledger",
            format!("{} is not a wa360 ledger: {e}", path.display()),
        ),
    })
}

/// The connection is registered to be closed at every fork before this function's section
/// ends: a fork right after it could otherwise copy it open into the child.
fn open_conn_once(
    path: &Path,
) -> std::result::Result<Arc<Mutex<Gated<Connection>>>, (OpenStep, rusqlite::Error)> {
    // A section of the fork gate; not around `retry_while_busy`, which logs (no log inside
    // a section: see `crate::fork_gate`).
    let _inside = section();
    let mut conn = Connection::open(path).map_err(|e| (OpenStep::File, e))?;
    let setup = |e| (OpenStep::Setup, e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(setup)?;
    crate::util::persist_wal(&conn).map_err(setup)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(setup)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(setup)?;
    let schema = |e| (OpenStep::Schema, e);
    conn.execute_batch(SCHEMA).map_err(schema)?;
    add_owner_columns(&mut conn).map_err(schema)?;
    add_flight_columns(&mut conn).map_err(schema)?;
    mark_pending_rows_of_older_versions(&mut conn).map_err(schema)?;
    Ok(closed_at_every_fork(Gated::new(conn)))
}

/// How long a ledger call waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `in_flight` rows whose lease ran out become `unknown`, their quiet window starting now
/// (not at the claim: nothing may have listened for statuses since); one that got a status
/// meanwhile is settled by it, as an `unknown` row would have been (that status will not
/// come again). Called inside a transaction: a status recorded between the two statements
/// would be lost.
fn expire_leases(conn: &Connection, now: i64) -> Result<usize> {
    let settled = conn
        .execute(
            &format!(
                "UPDATE recipients SET {SETTLE_FROM_FLIGHT}, {CLEAR_FLIGHT}, updated_ms = ?1 \
                 WHERE state = 'in_flight' AND lease_until_ms < ?1 AND flight_status IS NOT NULL \
                 AND {WEIGHS_FLIGHT}"
            ),
            [now],
        )
        .map_err(db_err)?;
    let unknown = conn
        .execute(
            &format!(
                "UPDATE recipients SET state = 'unknown', unknown_since_ms = ?1, updated_ms = ?1, owner = NULL, \
                 {CLEAR_FLIGHT} WHERE state = 'in_flight' AND lease_until_ms < ?1"
            ),
            [now],
        )
        .map_err(db_err)?;
    Ok(settled + unknown)
}

fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .map_err(db_err)?;
    Ok(())
}

impl Ledger {
    /// Open (or create) the ledger of `campaign` at `path`.
    ///
    /// A new ledger gets every recipient as `pending`. An existing one must belong to the
    /// same campaign (same id: template, language and recipients), else `invalid_argument`
    /// on `ledger`. Rows left `in_flight` by a crashed run become `unknown` once their
    /// lease has run out; rows a live run is sending are left alone.
    pub fn open(path: impl AsRef<Path>, campaign: &Campaign) -> Result<Ledger> {
        let path = path.as_ref().to_path_buf();
        if path.is_relative() {
            return Err(relative(&path));
        }
        // Its setup below is SQLite too: inside a section, as every use (`locked`).
        let reopen_at = absolute(&path)?;
        let shared = open_conn(&path)?;
        let mut conn = locked(&shared, &reopen_at, None)?;
        // IMMEDIATE: other processes may write the ledger meanwhile (a deferred transaction
        // that reads, then writes, fails at once in WAL mode when another commits between).
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        match get_meta(&tx, "campaign_id")? {
            Some(id) if id != campaign.id() => {
                let template = get_meta(&tx, "template")?.unwrap_or_default();
                let lang = get_meta(&tx, "language")?.unwrap_or_default();
                let n = get_meta(&tx, "recipients")?.unwrap_or_default();
                // Any edit of the recipients file (a fixed typo, a reordered or added row)
                // makes a new campaign: a new ledger knows nothing of the sends recorded
                // here, so say how many would go out again.
                let sent: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM recipients WHERE state IN ('accepted', 'in_flight', 'unknown')",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                let warning = if sent > 0 {
                    format!(
                        "; it records {sent} recipients already sent (or possibly sent): a new \
                         ledger for an edited recipients file would send to them again, so \
                         leave them out of the new file"
                    )
                } else {
                    String::new()
                };
                return Err(Error::invalid(
                    "ledger",
                    format!(
                        "{} belongs to another campaign (id {id}: template {template}/{lang}, {n} recipients), \
                         not this one (id {}: template {}/{}, {} recipients): the campaign id covers every \
                         row, so any edit of the recipients makes a new campaign; use a new ledger file{warning}",
                        path.display(),
                        campaign.id(),
                        campaign.template(),
                        campaign.language(),
                        campaign.recipients().len()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                let has_rows: i64 = tx
                    .query_row("SELECT COUNT(*) FROM recipients", [], |r| r.get(0))
                    .map_err(db_err)?;
                if has_rows > 0 {
                    return Err(Error::invalid(
                        "ledger",
                        format!("{} holds recipients but no campaign id", path.display()),
                    ));
                }
                set_meta(&tx, "campaign_id", campaign.id())?;
                set_meta(&tx, "template", campaign.template())?;
                set_meta(&tx, "language", campaign.language())?;
                set_meta(&tx, "recipients", &campaign.recipients().len().to_string())?;
                set_meta(&tx, "run_state", "running")?;
                set_meta(&tx, "created_ms", &now_ms().to_string())?;
                let now = now_ms();
                {
                    let mut ins = tx
                        .prepare(
                            "INSERT INTO recipients (recipient, row, params, state, updated_ms) VALUES (?1, ?2, ?3, 'pending', ?4)",
                        )
                        .map_err(db_err)?;
                    for r in campaign.recipients() {
                        let params = serde_json::to_string(&r.params)
                            .map_err(|e| Error::Internal(e.to_string()))?;
                        ins.execute(params![r.to, r.row as i64, params, now])
                            .map_err(db_err)?;
                    }
                }
            }
        }
        // Made with the file (or, for a file an older version made, now: its earlier sends
        // carry keys without one, which still settle rows).
        let nonce = match get_meta(&tx, "key_nonce")? {
            Some(n) => n,
            None => {
                let n = format!("{:08x}", fastrand::u32(..));
                set_meta(&tx, "key_nonce", &n)?;
                n
            }
        };
        expire_leases(&tx, now_ms())?;
        tx.commit().map_err(db_err)?;
        // Inside the section: a fork cannot close the connection (and another program
        // delete the log) between the two.
        let file = file_id(&path)?;
        drop(conn);
        Ok(Ledger {
            conn: shared,
            file: Arc::new(Mutex::new(file)),
            reopen_at,
            path,
            campaign_id: campaign.id().to_string(),
            nonce: Some(nonce),
            owner: owner_name(),
            lease: IN_FLIGHT_LEASE,
        })
    }

    /// Open an existing ledger without its campaign (to feed statuses, read counts, or
    /// pause / resume / stop a running broadcast).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Ledger> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(Error::invalid(
                "ledger",
                format!("{} does not exist", path.display()),
            ));
        }
        let reopen_at = absolute(&path)?;
        let shared = open_conn(&path)?;
        let (id, nonce, file) = {
            let conn = locked(&shared, &reopen_at, None)?;
            let id = get_meta(&conn, "campaign_id")?.ok_or_else(|| {
                Error::invalid(
                    "ledger",
                    format!("{} is not a wa360 campaign ledger", path.display()),
                )
            })?;
            // Inside the section, as in `open`.
            (id, get_meta(&conn, "key_nonce")?, file_id(&path)?)
        };
        Ok(Ledger {
            conn: shared,
            file: Arc::new(Mutex::new(file)),
            reopen_at,
            path,
            campaign_id: id,
            nonce,
            owner: owner_name(),
            lease: IN_FLIGHT_LEASE,
        })
    }

    /// The connection, inside a section of the fork gate (see [`locked`]).
    fn lock(&self) -> Result<Inside<'_, Gated<Connection>>> {
        locked(&self.conn, &self.reopen_at, Some(&self.file))
    }

    /// The campaign id stored in the ledger.
    pub fn campaign_id(&self) -> &str {
        &self.campaign_id
    }

    /// The key a send of this ledger to `to` carries: `wa360:<campaign>.<nonce>:<to>`.
    pub fn key_for(&self, to: &str) -> String {
        match &self.nonce {
            Some(n) => format!("{KEY_PREFIX}{}.{n}:{to}", self.campaign_id),
            None => recipient_key(&self.campaign_id, to),
        }
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counts per state.
    pub fn counts(&self) -> Result<StateCounts> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*) FROM recipients GROUP BY state")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(db_err)?;
        let mut c = StateCounts::default();
        for row in rows {
            let (s, n) = row.map_err(db_err)?;
            let n = n as u64;
            c.total += n;
            match RecipientState::parse(&s) {
                RecipientState::Pending => c.pending += n,
                RecipientState::InFlight => c.in_flight += n,
                RecipientState::Accepted => c.accepted += n,
                RecipientState::Failed => c.failed += n,
                RecipientState::Unknown => c.unknown += n,
            }
        }
        Ok(c)
    }

    /// Every recipient's row, in CSV order.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare(
                "SELECT row, recipient, params, state, attempts, wamid, error_code, api_code, last_status FROM recipients ORDER BY row",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| {
                let params: String = r.get(2)?;
                let state: String = r.get(3)?;
                Ok(LedgerEntry {
                    row: r.get::<_, i64>(0)? as u64,
                    to: r.get(1)?,
                    params: serde_json::from_str(&params).unwrap_or_default(),
                    state: RecipientState::parse(&state),
                    attempts: r.get::<_, i64>(4)? as u32,
                    wamid: r.get(5)?,
                    error_code: r.get(6)?,
                    api_code: r.get(7)?,
                    last_status: r.get(8)?,
                })
            })
            .map_err(db_err)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_err)
    }

    /// The run state: `running`, `paused`, `stopped`, `done`, or `halted` (the last run
    /// ended with an error, [`Ledger::last_error`], and no other run was live; running
    /// again resumes).
    pub fn run_state(&self) -> Result<String> {
        Ok(get_meta(&*self.lock()?, "run_state")?.unwrap_or_else(|| "running".into()))
    }

    /// The error the last run of this campaign ended with (the key refused, the template
    /// missing, the API unreachable for too long, the ledger refusing writes), as it was
    /// reported to that run's caller. `None` once a run begins or ends without an error,
    /// or if none ended with one. Kept in the ledger so that `wa360 broadcast status`, or a
    /// dashboard in another process, can say why a campaign is `halted`.
    pub fn last_error(&self) -> Result<Option<String>> {
        get_meta(&*self.lock()?, "last_error")
    }

    /// Ask a running broadcast (in any process) to pause: it stops claiming recipients
    /// until [`Ledger::resume`]; sends in flight finish. A run started while the campaign
    /// is paused waits as well (an operator's pause is not undone by a restart).
    pub fn pause(&self) -> Result<()> {
        set_meta(&*self.lock()?, "run_state", "paused")
    }

    /// Let a paused broadcast go on.
    pub fn resume(&self) -> Result<()> {
        set_meta(&*self.lock()?, "run_state", "running")
    }

    /// Ask a running broadcast to stop after the sends in flight; running it again resumes.
    pub fn stop(&self) -> Result<()> {
        set_meta(&*self.lock()?, "run_state", "stopped")
    }

    /// Put every `failed` recipient back to `pending`, its attempts and error cleared, for
    /// the next run to send once the cause is gone (a recipient who was not on WhatsApp
    /// then; a corrected parameter is an edited recipients file, so a new campaign with a
    /// new ledger). Returns how many. Safe beside a running broadcast: it sends them too.
    pub fn retry_failed(&self) -> Result<u64> {
        let n = self
            .lock()?
            .execute(
                "UPDATE recipients SET state = 'pending', attempts = 0, error_code = NULL, \
                 api_code = NULL, next_attempt_ms = 0, unknown_since_ms = NULL, updated_ms = ?1 \
                 WHERE state = 'failed'",
                [now_ms()],
            )
            .map_err(db_err)?;
        Ok(n as u64)
    }

    /// A run starts on this ledger under the name `run`: it is listed as live, and the run
    /// state becomes `running` unless an operator paused the campaign ([`Ledger::pause`]):
    /// a pause holds every run, a new one included, until [`Ledger::resume`]. A `stopped`
    /// or `done` state is left behind (running again resumes).
    pub(crate) fn begin_run(&self, run: &str) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let now = now_ms();
        // Runs that stopped beating long ago (their process died) are forgotten.
        tx.execute(
            "DELETE FROM runs WHERE seen_ms < ?1",
            [now.saturating_sub(10 * ms(self.lease))],
        )
        .map_err(db_err)?;
        tx.execute(
            "INSERT OR REPLACE INTO runs (run, seen_ms) VALUES (?1, ?2)",
            params![run, now],
        )
        .map_err(db_err)?;
        if get_meta(&tx, "run_state")?.as_deref() != Some("paused") {
            set_meta(&tx, "run_state", "running")?;
        }
        tx.execute("DELETE FROM meta WHERE key = 'last_error'", [])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// The run `run` ended with the error `error`: no longer listed as live, the error
    /// kept ([`Ledger::last_error`]), and the campaign `halted` if it was `running` and no
    /// other run is live (an operator's pause or stop stays, and a run of another process
    /// goes on). Left `running`, `wa360 broadcast status` said a campaign was running that
    /// nothing ran. The summary stays the last complete or stopped run's.
    pub(crate) fn leave_run(&self, run: &str, error: &str) -> Result<()> {
        self.end_of_run(run, |tx| {
            set_meta(tx, "last_error", error)?;
            self.set_state_if_alone(tx, "halted", "'running'")
        })
    }

    /// One transaction that ends the run `run`: no longer listed as live, then `f`.
    fn end_of_run(
        &self,
        run: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        tx.execute("DELETE FROM runs WHERE run = ?1", [run])
            .map_err(db_err)?;
        f(&tx)?;
        tx.commit().map_err(db_err)
    }

    /// The run state becomes `to` if it is one of `from` (an SQL list of literals) and no
    /// run is live on the ledger any more (none beat within a lease).
    fn set_state_if_alone(&self, tx: &Connection, to: &str, from: &str) -> Result<()> {
        tx.execute(
            &format!(
                "UPDATE meta SET value = ?1 WHERE key = 'run_state' AND value IN ({from}) \
                 AND NOT EXISTS (SELECT 1 FROM runs WHERE seen_ms >= ?2)"
            ),
            params![to, now_ms().saturating_sub(ms(self.lease))],
        )
        .map(|_| ())
        .map_err(db_err)
    }

    /// The run `run` ends, having written `summary`:
    /// - `complete`: the campaign is `done`;
    /// - `stopped_here` (the run's own [`super::BroadcastControl`] stopped it, as Ctrl-C
    ///   does): the campaign becomes `stopped` only if it was `running` (or `halted` by
    ///   another run's error) and no other run is live. A run of another process goes on,
    ///   and an operator's pause stays;
    /// - otherwise the state is left as it is (an operator's `stopped`, `paused`).
    pub(crate) fn end_run(
        &self,
        run: &str,
        summary: &serde_json::Value,
        complete: bool,
        stopped_here: bool,
    ) -> Result<()> {
        self.end_of_run(run, |tx| {
            set_meta(tx, "summary", &summary.to_string())?;
            // The last run to end ended without an error (another run's error, stored while
            // this one went on, no longer says how the campaign stands).
            tx.execute("DELETE FROM meta WHERE key = 'last_error'", [])
                .map_err(db_err)?;
            if complete {
                set_meta(tx, "run_state", "done")
            } else if stopped_here {
                self.set_state_if_alone(tx, "stopped", "'running', 'halted'")
            } else {
                Ok(())
            }
        })
    }

    /// Schedule: no send before `at_ms` (Unix milliseconds); `None` clears it.
    pub fn set_not_before(&self, at_ms: Option<i64>) -> Result<()> {
        let conn = self.lock()?;
        match at_ms {
            Some(t) => set_meta(&conn, "not_before_ms", &t.to_string()),
            None => conn
                .execute("DELETE FROM meta WHERE key = 'not_before_ms'", [])
                .map(|_| ())
                .map_err(db_err),
        }
    }

    /// The scheduled start (Unix milliseconds), if any.
    pub fn not_before(&self) -> Result<Option<i64>> {
        Ok(get_meta(&*self.lock()?, "not_before_ms")?.and_then(|v| v.parse().ok()))
    }

    /// The summary the last run wrote, if any.
    pub fn summary(&self) -> Result<Option<serde_json::Value>> {
        Ok(get_meta(&*self.lock()?, "summary")?.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// `in_flight` rows whose lease ran out (their process died or was cancelled mid-send)
    /// become `unknown`, then `unknown` rows whose quiet window passed without a status
    /// become `pending` (safe to send again). Returns how many became `pending`.
    pub fn release_quiet_unknowns(&self, window: Duration) -> Result<u64> {
        self.release_quiet_unknowns_as_of(window, i64::MAX)
    }

    /// [`Ledger::release_quiet_unknowns`] with the windows measured up to `as_of` (Unix ms)
    /// at the latest: the run passes the time it last checked the clock for a suspend, so a
    /// suspend between that check and this call releases nothing early.
    pub(crate) fn release_quiet_unknowns_as_of(&self, window: Duration, as_of: i64) -> Result<u64> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(db_err)?;
        let now = now_ms();
        expire_leases(&tx, now)?;
        // A row an older version turned `unknown` (its lease ran out) may still carry a
        // status kept aside during its last claim, which that version never reads: it
        // settles the row, as the status will not come again.
        tx.execute(
            &format!(
                "UPDATE recipients SET {SETTLE_FROM_FLIGHT}, {CLEAR_FLIGHT}, updated_ms = ?1 \
                 WHERE state = 'unknown' AND flight_status IS NOT NULL AND flight_attempt = attempts"
            ),
            [now],
        )
        .map_err(db_err)?;
        let cutoff = now.min(as_of).saturating_sub(ms(window));
        let n = tx
            .execute(
                // `unknown_since_ms` stays set: the mark that one of this row's sends may have
                // gone out, so a late status for it still settles it (see apply_status_fields).
                "UPDATE recipients SET state = 'pending', updated_ms = ?1 \
                 WHERE state = 'unknown' AND unknown_since_ms <= ?2",
                params![now, cutoff],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n as u64)
    }

    /// A run starts: the quiet window of every `unknown` row starts again now. Statuses
    /// that came while no run listened (after a crash) are delivered again, and must not
    /// find their recipient sent a second time already.
    pub(crate) fn restart_quiet_windows(&self) -> Result<()> {
        let now = now_ms();
        self.lock()?
            .execute(
                "UPDATE recipients SET unknown_since_ms = ?1 \
                 WHERE state = 'unknown' AND unknown_since_ms < ?1",
                [now],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// Renew the leases of the rows this handle is sending (`recipients`); a row it no
    /// longer holds is left alone. Returns those renewed. With `run`, that run is
    /// also marked alive ([`Ledger::begin_run`]), in the same transaction: one write lock
    /// and one commit per tick of the renewal task, never a heartbeat that holds up a lease.
    pub(crate) fn renew(&self, run: Option<&str>, recipients: &[String]) -> Result<Vec<String>> {
        let now = now_ms();
        let until = now.saturating_add(ms(self.lease));
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(db_err)?;
        let mut renewed = Vec::new();
        if let Some(run) = run {
            tx.execute(
                "UPDATE runs SET seen_ms = ?2 WHERE run = ?1",
                params![run, now],
            )
            .map_err(db_err)?;
        }
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE recipients SET lease_until_ms = ?1 \
                     WHERE recipient = ?2 AND state = 'in_flight' AND owner = ?3",
                )
                .map_err(db_err)?;
            for to in recipients {
                if st
                    .execute(params![until, to, &*self.owner])
                    .map_err(db_err)?
                    > 0
                {
                    renewed.push(to.clone());
                }
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(renewed)
    }

    /// The lease of the rows this handle claims (tests shorten it).
    pub(crate) fn lease(&self) -> Duration {
        self.lease
    }

    /// Claim the next pending recipient (CSV order) whose retry time has come: it becomes
    /// `in_flight` and its attempt is counted, committed before this returns.
    pub(crate) fn claim_next(&self) -> Result<Option<(String, Vec<String>, u32)>> {
        // Opened again first when a fork closed it: that takes the file's identities anew.
        let mut conn = self.lock()?;
        crate::util::lock(&self.file).check().map_err(|why| {
            Error::Store(format!(
                "ledger {}: {why}; nothing more is sent from it",
                self.path.display()
            ))
        })?;
        // IMMEDIATE: take the write lock before reading, so two processes sharing a ledger
        // never claim the same row.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let now = now_ms();
        let row: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT recipient, params, attempts FROM recipients WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY row LIMIT 1",
                [now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db_err)?;
        let Some((to, params, attempts)) = row else {
            return Ok(None);
        };
        let claimed = tx
            .execute(
                &format!(
                    "UPDATE recipients SET state = 'in_flight', attempts = attempts + 1, updated_ms = ?1, \
                     owner = ?3, lease_until_ms = ?4, {CLEAR_FLIGHT} WHERE recipient = ?2 AND state = 'pending'"
                ),
                params![
                    now,
                    to,
                    &*self.owner,
                    now.saturating_add(ms(self.lease))
                ],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        if claimed != 1 {
            return Ok(None);
        }
        Ok(Some((
            to,
            serde_json::from_str(&params).unwrap_or_default(),
            attempts as u32 + 1,
        )))
    }

    /// The earliest time (Unix ms) a pending row may be claimed, if any is pending.
    pub(crate) fn next_pending_at(&self) -> Result<Option<i64>> {
        self.lock()?
            .query_row(
                "SELECT MIN(next_attempt_ms) FROM recipients WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)
    }

    /// An in-flight send was accepted. The wamid settles the row even if its lease ran
    /// out meanwhile (`unknown`, or `pending` again): it was sent. A row another handle
    /// has claimed since is that handle's to settle. A `failed` status for this very wamid,
    /// seen while the send was in flight, makes it `failed`.
    pub(crate) fn mark_accepted(&self, to: &str, wamid: &str) -> Result<()> {
        const FAILED: &str = "flight_failed_wamid = ?1";
        self.lock()?
            .execute(
                &format!(
                    "UPDATE recipients SET \
                     state = CASE WHEN {FAILED} THEN 'failed' ELSE 'accepted' END, \
                     error_code = CASE WHEN {FAILED} THEN 'status_failed' ELSE error_code END, \
                     api_code = CASE WHEN {FAILED} THEN flight_failed_code ELSE api_code END, \
                     wamid = ?1, unknown_since_ms = NULL, updated_ms = ?2, {CLEAR_FLIGHT} \
                     WHERE recipient = ?3 AND (state IN ('unknown', 'pending') OR (state = 'in_flight' AND owner = ?4))"
                ),
                params![wamid, now_ms(), to, &*self.owner],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// Settle this handle's in-flight row `to` by the status seen while it was in flight,
    /// if one was and `when` (SQL on the row) holds; else apply `otherwise` (the columns an
    /// `UPDATE` sets, with `?1` the row, `?2` this handle and `?3` now, then `extra`).
    /// One transaction: a status recorded between the check and the update would be lost.
    fn settle_or(
        &self,
        to: &str,
        when: &str,
        otherwise: &str,
        extra: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let now = now_ms();
        let mine = "recipient = ?1 AND state = 'in_flight' AND owner = ?2";
        let settled = tx
            .execute(
                &format!(
                    "UPDATE recipients SET {SETTLE_FROM_FLIGHT}, {CLEAR_FLIGHT}, updated_ms = ?3 \
                     WHERE {mine} AND flight_status IS NOT NULL AND {when}"
                ),
                params![to, &*self.owner, now],
            )
            .map_err(db_err)?;
        if settled == 0 {
            let owner: &str = &self.owner;
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&to, &owner, &now];
            args.extend_from_slice(extra);
            tx.execute(
                &format!("UPDATE recipients SET {otherwise}, {CLEAR_FLIGHT} WHERE {mine}"),
                args.as_slice(),
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// An in-flight send failed for good. A status seen meanwhile settles the row instead
    /// if an earlier send of it may have gone out (the status is that send's).
    pub(crate) fn mark_failed(&self, to: &str, code: &str, api_code: Option<i64>) -> Result<()> {
        self.settle_or(
            to,
            "unknown_since_ms IS NOT NULL",
            "state = 'failed', error_code = ?4, api_code = ?5, updated_ms = ?3",
            &[&code, &api_code],
        )
    }

    /// An in-flight send was certainly not processed: try again after `delay`. `written`
    /// is false when no request went out at all (the attempt is then not counted). A status
    /// seen meanwhile settles the row instead if an earlier send of it may have gone out.
    pub(crate) fn mark_retry(&self, to: &str, delay: Duration, written: bool) -> Result<()> {
        let next = now_ms().saturating_add(ms(delay));
        let uncounted = i64::from(!written);
        self.settle_or(
            to,
            "unknown_since_ms IS NOT NULL",
            "state = 'pending', next_attempt_ms = ?4, updated_ms = ?3, attempts = attempts - ?5",
            &[&next, &uncounted],
        )
    }

    /// An in-flight send's outcome is unknown: wait for a status or the quiet window. A
    /// status seen while it was in flight settles it now, as it would an `unknown` row.
    pub(crate) fn mark_unknown(&self, to: &str) -> Result<()> {
        self.settle_or(
            to,
            "1",
            "state = 'unknown', unknown_since_ms = ?3, updated_ms = ?3",
            &[],
        )
    }

    /// Apply one parsed status webhook event. Only events whose
    /// `biz_opaque_callback_data` is this campaign's key count: a recipient that was
    /// `unknown`, or `pending` again after its quiet window, is settled (`accepted` with the
    /// event's wamid, or `failed` with the first error code for a `failed` status). On a
    /// recipient in flight the status is kept aside for the send's answer to decide: the
    /// wamid the API returns settles it (a `failed` status for that wamid makes it
    /// `failed`); a send that turns out not to have gone out leaves it to be sent, unless
    /// an earlier send of it may have (the status is then that one's); a lost answer, or a
    /// lease that ran out, settles it by the status. Any other recipient gets its last
    /// status recorded (a recipient this ledger has not sent, never tried or refused every
    /// send, is not settled by the status of another ledger's send).
    pub fn apply_status(&self, status: &StatusUpdate) -> Result<Applied> {
        let code = status.error_details().first().and_then(|e| e.code());
        self.apply_status_fields(
            status.biz_opaque_callback_data(),
            status.id(),
            status.status().unwrap_or(""),
            code,
        )
    }

    /// [`Ledger::apply_status`] from the event's fields.
    pub fn apply_status_fields(
        &self,
        callback_data: Option<&str>,
        wamid: Option<&str>,
        status: &str,
        error_code: Option<i64>,
    ) -> Result<Applied> {
        let Some((campaign, to)) = callback_data.and_then(parse_key) else {
            return Ok(Applied::Ignored);
        };
        let (campaign, nonce) = match campaign.split_once('.') {
            Some((c, n)) => (c, Some(n)),
            None => (campaign, None),
        };
        if campaign != self.campaign_id {
            return Ok(Applied::Ignored);
        }
        // Another ledger's send of the same campaign. (A key without a nonce, from an older
        // version, is weighed as before: by the row's state alone.)
        if let (Some(theirs), Some(ours)) = (nonce, &self.nonce)
            && theirs != ours
        {
            return Ok(Applied::Ignored);
        }
        let now = now_ms();
        let mut conn = self.lock()?;
        // One transaction: a row leaving `in_flight` between the statements below (its
        // answer recorded by another process) would otherwise miss both the settling and the
        // keeping aside, and the status, answered 200, would never come again.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        // Only a row this ledger sent (or may have sent) is settled: `unknown`, or `pending`
        // again after a quiet window (`unknown_since_ms` set). Any other `pending` row was not
        // sent by this ledger, tried or not (a refusal, a 429, wrote no message): a status for
        // its key comes from another ledger of an identical campaign (the key is the same; a
        // user reading last week's message sends one any day) and must not keep this
        // recipient from its message. Nor may it settle a row in flight, whose send may still
        // be waiting for its slot, or be refused: it is kept aside (`flight_*`) for the
        // answer to weigh (see `mark_accepted` and `settle_or`). A row in flight for an older
        // version, which never reads them, is settled at once, as that version did.
        let settle_where = format!(
            "recipient = ?4 AND (state = 'unknown' OR (state = 'pending' AND unknown_since_ms IS NOT NULL) \
             OR (state = 'in_flight' AND NOT IFNULL({WEIGHS_FLIGHT}, 0)))"
        );
        let settled = if status == "failed" {
            tx.execute(
                &format!(
                    "UPDATE recipients SET state = 'failed', wamid = COALESCE(?1, wamid), error_code = 'status_failed', api_code = ?2, last_status = 'failed', unknown_since_ms = NULL, updated_ms = ?3 \
                     WHERE {settle_where}"
                ),
                params![wamid, error_code, now, to],
            )
        } else {
            tx.execute(
                &format!(
                    "UPDATE recipients SET state = 'accepted', wamid = COALESCE(?1, wamid), last_status = ?2, unknown_since_ms = NULL, updated_ms = ?3 \
                     WHERE {settle_where}"
                ),
                params![wamid, status, now, to],
            )
        }
        .map_err(db_err)?;
        let applied = if settled > 0 {
            Applied::Settled
        } else {
            // In flight: the latest status (what a lost answer is settled by), and the latest
            // `failed` one apart (the answer's wamid is checked against it: another ledger's
            // status coming after it must not hide it, nor it hide this send's own later one).
            let kept = tx
                .execute(
                    &format!(
                        "UPDATE recipients SET flight_status = ?1, flight_wamid = ?2, flight_code = ?3, \
                         flight_failed_wamid = CASE WHEN ?1 = 'failed' THEN ?2 ELSE flight_failed_wamid END, \
                         flight_failed_code = CASE WHEN ?1 = 'failed' THEN ?3 ELSE flight_failed_code END, \
                         flight_attempt = attempts, last_status = ?1, updated_ms = ?4 \
                         WHERE recipient = ?5 AND state = 'in_flight' AND {WEIGHS_FLIGHT}"
                    ),
                    params![status, wamid, error_code, now, to],
                )
                .map_err(db_err)?;
            let recorded = if kept > 0 {
                kept
            } else {
                tx.execute(
                    "UPDATE recipients SET last_status = ?1, updated_ms = ?2 WHERE recipient = ?3",
                    params![status, now, to],
                )
                .map_err(db_err)?
            };
            if recorded > 0 {
                Applied::Recorded
            } else {
                Applied::Ignored
            }
        };
        tx.commit().map_err(db_err)?;
        Ok(applied)
    }

    /// Parse a webhook POST body and apply every status event in it. Returns how many
    /// recipients were settled.
    pub fn apply_webhook(&self, body: &[u8]) -> Result<u64> {
        let mut settled = 0;
        for ev in crate::webhook::parse(body)? {
            if let Some(s) = ev.as_status()
                && self.apply_status(s)? == Applied::Settled
            {
                settled += 1;
            }
        }
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        let to = |i| (format!("1555900{i:04}"), vec![]);
        Campaign::new("order_update", "en_US", (0..3).map(to).collect()).unwrap()
    }

    /// The processes of a sharded campaign create its ledger file at once: each open
    /// waits out the others' switch to WAL and schema write (SQLite answers those busy
    /// at once, without its busy handler), instead of failing with "database is locked".
    #[test]
    fn many_processes_creating_one_ledger_at_once_all_open_it() {
        let c = campaign();
        for round in 0..60 {
            let path = temp_ledger(&format!("race{round}"));
            let barrier = std::sync::Barrier::new(8);
            std::thread::scope(|s| {
                let opened: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            Ledger::open(&path, &c).map(|_| ())
                        })
                    })
                    .collect();
                for o in opened {
                    o.join().unwrap().unwrap();
                }
            });
        }
    }

    /// A ledger file deleted under a running broadcast: its rows would be claimed (and
    /// sent) in a file no later run sees, which would then send them all again. The next
    /// claim is refused with `store`.
    #[test]
    fn a_ledger_file_deleted_underneath_claims_nothing_more() {
        let path = temp_ledger("deleted");
        let l = Ledger::open(&path, &campaign()).unwrap();
        assert!(l.claim_next().unwrap().is_some());
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        let e = l.claim_next().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Store, "{e}");
    }

    /// The ledger's write-ahead log and index removed under a running broadcast: what it
    /// claimed and recorded went to the removed log, which a second run (or a resume)
    /// never saw, and every recipient was sent again. The next claim is refused, and so
    /// is a resume of the campaign in another process that opened the path afresh only
    /// because this one kept writing elsewhere.
    #[test]
    fn a_ledger_whose_wal_or_shm_was_removed_underneath_claims_nothing_more() {
        for removed in [&["-wal", "-shm"][..], &["-shm"], &["-wal"]] {
            let path = temp_ledger("wal-removed");
            let l = Ledger::open(&path, &campaign()).unwrap();
            assert!(l.claim_next().unwrap().is_some());
            for suffix in removed {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                std::fs::remove_file(p).unwrap();
            }
            let e = l.claim_next().unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Store, "{removed:?}: {e}");
            assert!(
                e.to_string()
                    .contains("was deleted since this process opened the file"),
                "{e}"
            );
        }
    }

    fn temp_ledger(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wa360-ledger-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("ledger.db")
    }

    /// Apply a status with `to`'s key in campaign `c` to `l` (as a webhook for it would).
    fn status_for(l: &Ledger, c: &Campaign, to: &str, wamid: &str, status: &str) -> Applied {
        let key = recipient_key(c.id(), to);
        l.apply_status_fields(Some(&key), Some(wamid), status, None)
            .unwrap()
    }

    fn state_of(l: &Ledger, to: &str) -> (RecipientState, Option<String>) {
        let e = l
            .entries()
            .unwrap()
            .into_iter()
            .find(|e| e.to == to)
            .unwrap();
        (e.state, e.wamid)
    }

    /// A status for a recipient this ledger never sent (a new ledger of an identical
    /// campaign, whose key is the same, fed the earlier run's late statuses) settles
    /// nothing: the row stays `pending` and is sent. Once sent, a status settles it.
    #[test]
    fn a_status_never_settles_a_recipient_this_ledger_has_not_sent() {
        let (path, c) = (temp_ledger("unsent"), campaign());
        let l = Ledger::open(&path, &c).unwrap();
        let to = c.recipients()[0].to.clone();
        for status in ["delivered", "failed"] {
            assert_eq!(
                status_for(&l, &c, &to, "wamid.OLD", status),
                Applied::Recorded
            );
            assert_eq!(state_of(&l, &to), (RecipientState::Pending, None));
        }
        let (claimed, _, _) = l.claim_next().unwrap().unwrap();
        assert_eq!(claimed, to);
        l.mark_unknown(&to).unwrap();
        assert_eq!(
            status_for(&l, &c, &to, "wamid.NEW", "sent"),
            Applied::Settled
        );
        assert_eq!(
            state_of(&l, &to),
            (RecipientState::Accepted, Some("wamid.NEW".into()))
        );
    }

    /// A ledger's sends carry its own mark: another ledger of the identical campaign (last
    /// week's run of the same list) settles none of this one's rows with its statuses, also
    /// not a row whose send's fate is unknown (a crash while it waited for its slot), which
    /// then goes out. This ledger's own status, and a key without a mark (an older version's
    /// send), still settle it.
    #[test]
    fn another_ledgers_statuses_of_the_same_campaign_settle_nothing() {
        let c = campaign();
        let last_week = Ledger::open(temp_ledger("week1"), &c).unwrap();
        let l = Ledger::open(temp_ledger("week2"), &c).unwrap();
        let (a, b) = (c.recipients()[0].to.clone(), c.recipients()[1].to.clone());
        assert_ne!(last_week.key_for(&a), l.key_for(&a));
        assert_eq!(parse_key(&l.key_for(&a)).map(|k| k.1), Some(a.as_str()));
        for to in [&a, &b] {
            let (claimed, _, _) = l.claim_next().unwrap().unwrap();
            assert_eq!(&claimed, to);
            l.mark_unknown(to).unwrap();
        }
        let theirs = last_week.key_for(&a);
        assert_eq!(
            l.apply_status_fields(Some(&theirs), Some("wamid.LAST"), "read", None)
                .unwrap(),
            Applied::Ignored
        );
        assert_eq!(state_of(&l, &a), (RecipientState::Unknown, None));
        let ours = l.key_for(&a);
        assert_eq!(
            l.apply_status_fields(Some(&ours), Some("wamid.OURS"), "sent", None)
                .unwrap(),
            Applied::Settled
        );
        assert_eq!(
            state_of(&l, &a),
            (RecipientState::Accepted, Some("wamid.OURS".into()))
        );
        assert_eq!(
            status_for(&l, &c, &b, "wamid.OLD_FORM", "delivered"),
            Applied::Settled
        );
        // The mark is the file's: a second handle on it (another process) has the same.
        let again = Ledger::open(l.path(), &c).unwrap();
        assert_eq!(again.key_for(&b), l.key_for(&b));
        assert_eq!(
            Ledger::open_existing(l.path()).unwrap().key_for(&b),
            l.key_for(&b)
        );
    }

    /// A send refused (a 429: no message written) leaves its row `pending` with an attempt
    /// counted. A status for its key (another ledger of an identical campaign: a user reading
    /// last week's message) settled it as accepted, and the recipient never got this
    /// campaign's message. A row whose outcome was unknown and which the quiet window made
    /// pending again may have been sent: a status still settles it.
    #[test]
    fn a_status_settles_a_retried_row_only_if_one_of_its_sends_may_have_gone_out() {
        let (path, c) = (temp_ledger("refused"), campaign());
        let l = Ledger::open(&path, &c).unwrap();
        let (refused, _, _) = l.claim_next().unwrap().unwrap();
        l.mark_retry(&refused, Duration::from_secs(3600), true)
            .unwrap();
        assert_eq!(
            status_for(&l, &c, &refused, "wamid.LAST_WEEK", "read"),
            Applied::Recorded
        );
        assert_eq!(state_of(&l, &refused), (RecipientState::Pending, None));
        let (unsure, _, _) = l.claim_next().unwrap().unwrap();
        assert_ne!(unsure, refused);
        l.mark_unknown(&unsure).unwrap();
        assert_eq!(l.release_quiet_unknowns(Duration::ZERO).unwrap(), 1);
        assert_eq!(state_of(&l, &unsure).0, RecipientState::Pending);
        assert_eq!(
            status_for(&l, &c, &unsure, "wamid.SENT", "delivered"),
            Applied::Settled
        );
        assert_eq!(
            state_of(&l, &unsure),
            (RecipientState::Accepted, Some("wamid.SENT".into()))
        );
    }

    /// A status for a row in flight is kept aside, and the send's answer decides. Another
    /// ledger's status (a user reading last week's message of an identical campaign) that
    /// comes while the send waits for its slot must not settle a row whose send then does
    /// not go out (withdrawn, refused, certainly not processed): it would never be sent.
    #[test]
    fn a_status_in_flight_never_settles_a_row_whose_send_did_not_go_out() {
        let (path, c) = (temp_ledger("flight-foreign"), campaign());
        let l = Ledger::open(&path, &c).unwrap();
        let (withdrawn, _, _) = l.claim_next().unwrap().unwrap();
        let (refused, _, _) = l.claim_next().unwrap().unwrap();
        let (limited, _, _) = l.claim_next().unwrap().unwrap();
        for to in [&withdrawn, &refused, &limited] {
            assert_eq!(
                status_for(&l, &c, to, "wamid.LAST_WEEK", "read"),
                Applied::Recorded
            );
            assert_eq!(state_of(&l, to), (RecipientState::InFlight, None));
        }
        l.mark_retry(&withdrawn, Duration::ZERO, false).unwrap();
        l.mark_failed(&refused, "invalid_argument", Some(131008))
            .unwrap();
        l.mark_retry(&limited, Duration::ZERO, true).unwrap();
        assert_eq!(state_of(&l, &withdrawn), (RecipientState::Pending, None));
        assert_eq!(state_of(&l, &refused), (RecipientState::Failed, None));
        assert_eq!(state_of(&l, &limited), (RecipientState::Pending, None));
        // Claimed again, the status seen last time is forgotten: a lost answer now leaves
        // the row `unknown` (its quiet window decides), not settled by last week's status.
        let (again, _, _) = l.claim_next().unwrap().unwrap();
        assert_eq!(again, withdrawn);
        l.mark_unknown(&again).unwrap();
        assert_eq!(state_of(&l, &again), (RecipientState::Unknown, None));
    }

    /// A row in flight for an older version (its owner's name starts with a digit), which
    /// never reads the statuses kept aside, is settled by a status at once, as that version
    /// expects; and one such a version left with stale `flight_*` columns is not settled by
    /// them when its lease runs out.
    #[test]
    fn a_row_in_flight_for_an_older_version_is_settled_as_that_version_did() {
        let (path, c) = (temp_ledger("flight-old"), campaign());
        let mut new = Ledger::open(&path, &c).unwrap();
        new.lease = Duration::from_millis(50);
        let mut old = new.clone();
        old.owner = "4242-00000000000000aa".into();
        let (to, _, _) = old.claim_next().unwrap().unwrap();
        assert_eq!(
            status_for(&new, &c, &to, "wamid.OLD", "delivered"),
            Applied::Settled
        );
        assert_eq!(
            state_of(&new, &to),
            (RecipientState::Accepted, Some("wamid.OLD".into()))
        );
        // Stale columns (as if a newer handle had kept a status, then an older one claimed
        // the row without clearing them), and the older handle dies.
        let (stale, _, _) = old.claim_next().unwrap().unwrap();
        new.lock().unwrap()
            .execute(
                "UPDATE recipients SET flight_status = 'read', flight_wamid = 'wamid.STALE' WHERE recipient = ?1",
                [&stale],
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        new.release_quiet_unknowns(Duration::from_secs(3600))
            .unwrap();
        assert_eq!(state_of(&new, &stale), (RecipientState::Unknown, None));
        // The other way round: a newer handle's row, a status kept aside, the handle dies,
        // and an older version's lease expiry (which knows no kept status) turns it
        // `unknown`. The status will not come again: the next release settles the row.
        let (kept, _, _) = new.claim_next().unwrap().unwrap();
        status_for(&new, &c, &kept, "wamid.KEPT", "delivered");
        new.lock().unwrap()
            .execute(
                "UPDATE recipients SET state = 'unknown', unknown_since_ms = ?2, owner = NULL WHERE recipient = ?1",
                params![&kept, now_ms()],
            )
            .unwrap();
        new.release_quiet_unknowns(Duration::from_secs(3600))
            .unwrap();
        assert_eq!(
            state_of(&new, &kept),
            (RecipientState::Accepted, Some("wamid.KEPT".into()))
        );
    }

    /// The status of the send itself can come before its answer (the webhook is fast, the
    /// answer slow): the answer settles the row, and a `failed` status for that very wamid
    /// makes it `failed`, as it would have after the answer. A lost answer, or a process
    /// that dies with the send in flight (its lease runs out), is settled by the status
    /// seen meanwhile: it will not be delivered again, and the row must not go out twice.
    #[test]
    fn a_status_in_flight_settles_the_row_with_the_answer_or_when_the_answer_is_lost() {
        let (path, c) = (temp_ledger("flight-own"), campaign());
        let mut l = Ledger::open(&path, &c).unwrap();
        let (ok, _, _) = l.claim_next().unwrap().unwrap();
        let (bad, _, _) = l.claim_next().unwrap().unwrap();
        status_for(&l, &c, &ok, "wamid.OK", "sent");
        l.apply_status_fields(
            Some(&recipient_key(c.id(), &bad)),
            Some("wamid.BAD"),
            "failed",
            Some(131026),
        )
        .unwrap();
        // Neither a late `sent` of the same message nor another ledger's status for the
        // same key undoes the failure.
        status_for(&l, &c, &bad, "wamid.BAD", "sent");
        status_for(&l, &c, &bad, "wamid.LAST_WEEK", "read");
        l.mark_accepted(&ok, "wamid.OK").unwrap();
        l.mark_accepted(&bad, "wamid.BAD").unwrap();
        assert_eq!(
            state_of(&l, &ok),
            (RecipientState::Accepted, Some("wamid.OK".into()))
        );
        assert_eq!(
            state_of(&l, &bad),
            (RecipientState::Failed, Some("wamid.BAD".into()))
        );
        let e = l.entries().unwrap();
        let bad_row = e.iter().find(|r| r.to == bad).unwrap();
        assert_eq!(
            (bad_row.error_code.as_deref(), bad_row.api_code),
            (Some("status_failed"), Some(131026))
        );

        // A lost answer: settled by the latest status seen in flight, even after another
        // ledger's `failed` one.
        let (path, c) = (temp_ledger("flight-lost"), campaign());
        l = Ledger::open(&path, &c).unwrap();
        let (lost, _, _) = l.claim_next().unwrap().unwrap();
        status_for(&l, &c, &lost, "wamid.LAST_WEEK", "failed");
        status_for(&l, &c, &lost, "wamid.LOST", "delivered");
        l.mark_unknown(&lost).unwrap();
        assert_eq!(
            state_of(&l, &lost),
            (RecipientState::Accepted, Some("wamid.LOST".into()))
        );
        // A dead process: its lease runs out, and the next open settles the row.
        let mut dead = l.clone();
        dead.owner = owner_name();
        dead.lease = Duration::from_millis(50);
        let (died, _, _) = dead.claim_next().unwrap().unwrap();
        status_for(&l, &c, &died, "wamid.DIED", "sent");
        std::thread::sleep(Duration::from_millis(100));
        let reopened = Ledger::open(&path, &c).unwrap();
        assert_eq!(
            state_of(&reopened, &died),
            (RecipientState::Accepted, Some("wamid.DIED".into()))
        );
        // A row sent before (its answer lost, its quiet window passed) and claimed again:
        // a status while the new send waits is the earlier send's, and settles it even if
        // the new send is refused.
        let (last, _, _) = l.claim_next().unwrap().unwrap();
        l.mark_unknown(&last).unwrap();
        assert_eq!(l.release_quiet_unknowns(Duration::ZERO).unwrap(), 1);
        let (again, _, _) = l.claim_next().unwrap().unwrap();
        assert_eq!(again, last);
        status_for(&l, &c, &again, "wamid.EARLIER", "delivered");
        l.mark_retry(&again, Duration::ZERO, false).unwrap();
        assert_eq!(
            state_of(&l, &again),
            (RecipientState::Accepted, Some("wamid.EARLIER".into()))
        );
    }

    /// A ledger of an older version, whose quiet window cleared `unknown_since_ms` when it
    /// made a row pending again: opened by this version, such a row (tried before, maybe
    /// sent) is still settled by a late status, as that version let it be, not sent twice.
    #[test]
    fn pending_rows_of_an_older_version_are_still_settled_by_a_late_status() {
        let (path, c) = (temp_ledger("older"), campaign());
        let to = {
            let l = Ledger::open(&path, &c).unwrap();
            let (to, _, _) = l.claim_next().unwrap().unwrap();
            l.mark_unknown(&to).unwrap();
            assert_eq!(l.release_quiet_unknowns(Duration::ZERO).unwrap(), 1);
            to
        };
        // What the older version left: the mark cleared, and no note of the migration.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE recipients SET unknown_since_ms = NULL;
             DELETE FROM meta WHERE key = 'pending_rows_marked';",
        )
        .unwrap();
        drop(conn);
        let l = Ledger::open(&path, &c).unwrap();
        assert_eq!(
            status_for(&l, &c, &to, "wamid.SENT", "delivered"),
            Applied::Settled
        );
    }

    /// Two processes on one ledger: a second run, or a progress page, opening it while
    /// the first sends changes nothing the first is doing: its row is never handed out
    /// again, and the answer to its send is recorded.
    #[test]
    fn opening_a_ledger_leaves_the_rows_another_handle_is_sending_alone() {
        let (path, c) = (temp_ledger("second-open"), campaign());
        let first = Ledger::open(&path, &c).unwrap();
        let (to, _, _) = first.claim_next().unwrap().unwrap();
        let second = Ledger::open(&path, &c).unwrap();
        // The second run's poll, with a window that releases any `unknown` row at once.
        assert_eq!(second.release_quiet_unknowns(Duration::ZERO).unwrap(), 0);
        let mut claimed = Vec::new();
        while let Some((other, _, _)) = second.claim_next().unwrap() {
            claimed.push(other);
        }
        assert_eq!(claimed.len(), 2);
        assert!(!claimed.contains(&to), "{to} handed out twice");
        first.mark_accepted(&to, "wamid.FIRST").unwrap();
        assert_eq!(
            state_of(&second, &to),
            (RecipientState::Accepted, Some("wamid.FIRST".into()))
        );
        // Each handle settles only its own rows.
        second.mark_failed(&to, "recipient", None).unwrap();
        first.mark_unknown(&claimed[0]).unwrap();
        assert_eq!(state_of(&first, &to).0, RecipientState::Accepted);
        assert_eq!(state_of(&first, &claimed[0]).0, RecipientState::InFlight);
    }

    /// The run state and the last error across runs of several processes: a run that
    /// fails while another is live leaves the campaign `running`, and the other's clean
    /// end clears the error; a failure with no other live run halts the campaign, and a
    /// Ctrl-C of a run whose heartbeat had aged out meanwhile makes it `stopped`.
    #[test]
    fn a_failed_run_halts_the_campaign_only_when_no_other_run_is_live() {
        let (path, c) = (temp_ledger("halt"), campaign());
        let mut l = Ledger::open(&path, &c).unwrap();
        l.lease = Duration::from_millis(200);
        let summary = serde_json::json!({});
        let state = || (l.run_state().unwrap(), l.last_error().unwrap());

        l.begin_run("a").unwrap();
        l.begin_run("b").unwrap();
        l.leave_run("b", "template: missing").unwrap();
        assert_eq!(
            state(),
            ("running".into(), Some("template: missing".into()))
        );
        l.end_run("a", &summary, true, false).unwrap();
        assert_eq!(
            state(),
            ("done".into(), None),
            "a clean end clears the error"
        );

        l.begin_run("c").unwrap();
        l.leave_run("c", "authentication: refused").unwrap();
        assert_eq!(
            state(),
            ("halted".into(), Some("authentication: refused".into()))
        );
        l.begin_run("d").unwrap();
        assert_eq!(state(), ("running".into(), None), "a new run clears it");

        // `d` stops beating (a stalled process); `e` fails meanwhile: nothing else is live.
        std::thread::sleep(Duration::from_millis(300));
        l.begin_run("e").unwrap();
        l.leave_run("e", "connection: down").unwrap();
        assert_eq!(state().0, "halted");
        l.end_run("d", &summary, false, true).unwrap();
        assert_eq!(state(), ("stopped".into(), None));

        // An operator's pause or stop outlasts a failed run.
        l.pause().unwrap();
        l.begin_run("f").unwrap();
        l.leave_run("f", "x").unwrap();
        assert_eq!(state().0, "paused");
    }

    /// A run that dies mid-send stops renewing: its row becomes `unknown` once the lease
    /// has run out, with a quiet window that starts then, not at the claim (nothing may
    /// have listened for its status in between). A renewed row stays its claimer's.
    #[test]
    fn a_row_becomes_unknown_when_its_lease_runs_out_with_a_window_from_then() {
        let (path, c) = (temp_ledger("lease"), campaign());
        let mut crashed = Ledger::open(&path, &c).unwrap();
        crashed.lease = Duration::from_millis(1000);
        let mut live = crashed.clone();
        live.owner = owner_name();
        let (dead_row, _, _) = crashed.claim_next().unwrap().unwrap();
        let (live_row, _, _) = live.claim_next().unwrap().unwrap();
        let until = std::time::Instant::now() + Duration::from_millis(2500);
        while std::time::Instant::now() < until {
            assert_eq!(
                live.renew(None, std::slice::from_ref(&live_row)).unwrap(),
                std::slice::from_ref(&live_row)
            );
            assert!(
                live.renew(None, std::slice::from_ref(&dead_row))
                    .unwrap()
                    .is_empty()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let restarted = Ledger::open(&path, &c).unwrap();
        assert_eq!(state_of(&restarted, &dead_row).0, RecipientState::Unknown);
        assert_eq!(state_of(&restarted, &live_row).0, RecipientState::InFlight);
        // 2.5 s after the claim, but the one-second window started at the reopen.
        let window = Duration::from_secs(1);
        assert_eq!(restarted.release_quiet_unknowns(window).unwrap(), 0);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(restarted.release_quiet_unknowns(window).unwrap(), 1);
        // The late answer to the dead run's send still wins over a resend.
        crashed.mark_accepted(&dead_row, "wamid.LATE").unwrap();
        assert_eq!(state_of(&restarted, &dead_row).0, RecipientState::Accepted);
    }

    /// A new run restarts the quiet window of the rows already `unknown`: the statuses
    /// that came while no run listened are delivered again before any resend.
    #[test]
    fn a_run_restarts_the_quiet_windows() {
        let (path, c) = (temp_ledger("window"), campaign());
        let l = Ledger::open(&path, &c).unwrap();
        let (to, _, _) = l.claim_next().unwrap().unwrap();
        l.mark_unknown(&to).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        l.restart_quiet_windows().unwrap();
        let window = Duration::from_millis(500);
        assert_eq!(l.release_quiet_unknowns(window).unwrap(), 0);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(l.release_quiet_unknowns(window).unwrap(), 1);
    }

    /// A ledger file made before rows had owners opens, and its `in_flight` rows (a
    /// crashed run's) become `unknown`.
    #[test]
    fn a_ledger_without_owner_columns_is_upgraded() {
        let (path, c) = (temp_ledger("upgrade"), campaign());
        let (to, _, _) = Ledger::open(&path, &c)
            .unwrap()
            .claim_next()
            .unwrap()
            .unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE recipients DROP COLUMN owner;
             ALTER TABLE recipients DROP COLUMN lease_until_ms;",
        )
        .unwrap();
        drop(conn);
        let l = Ledger::open(&path, &c).unwrap();
        assert_eq!(state_of(&l, &to).0, RecipientState::Unknown);
        assert!(l.claim_next().unwrap().is_some());
    }
}
