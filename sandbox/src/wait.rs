//! The waiting rule of the bindings' `Sandbox.wait_for` / `wait_deliveries` (Node
//! `waitFor` / `waitDeliveries`): the defaults, the reading of the timeout and interval
//! options, the deadline and the typed error past it, written once. Each binding keeps only
//! the loop that calls its own language's predicate and sleeps for [`Waiter::pause`].

use std::time::{Duration, Instant};

use crate::{Control, DeliveryAttempt};

/// How long a wait lasts unless told otherwise.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the condition is tried unless told otherwise.
pub const DEFAULT_WAIT_INTERVAL: Duration = Duration::from_millis(20);

/// The unit and option names a binding gives its wait options in.
#[derive(Debug, Clone, Copy)]
pub enum WaitUnit {
    /// Python: `timeout` and `interval`, in seconds.
    Seconds,
    /// Node: `timeoutMs` and `intervalMs`, in milliseconds.
    Millis,
}

/// A running wait: tried every `interval` until `timeout` has passed.
#[derive(Debug, Clone)]
pub struct Waiter {
    deadline: Instant,
    timeout: Duration,
    interval: Duration,
    what: String,
}

impl Waiter {
    /// Start a wait for `what` (named in the timeout error) with the options as the binding
    /// got them (`None`: the defaults). The timeout may be 0 (the condition is tried once);
    /// the interval must be above 0. Bad values are `invalid_argument` naming the
    /// binding's option (`timeout` / `timeoutMs`, `interval` / `intervalMs`).
    pub fn start(
        what: impl Into<String>,
        timeout: Option<f64>,
        interval: Option<f64>,
        unit: WaitUnit,
    ) -> wa360::Result<Waiter> {
        use wa360::input::TimeUnit;
        let (unit, timeout_name, interval_name) = match unit {
            WaitUnit::Seconds => (TimeUnit::Seconds, "timeout", "interval"),
            WaitUnit::Millis => (TimeUnit::Millis, "timeoutMs", "intervalMs"),
        };
        let timeout = timeout.map(|t| unit.wait(timeout_name, t)).transpose()?;
        let interval = interval
            .map(|i| unit.duration(interval_name, i))
            .transpose()?;
        let timeout = timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT);
        Ok(Waiter {
            deadline: Instant::now() + timeout,
            timeout,
            interval: interval.unwrap_or(DEFAULT_WAIT_INTERVAL),
            what: what.into(),
        })
    }

    /// How long to sleep before trying again (the interval, or less to end on the
    /// deadline), or `timeout` once the deadline has passed.
    pub fn pause(&self) -> wa360::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(wa360::Error::Timeout(format!(
                "{} not met within {} s",
                self.what,
                self.timeout.as_secs_f64()
            )));
        }
        Ok(left.min(self.interval))
    }
}

/// What `wait_deliveries(n, kind, ok)` waits for: at least `n` webhook delivery attempts
/// (of `kind`, e.g. `status:read`, when given; answered 200 when `ok`).
#[derive(Debug, Clone)]
pub struct DeliveryWait {
    /// How many.
    pub n: usize,
    /// Only this kind (`status:sent`, `status:read`, `inbound`, …).
    pub kind: Option<String>,
    /// Only attempts the receiver answered 200.
    pub ok: bool,
}

impl DeliveryWait {
    /// What a timeout error says it waited for.
    pub fn describe(&self) -> String {
        format!(
            "{} webhook deliveries{}{}",
            self.n,
            self.kind
                .as_deref()
                .map(|k| format!(" of {k}"))
                .unwrap_or_default(),
            if self.ok { " answered 200" } else { "" }
        )
    }

    /// The matching attempts when there are at least `n`, oldest first.
    pub fn reached(&self, deliveries: Vec<DeliveryAttempt>) -> Option<Vec<DeliveryAttempt>> {
        let found: Vec<DeliveryAttempt> = deliveries
            .into_iter()
            .filter(|d| self.kind.as_deref().is_none_or(|k| d.kind == k) && (!self.ok || d.ok))
            .collect();
        (found.len() >= self.n).then_some(found)
    }
}

/// A wait on one sandbox as the bindings hold it: the deadline, and for
/// `wait_deliveries` what it waits for.
#[derive(Debug, Clone)]
pub struct SandboxWait {
    waiter: Waiter,
    control: Control,
    deliveries: Option<DeliveryWait>,
}

impl SandboxWait {
    /// A wait on `control` (with `deliveries` for `wait_deliveries`).
    pub fn new(control: Control, waiter: Waiter, deliveries: Option<DeliveryWait>) -> SandboxWait {
        SandboxWait {
            waiter,
            control,
            deliveries,
        }
    }

    /// See [`Waiter::pause`].
    pub fn pause(&self) -> wa360::Result<Duration> {
        self.waiter.pause()
    }

    /// For `wait_deliveries`: the matching deliveries once there are enough, else `None`
    /// (always `None` for a plain wait).
    pub fn deliveries(&self) -> Option<Vec<DeliveryAttempt>> {
        self.deliveries
            .as_ref()
            .and_then(|w| w.reached(self.control.deliveries()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_is_the_interval_then_timeout_past_the_deadline() {
        let w = Waiter::start("x", Some(0.05), Some(0.01), WaitUnit::Seconds).unwrap();
        assert_eq!(w.pause().unwrap(), Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(60));
        let e = w.pause().unwrap_err();
        assert_eq!(e.code(), wa360::ErrorCode::Timeout);
        assert!(e.to_string().contains("x not met within 0.05 s"), "{e}");
        // A zero timeout: tried once, then the error.
        let w = Waiter::start("y", Some(0.0), None, WaitUnit::Millis).unwrap();
        assert!(w.pause().is_err());
    }

    #[test]
    fn bad_options_name_the_bindings_option() {
        for (t, i, unit, field) in [
            (Some(-1.0), None, WaitUnit::Seconds, "timeout"),
            (Some(f64::NAN), None, WaitUnit::Millis, "timeoutMs"),
            (None, Some(0.0), WaitUnit::Seconds, "interval"),
            (None, Some(-5.0), WaitUnit::Millis, "intervalMs"),
        ] {
            match Waiter::start("x", t, i, unit).unwrap_err() {
                wa360::Error::InvalidArgument { field: f, .. } => assert_eq!(f, field),
                other => panic!("{other}"),
            }
        }
    }
}
