//! `Campaign`, `Ledger` and the broadcast options of `Client.broadcast` /
//! `AsyncClient.broadcast` (core: `wa360::broadcast`).

use std::sync::Arc;

use pyo3::prelude::*;
use wa360::broadcast::{Campaign, Ledger, Progress, ProgressFn, ledger_path};

use crate::convert::serialized_to_py as json_out;
use crate::convert::text_arg;
use crate::errors::{IntoPyResult, guard, to_py_err};

/// A template campaign: template, language and recipients with their body parameters.
#[pyclass(name = "Campaign", module = "wa360._native", frozen)]
pub struct PyCampaign {
    pub inner: Campaign,
}

#[pymethods]
impl PyCampaign {
    /// Recipients as `[(to, [param, …]), …]`; every row is checked now (bad number,
    /// empty parameter, duplicate recipient → `InvalidArgumentError` naming the row).
    #[new]
    fn new(
        template: &Bound<'_, PyAny>,
        language: &Bound<'_, PyAny>,
        recipients: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let (template, language) = names(template, language)?;
        let recipients = recipients_arg(recipients)?;
        guard(|| {
            Ok(PyCampaign {
                inner: Campaign::new(&template, &language, recipients).py_err()?,
            })
        })
    }

    /// Read a CSV text: header `to` then one column per body parameter.
    #[staticmethod]
    fn from_csv(
        template: &Bound<'_, PyAny>,
        language: &Bound<'_, PyAny>,
        csv_text: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let (template, language) = names(template, language)?;
        let csv_text = text_arg(csv_text, "csv_text")?;
        guard(|| {
            Ok(PyCampaign {
                inner: Campaign::from_csv(&template, &language, &csv_text).py_err()?,
            })
        })
    }

    /// Read a CSV file.
    #[staticmethod]
    fn from_csv_file(
        template: &Bound<'_, PyAny>,
        language: &Bound<'_, PyAny>,
        path: std::path::PathBuf,
    ) -> PyResult<Self> {
        let (template, language) = names(template, language)?;
        guard(|| {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                to_py_err(wa360::Error::invalid(
                    "recipients",
                    format!("cannot read {}: {e}", path.display()),
                ))
            })?;
            Ok(PyCampaign {
                inner: Campaign::from_csv(&template, &language, &text).py_err()?,
            })
        })
    }

    /// The campaign id (a fingerprint of template, language and rows).
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }
    /// Number of recipients.
    fn __len__(&self) -> usize {
        self.inner.recipients().len()
    }
    fn __repr__(&self) -> String {
        format!(
            "Campaign(id={:?}, template={:?}, language={:?}, recipients={})",
            self.inner.id(),
            self.inner.template(),
            self.inner.language(),
            self.inner.recipients().len()
        )
    }
}

/// The durable ledger of one campaign (`sqlite:///PATH`).
///
/// Fork safety (as `Inbox`): a ledger remembers the process that opened its
/// SQLite connection; used in a forked child (gunicorn `--preload`, Celery
/// prefork, multiprocessing) it opens the file again. SQLite forbids using a
/// connection across `fork()`: the child's writes could corrupt the file.
#[pyclass(name = "Ledger", module = "wa360._native", frozen)]
pub struct PyLedger {
    slot: std::sync::Mutex<(u32, Ledger)>,
}

impl PyLedger {
    fn opened(ledger: Ledger) -> Self {
        PyLedger {
            slot: std::sync::Mutex::new((std::process::id(), ledger)),
        }
    }

    /// The ledger for this process (opened again after a fork).
    pub fn get(&self) -> wa360::Result<Ledger> {
        let pid = std::process::id();
        let mut slot = crate::inbox::lock(&self.slot);
        if slot.0 != pid {
            let path = slot.1.path().to_path_buf();
            *slot = (pid, Ledger::open_existing(path)?);
        }
        Ok(slot.1.clone())
    }
}

#[pymethods]
impl PyLedger {
    /// Open (or create) the ledger of `campaign`; a ledger of another campaign is refused.
    #[new]
    fn new(url: &str, campaign: &PyCampaign) -> PyResult<Self> {
        guard(|| {
            let path = ledger_path(url).py_err()?;
            Ok(PyLedger::opened(
                Ledger::open(path, &campaign.inner).py_err()?,
            ))
        })
    }

    /// Open an existing ledger (to feed statuses, read counts, pause / resume / stop).
    #[staticmethod]
    fn open_existing(url: &str) -> PyResult<Self> {
        guard(|| {
            let path = ledger_path(url).py_err()?;
            Ok(PyLedger::opened(Ledger::open_existing(path).py_err()?))
        })
    }

    /// The campaign id stored in the ledger.
    #[getter]
    fn campaign_id(&self) -> String {
        crate::inbox::lock(&self.slot).1.campaign_id().to_string()
    }

    /// Counts per state: `{"total","pending","in_flight","accepted","failed","unknown"}`.
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| json_out(py, &self.get().py_err()?.counts().py_err()?))
    }

    /// Every recipient's row: `[{"row","to","params","state","attempts","wamid",…}]`.
    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| json_out(py, &self.get().py_err()?.entries().py_err()?))
    }

    /// Apply a webhook POST body (bytes or str): its status events settle `unknown`
    /// recipients. Returns how many were settled.
    fn apply_webhook(&self, py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<u64> {
        guard(|| {
            let bytes: Vec<u8> = if body.is_instance_of::<pyo3::types::PyString>() {
                text_arg(body, "body")?.into_bytes()
            } else {
                body.extract().map_err(|_| {
                    to_py_err(wa360::Error::invalid(
                        "body",
                        "must be the raw webhook body (bytes or str); for parsed events use \
                         apply_events",
                    ))
                })?
            };
            let l = self.get().py_err()?;
            py.detach(|| l.apply_webhook(&bytes)).py_err()
        })
    }

    /// Apply parsed events, as a receiver's callback or an inbox consumer gets them: each
    /// `StatusEvent` of this campaign settles its recipient as `apply_webhook` does; other
    /// events are skipped. Returns how many recipients were settled.
    fn apply_events(&self, py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<u64> {
        let list = items(events, "events", "must be a list of events")?;
        let mut statuses = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let ev = e.cast::<crate::webhook::PyEvent>().map_err(|_| {
                to_py_err(wa360::Error::invalid(
                    format!("events[{i}]"),
                    "must be an event from parse_webhook, a receiver or an inbox",
                ))
            })?;
            if let Some(s) = ev.get().event.as_status() {
                let code = s.error_details().first().and_then(|e| e.code());
                statuses.push((
                    s.biz_opaque_callback_data().map(str::to_owned),
                    s.id().map(str::to_owned),
                    s.status().unwrap_or("").to_owned(),
                    code,
                ));
            }
        }
        guard(|| {
            let l = self.get().py_err()?;
            py.detach(|| {
                let mut settled = 0u64;
                for (data, wamid, status, code) in &statuses {
                    let applied =
                        l.apply_status_fields(data.as_deref(), wamid.as_deref(), status, *code)?;
                    settled += u64::from(applied == wa360::broadcast::Applied::Settled);
                }
                Ok(settled)
            })
            .py_err()
        })
    }

    /// Ask a running broadcast (any process) to pause.
    fn pause(&self) -> PyResult<()> {
        guard(|| self.get().and_then(|l| l.pause()).py_err())
    }
    /// Let a paused broadcast go on.
    fn resume(&self) -> PyResult<()> {
        guard(|| self.get().and_then(|l| l.resume()).py_err())
    }
    /// Ask a running broadcast to stop after the sends in flight.
    fn stop(&self) -> PyResult<()> {
        guard(|| self.get().and_then(|l| l.stop()).py_err())
    }
    /// Put the failed recipients back to pending for the next run; returns how many.
    fn retry_failed(&self) -> PyResult<u64> {
        guard(|| self.get().and_then(|l| l.retry_failed()).py_err())
    }
    /// `running`, `paused`, `stopped`, `done`, or `halted` (the last run ended with an
    /// error: `last_error()`).
    fn run_state(&self) -> PyResult<String> {
        guard(|| self.get().and_then(|l| l.run_state()).py_err())
    }
    /// The error the last run ended with, or `None` (cleared when a run begins, or ends
    /// without an error).
    fn last_error(&self) -> PyResult<Option<String>> {
        guard(|| self.get().and_then(|l| l.last_error()).py_err())
    }
    fn __repr__(&self) -> String {
        let slot = crate::inbox::lock(&self.slot);
        format!(
            "Ledger(path={:?}, campaign_id={:?})",
            slot.1.path().display().to_string(),
            slot.1.campaign_id()
        )
    }
}

/// What `take` reads from an argument `name` that must be an instance of the
/// (frozen) class `T` (`wa360.Campaign`, `wa360.Ledger`); otherwise `invalid_argument`.
pub fn class_arg<T, R>(
    obj: &Bound<'_, PyAny>,
    name: &str,
    take: impl FnOnce(&T) -> R,
) -> PyResult<R>
where
    T: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync,
{
    let not = || {
        let class = T::NAME;
        to_py_err(wa360::Error::invalid(
            name,
            format!("must be a wa360.{class}"),
        ))
    };
    Ok(take(obj.cast::<T>().map_err(|_| not())?.get()))
}

/// A campaign's `template` and `language`, read strictly ([`text_arg`]).
fn names(template: &Bound<'_, PyAny>, language: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    Ok((
        text_arg(template, "template")?,
        text_arg(language, "language")?,
    ))
}

/// `[(to, [param, …]), …]` read strictly: every string through [`text_arg`], and each
/// wrong shape an `InvalidArgumentError` naming its place (`recipients[3][1][0]`), never
/// PyO3's `TypeError` or a `UnicodeEncodeError`.
fn recipients_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, Vec<String>)>> {
    let rows = items(
        obj,
        "recipients",
        "must be a list of (to, [param, …]) pairs",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let at = format!("recipients[{i}]");
        let pair = items(row, &at, "must be a (to, [param, …]) pair")?;
        let [to, params] = pair.as_slice() else {
            return Err(to_py_err(wa360::Error::invalid(
                at,
                "must be a (to, [param, …]) pair",
            )));
        };
        let to = text_arg(to, &format!("{at}[0]"))?;
        let params = items(params, &format!("{at}[1]"), "must be a list of str")?
            .iter()
            .enumerate()
            .map(|(j, p)| text_arg(p, &format!("{at}[1][{j}]")))
            .collect::<PyResult<Vec<_>>>()?;
        out.push((to, params));
    }
    Ok(out)
}

/// The items of a list-like argument (not a `str`), or `rule` naming `name`.
fn items<'py>(o: &Bound<'py, PyAny>, name: &str, rule: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let bad = || to_py_err(wa360::Error::invalid(name, rule));
    if o.is_instance_of::<pyo3::types::PyString>() {
        return Err(bad());
    }
    o.try_iter().map_err(|_| bad())?.collect()
}

/// The core's progress callback for a Python `progress`: called (from a worker thread,
/// with the GIL) with a dict of counts, rate, ETA and phase; an exception it raises is
/// reported as unraisable, never stopping the run.
pub fn progress_callback(cb: Py<PyAny>) -> ProgressFn {
    let cb = Arc::new(cb);
    Arc::new(move |p: &Progress| {
        crate::runtime::off_worker(|| {
            Python::attach(|py| {
                let r = json_out(py, p).and_then(|d| cb.call1(py, (d,)));
                if let Err(e) = r {
                    e.write_unraisable(py, None);
                }
            })
        });
    })
}

/// The broadcasts under way in this process, so that the interpreter's exit can stop them
/// and wait for their sends in flight (`_finish_broadcasts`, registered with `atexit` by
/// the package). Without that wait, an asyncio broadcast cancelled by Ctrl-C would have its
/// requests cut off as the process ends: sends that may have gone out would stay
/// `in_flight`, and a resume would send them again after the quiet window.
static RUNNING: std::sync::Mutex<Vec<(u64, u32, wa360::broadcast::BroadcastControl)>> =
    std::sync::Mutex::new(Vec::new());
static ENDED: std::sync::Condvar = std::sync::Condvar::new();
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One entry of [`RUNNING`], removed when dropped (the broadcast's task ended).
pub struct Registered(u64);

/// Record a broadcast of this process under way, with the control that stops it.
pub fn register(control: &wa360::broadcast::BroadcastControl) -> Registered {
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut list = crate::inbox::lock(&RUNNING);
    list.push((id, std::process::id(), control.clone()));
    Registered(id)
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut list = crate::inbox::lock(&RUNNING);
        list.retain(|(id, _, _)| *id != self.0);
        ENDED.notify_all();
    }
}

/// Stops the broadcast when dropped while armed: the asyncio future of a broadcast was
/// cancelled (its task aborted), and the broadcast itself, running as its own task, ends
/// after its sends in flight instead of being cut off.
pub struct StopOnDrop(pub Option<wa360::broadcast::BroadcastControl>);

impl StopOnDrop {
    /// The broadcast ended: nothing to stop.
    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            tracing::warn!(target: "wa360::broadcast", "broadcast cancelled: stopping after the sends in flight");
            c.stop();
        }
    }
}

/// How many broadcasts of this process are under way (`wa360/_signals.py`: a SIGTERM then
/// stops them rather than killing the process at once).
#[pyfunction]
pub fn _running_broadcasts() -> usize {
    ours(&crate::inbox::lock(&RUNNING))
}

/// The entries of this process (those of another pid were copied by fork(): their tasks
/// do not exist here).
fn ours(list: &[(u64, u32, wa360::broadcast::BroadcastControl)]) -> usize {
    let pid = std::process::id();
    list.iter().filter(|(_, p, _)| *p == pid).count()
}

/// Make SIGTERM stop the broadcasts when it has Python's default action (which kills the
/// process at once); see `wa360/_signals.py`. Called as a broadcast starts; a failure only
/// leaves the default.
pub fn arm_sigterm(py: Python<'_>) {
    if let Err(e) = py
        .import("wa360._signals")
        .and_then(|m| m.call_method0("arm"))
    {
        tracing::debug!(target: "wa360::broadcast", error = %e, "SIGTERM handling not installed");
    }
}

/// Stop every broadcast of this process and wait, with the GIL released, up to `timeout`
/// seconds for their sends in flight. Returns how many are still running. Called at exit.
#[pyfunction]
#[pyo3(signature = (timeout = 60.0))]
pub fn _finish_broadcasts(py: Python<'_>, timeout: f64) -> usize {
    let timeout = std::time::Duration::try_from_secs_f64(timeout).unwrap_or_default();
    py.detach(move || {
        let pid = std::process::id();
        let deadline = std::time::Instant::now() + timeout;
        let mut list = crate::inbox::lock(&RUNNING);
        if ours(&list) > 0 {
            tracing::warn!(
                target: "wa360::broadcast",
                running = ours(&list),
                "exiting: stopping the broadcasts after their sends in flight"
            );
        }
        for (_, p, c) in list.iter() {
            if *p == pid {
                c.stop();
            }
        }
        loop {
            let left = ours(&list);
            let now = std::time::Instant::now();
            if left == 0 || now >= deadline {
                return left;
            }
            list = ENDED
                .wait_timeout(list, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    })
}
