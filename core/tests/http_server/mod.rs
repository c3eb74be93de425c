//! A tiny scripted HTTP/1.1 server on 127.0.0.1 for the HTTP tests.
//!
//! Hand-written on tokio's `TcpListener` (not axum) because the tests need to misbehave
//! at the socket level: reset the connection after reading the whole request, hang, or
//! send a truncated body. Every request is recorded (method, target, headers, body,
//! arrival time) and answered from a script, one [`Reply`] per request.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What to do with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer normally.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the whole request, then reset the connection (RST) without answering.
    Reset,
    /// Read the whole request, then never answer.
    Hang,
    /// Send a status line and headers declaring `declared` bytes, send `body`, then send
    /// nothing more for 30 s (a body that stalls).
    Stall {
        status: u16,
        declared: usize,
        body: Vec<u8>,
    },
    /// Send a status line and headers declaring `body`'s length, then `body` in `pieces`
    /// parts with `every` between them (a slow but steady transfer).
    Trickle {
        status: u16,
        body: Vec<u8>,
        pieces: usize,
        every: Duration,
    },
    /// Wait `after` once the whole request is read, then give `reply`.
    Late { after: Duration, reply: Box<Reply> },
    /// Send a status line and headers with no length (`Connection: close`), send `body`,
    /// then close: the body ends where the connection does, whole or cut short.
    CloseDelimited { status: u16, body: Vec<u8> },
    /// Send a status line and headers declaring `declared` bytes, send `body`, then close.
    Truncated {
        status: u16,
        declared: usize,
        body: Vec<u8>,
    },
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }
    pub fn json_with(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> Reply {
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        h.push(("Content-Type".into(), "application/json".into()));
        Reply::Respond {
            status,
            headers: h,
            body: serde_json::to_vec(&body).unwrap(),
        }
    }
    pub fn raw(status: u16, content_type: &str, body: &[u8]) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }
    pub fn with_header(status: u16, name: &str, value: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![(name.into(), value.into())],
            body: Vec::new(),
        }
    }
}

/// A running scripted server; stops when the test's runtime ends.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl TestServer {
    pub async fn start(script: Vec<Reply>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, script)
    }

    pub fn serve(listener: TcpListener, script: Vec<Reply>) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (r, s) = (requests.clone(), script.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, s) = (r.clone(), s.clone());
                tokio::spawn(async move {
                    let _ = handle(stream, r, s).await;
                });
            }
        });
        TestServer {
            addr,
            requests,
            script,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }
}

async fn handle(
    stream: TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(req) = read_request(&mut reader).await? else {
            return Ok(());
        };
        requests.lock().unwrap().push(req);
        let mut reply = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::Respond {
                status: 599,
                headers: vec![],
                body: b"test script exhausted".to_vec(),
            });
        if let Reply::Late { after, reply: late } = reply {
            tokio::time::sleep(after).await;
            reply = *late;
        }
        match reply {
            Reply::Late { .. } => unreachable!("a Late reply holds another kind"),
            Reply::Trickle {
                status,
                body,
                pieces,
                every,
            } => {
                let s = reader.get_mut();
                write_partial(s, status, body.len(), &[]).await?;
                for piece in body.chunks(body.len().div_ceil(pieces.max(1)).max(1)) {
                    tokio::time::sleep(every).await;
                    s.write_all(piece).await?;
                    s.flush().await?;
                }
            }
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} Scripted\r\n");
                for (k, v) in &headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                let s = reader.get_mut();
                s.write_all(head.as_bytes()).await?;
                s.write_all(&body).await?;
                s.flush().await?;
            }
            Reply::Reset => {
                let s = reader.into_inner();
                s.set_zero_linger()?;
                drop(s);
                return Ok(());
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(());
            }
            Reply::Stall {
                status,
                declared,
                body,
            } => {
                write_partial(reader.get_mut(), status, declared, &body).await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(());
            }
            Reply::CloseDelimited { status, body } => {
                let mut s = reader.into_inner();
                let head = format!("HTTP/1.1 {status} Scripted\r\nConnection: close\r\n\r\n");
                s.write_all(head.as_bytes()).await?;
                s.write_all(&body).await?;
                s.flush().await?;
                s.shutdown().await?;
                return Ok(());
            }
            Reply::Truncated {
                status,
                declared,
                body,
            } => {
                let mut s = reader.into_inner();
                write_partial(&mut s, status, declared, &body).await?;
                s.set_zero_linger()?;
                drop(s);
                return Ok(());
            }
        }
    }
}

/// A status line and headers declaring `declared` bytes, then `body` (possibly fewer).
async fn write_partial(
    s: &mut TcpStream,
    status: u16,
    declared: usize,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Recorded>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(len) = get("content-length") {
        let len: usize = len.parse().unwrap();
        body.resize(len, 0);
        reader.read_exact(&mut body).await?;
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(Recorded {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    }))
}
