//! Number health: `GET /health_status`, typed, and [`Health::check`], which says
//! whether the key works and the number can send (`docs/management.md`, "Number health").

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::retry::RetryClass;

/// Path of the health status.
pub const HEALTH_PATH: &str = "/health_status";

/// One problem reported for an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthError {
    /// Meta's error code, when given.
    pub error_code: Option<i64>,
    /// What is wrong.
    pub error_description: Option<String>,
    /// What to do about it.
    pub possible_solution: Option<String>,
}

/// The health of one entity (phone number, WABA, business, app, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthEntity {
    /// `PHONE_NUMBER`, `WABA`, `BUSINESS`, `APP`, `MESSAGE_TEMPLATE`, … (kept as sent).
    pub entity_type: String,
    /// Its id, as a string.
    pub id: Option<String>,
    /// `AVAILABLE`, `LIMITED` or `BLOCKED` (kept as sent).
    pub can_send_message: String,
    /// Problems, when not `AVAILABLE`.
    pub errors: Vec<HealthError>,
    /// Extra notes, when sent.
    pub additional_info: Vec<String>,
}

/// The answer of `GET /health_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    /// Overall: `AVAILABLE`, `LIMITED` or `BLOCKED` (kept as sent).
    pub can_send_message: String,
    /// Per entity.
    pub entities: Vec<HealthEntity>,
}

fn str_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl HealthStatus {
    /// Read `{"health_status": {…}}` (or the inner object) leniently.
    pub fn from_answer(v: &Value) -> Result<HealthStatus> {
        let h = v.get("health_status").unwrap_or(v);
        let Some(overall) = str_of(h.get("can_send_message")) else {
            return Err(Error::InvalidResponse {
                status: 200,
                reason: "health answer has no can_send_message".into(),
            });
        };
        let entities = h
            .get("entities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| HealthEntity {
                        entity_type: str_of(e.get("entity_type")).unwrap_or_default(),
                        id: str_of(e.get("id")),
                        can_send_message: str_of(e.get("can_send_message")).unwrap_or_default(),
                        errors: e
                            .get("errors")
                            .and_then(Value::as_array)
                            .map(|errs| {
                                errs.iter()
                                    .map(|x| HealthError {
                                        error_code: x.get("error_code").and_then(|c| {
                                            c.as_i64().or_else(|| c.as_str()?.parse().ok())
                                        }),
                                        error_description: str_of(x.get("error_description")),
                                        possible_solution: str_of(x.get("possible_solution")),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        additional_info: e
                            .get("additional_info")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(|s| str_of(Some(s))).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(HealthStatus {
            can_send_message: overall,
            entities,
        })
    }

    /// One line per problem: `PHONE_NUMBER 1122…: BLOCKED — <description> (<solution>)`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.entities {
            if e.can_send_message == "AVAILABLE" {
                continue;
            }
            let who = match &e.id {
                Some(id) => format!("{} {id}", e.entity_type),
                None => e.entity_type.clone(),
            };
            if e.errors.is_empty() {
                out.push(format!("{who}: {}", e.can_send_message));
            }
            for x in &e.errors {
                let mut line = format!("{who}: {}", e.can_send_message);
                if let Some(d) = &x.error_description {
                    line.push_str(&format!(" — {d}"));
                }
                if let Some(s) = &x.possible_solution {
                    line.push_str(&format!(" ({s})"));
                }
                out.push(line);
            }
        }
        out
    }

    /// The canonical JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What [`Health::check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// The API key was accepted.
    pub key_ok: bool,
    /// The number can send (overall status `AVAILABLE` or `LIMITED`).
    pub can_send: bool,
    /// The overall status, when the key worked.
    pub status: Option<String>,
    /// One line per problem found (empty when all is well).
    pub problems: Vec<String>,
}

/// Number health of one channel: `client.health()`.
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    client: &'a Client,
}

impl Client {
    /// Number health (`GET /health_status`).
    pub fn health(&self) -> Health<'_> {
        Health { client: self }
    }
}

impl Health<'_> {
    /// Read the health status.
    pub async fn status(&self) -> Result<HealthStatus> {
        let v = self
            .client
            .request_json(Method::GET, HEALTH_PATH, None, RetryClass::Idempotent)
            .await?;
        HealthStatus::from_answer(&v)
    }

    /// Whether the key works and the number can send. A rejected key is an answer
    /// (`key_ok: false`), not an error; other failures (network, 5xx) are errors. Meta's
    /// 190 comes through a gateway that took the key: a token problem upstream, for
    /// 360dialog's support (docs/360dialog-api.md §5.5), so `key_ok` stays true and the
    /// number cannot send.
    pub async fn check(&self) -> Result<HealthCheck> {
        match self.status().await {
            Err(e) if e.api_code() == Some(190) => Ok(HealthCheck {
                key_ok: true,
                can_send: false,
                status: None,
                problems: vec![format!(
                    "360dialog's access to the number was refused upstream (Meta code 190; \
                     HTTP {}): a token problem on their side, ask 360dialog support",
                    e.status()
                        .map_or_else(|| "?".to_string(), |s| s.to_string())
                )],
            }),
            Ok(s) => Ok(HealthCheck {
                key_ok: true,
                can_send: s.can_send_message == "AVAILABLE" || s.can_send_message == "LIMITED",
                problems: s.problems(),
                status: Some(s.can_send_message),
            }),
            Err(e) if e.code() == ErrorCode::Authentication => Ok(HealthCheck {
                key_ok: false,
                can_send: false,
                status: None,
                problems: vec![format!("the API key was rejected: {e}")],
            }),
            Err(e) => Err(e),
        }
    }
}
