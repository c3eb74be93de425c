//! The resumable upload (`POST /uploads`, `POST /upload:{session}`,
//! `GET /upload:{session}`): the handle it returns goes into a template header
//! sample (`example.header_handle`) or a profile picture (`profile_picture_handle`).
//! See `docs/management.md`, "Resumable upload".

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde_json::Value;

use super::query_escape;
use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::retry::RetryClass;
use crate::transport::{self, Body};

/// How many times an interrupted byte upload is resumed from the server's offset.
pub const MAX_RESUMES: u32 = 3;

/// Resumable uploads of one channel: `client.uploads()`.
#[derive(Debug, Clone, Copy)]
pub struct Uploads<'a> {
    client: &'a Client,
}

impl Client {
    /// The resumable upload.
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads { client: self }
    }
}

fn check_session(session: &str) -> Result<()> {
    let ok = session.starts_with("upload:")
        && session.len() <= 1024
        && !session[7..].is_empty()
        && session[7..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_-=?&.%+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "session",
            "must be an upload session id as returned by create_session (upload:…)",
        ))
    }
}

fn check_file(file_name: &str, mime: &str, len: usize) -> Result<()> {
    crate::media::check_upload(len, mime, file_name, "file_name")
}

impl Uploads<'_> {
    /// Open an upload session (`POST /uploads?file_name&file_length&file_type`);
    /// returns its id (`upload:…`).
    pub async fn create_session(
        &self,
        file_name: &str,
        file_length: u64,
        mime: &str,
    ) -> Result<String> {
        check_file(
            file_name,
            mime,
            usize::try_from(file_length).unwrap_or(usize::MAX),
        )?;
        let path = format!(
            "/uploads?file_name={}&file_length={file_length}&file_type={}",
            query_escape(file_name),
            query_escape(mime)
        );
        // Each POST opens a new session: repeated only when it cannot have arrived.
        let v = self
            .client
            .request_json(Method::POST, &path, None, RetryClass::Send)
            .await?;
        match v.get("id").and_then(Value::as_str) {
            Some(id) if check_session(id).is_ok() => Ok(id.to_string()),
            _ => Err(Error::InvalidResponse {
                status: 200,
                reason: "upload session answer has no `upload:` id".into(),
            }),
        }
    }

    /// Send `bytes` (the file from `offset` on) to a session; returns the file handle `h`.
    pub async fn upload_bytes(&self, session: &str, bytes: Bytes, offset: u64) -> Result<String> {
        check_session(session)?;
        let t = self.client.transport();
        let resp = t
            .execute(
                Method::POST,
                &t.url_for(&format!("/{session}")),
                &Body::Binary { bytes, offset },
                RetryClass::NoRetry,
                transport::Accept::Json,
            )
            .await?;
        let v = t.decode_json(&resp, RetryClass::NoRetry)?;
        match v.get("h").and_then(Value::as_str) {
            Some(h) if !h.is_empty() => Ok(h.to_string()),
            _ => Err(Error::InvalidResponse {
                status: resp.status,
                reason: "upload answer has no file handle `h`".into(),
            }),
        }
    }

    /// How many bytes of the session the server holds (`GET /upload:{session}`).
    pub async fn offset(&self, session: &str) -> Result<u64> {
        check_session(session)?;
        let v = self
            .client
            .request_json(
                Method::GET,
                &format!("/{session}"),
                None,
                RetryClass::Idempotent,
            )
            .await?;
        match v.get("file_offset") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| Error::InvalidResponse {
            status: 200,
            reason: "upload status answer has no file_offset".into(),
        })
    }

    /// The whole flow: open a session, send the bytes, and when the connection breaks, the
    /// request times out or the server answers a transient error (5xx), ask for the offset
    /// and resume from it (at most [`MAX_RESUMES`] times); a rate-limit refusal (429,
    /// 360dialog's endpoint limit) is resumed the same way after its `Retry-After` (at most
    /// a minute). Returns the file handle.
    pub async fn upload(&self, bytes: Vec<u8>, mime: &str, file_name: &str) -> Result<String> {
        check_file(file_name, mime, bytes.len())?;
        let all = Bytes::from(bytes);
        let session = self
            .create_session(file_name, all.len() as u64, mime)
            .await?;
        let mut offset = 0u64;
        let mut resumes = 0;
        loop {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
            match self
                .upload_bytes(&session, all.slice(start..), offset)
                .await
            {
                Ok(h) => return Ok(h),
                Err(e)
                    if resumes < MAX_RESUMES
                        && matches!(
                            e.code(),
                            ErrorCode::Connection
                                | ErrorCode::Timeout
                                | ErrorCode::Transient
                                | ErrorCode::RateLimited
                        ) =>
                {
                    resumes += 1;
                    match e.code() {
                        // A refusal before processing (429, 360dialog's endpoint limit): wait
                        // as the answer says, at most a minute (docs/reliability.md).
                        ErrorCode::RateLimited => {
                            let wait = e
                                .retry_after()
                                .unwrap_or(Duration::from_secs(u64::from(resumes)))
                                .min(Duration::from_secs(60));
                            tokio::time::sleep(wait).await;
                        }
                        // The server answered: give it a moment before asking again.
                        ErrorCode::Transient => {
                            tokio::time::sleep(Duration::from_millis(250 * u64::from(resumes)))
                                .await;
                        }
                        _ => {}
                    }
                    offset = self.offset(&session).await?;
                    if offset > all.len() as u64 {
                        return Err(Error::InvalidResponse {
                            status: 200,
                            reason: format!(
                                "upload status says {offset} bytes arrived, more than the file's {}",
                                all.len()
                            ),
                        });
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
