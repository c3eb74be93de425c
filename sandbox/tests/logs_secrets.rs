//! Secrets never reach logs: the core client runs sends, retries, faults, webhook
//! registration and real webhook deliveries against the sandbox with every wa360 log event
//! enabled (TRACE), and neither the captured log text, nor any error's Display/Debug, nor
//! the client's Debug contains the API key, the Basic auth password or the app secret, in
//! clear or base64.
//!
//! One test per binary: it installs the process-wide tracing subscriber.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use wa360::client::Client;
use wa360::messages::Message;
use wa360::webhook::registration::WebhookSettings;
use wa360::webhook::testing::signed_headers;
use wa360::webhook::verify::Verifier;
use wa360::{ErrorCode, webhook};
use wa360_sandbox::{Fault, Sandbox};

mod common;
use common::{client_builder, meta_error, on_send, quick_retries, rate_limit_rule};

const API_KEY: &str = "SentinelKey-7f3a9c2e1b";
const HOOK_USER: &str = "hookuser";
const HOOK_PASS: &str = "SentinelPass-51d0e2a8";
const APP_SECRET: &str = "SentinelApp-9b8c4d6f3e";

/// Every text form a secret could leak in: itself, and its base64 (standard and URL-safe)
/// at each of the three byte alignments it can have inside a longer encoded string.
fn leak_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for k in 0..3usize {
            let mut bytes = vec![b'\0'; k];
            bytes.extend_from_slice(secret.as_bytes());
            let enc = engine.encode(&bytes);
            // Drop the characters that also depend on the prefix or on what follows.
            let skip = [0, 2, 3][k];
            forms.push(enc[skip..enc.len() - 2].to_string());
        }
    }
    forms
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Deliveries = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

async fn hook(State(got): State<Deliveries>, headers: HeaderMap, body: Bytes) -> &'static str {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    got.lock().unwrap().push((headers, body.to_vec()));
    "ok"
}

#[test]
fn secrets_never_appear_in_trace_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut texts: Vec<String> = Vec::new();
    rt.block_on(async {
        let sb = Sandbox::builder()
            .api_key(API_KEY)
            .allow_http_callbacks(true)
            .start()
            .await
            .unwrap();
        let client = client_builder(&sb)
            .timeout(Duration::from_secs(2))
            .retry_policy(quick_retries(2, 5, 20, 50))
            .build()
            .unwrap();
        texts.push(format!("{client:?} {:?}", client.config()));

        // A receiver for the sandbox's webhook deliveries, registered with Basic auth.
        let got: Deliveries = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(got.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Registration through the client (the credentials travel in the request body),
        // then the same headers on the local http receiver (the client only registers https).
        let settings =
            WebhookSettings::new("https://hooks.example.com/wa").basic_auth(HOOK_USER, HOOK_PASS);
        texts.push(format!("{settings:?}"));
        client.webhooks().set_phone(&settings).await.unwrap();
        let registered = client.webhooks().get_phone().await.unwrap().unwrap();
        texts.push(format!("{registered:?}"));
        let headers = [wa360::webhook::testing::basic_auth_header(
            HOOK_USER, HOOK_PASS,
        )]
        .into_iter()
        .collect();
        sb.control()
            .register_webhook(false, &hook_url, &headers)
            .unwrap();

        // A send that succeeds, one retried after a rate limit, and faults.
        let msg = Message::text("15555550123", "hello");
        client.send(&msg).await.unwrap();
        sb.add_fault(rate_limit_rule(0));
        client.send(&msg).await.unwrap();
        for fault in [
            meta_error(131047),
            Fault::Html { status: Some(502) },
            Fault::ResetAfterBody,
            Fault::MalformedJson { status: None },
            // A 2xx that is not JSON, echoing the request's key (a debug proxy).
            Fault::Status {
                status: 200,
                body: Some(format!("echo D360-API-KEY: {API_KEY}")),
            },
            // An error answer whose key lies across the quoted snippet's end (1 KiB): its
            // first part must not be quoted either.
            Fault::Status {
                status: 400,
                body: Some(format!("{}{API_KEY}", "x".repeat(1009))),
            },
        ] {
            sb.add_fault(on_send(fault).times(3));
            let e = client.send(&msg).await.unwrap_err();
            texts.push(format!("{e} {e:?}"));
            sb.control().clear_faults();
        }
        // A rejected key.
        let wrong = Client::builder()
            .api_key(format!("{API_KEY}-wrong"))
            .base_url(&sb.url())
            .build()
            .unwrap();
        let e = wrong.send(&msg).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Authentication);
        texts.push(format!("{e} {e:?}"));

        // Webhook deliveries: wait for the sandbox's status webhooks of the sends.
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.lock().unwrap().len() < 3 {
            assert!(Instant::now() < deadline, "no webhook deliveries arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let basic = Verifier::basic_auth(HOOK_USER, HOOK_PASS).unwrap();
        let bad_basic = Verifier::basic_auth(HOOK_USER, format!("{HOOK_PASS}x")).unwrap();
        let hub = Verifier::hub_signature(APP_SECRET).unwrap();
        texts.push(format!("{basic:?} {hub:?}"));
        let deliveries = got.lock().unwrap().clone();
        for (headers, body) in &deliveries {
            basic.verify(headers, body).unwrap();
            let e = bad_basic.verify(headers, body).unwrap_err();
            texts.push(format!("{e} {e:?}"));
            let signed = signed_headers(APP_SECRET, body);
            hub.verify(&signed, body).unwrap();
            let e = hub.verify(&signed, b"{\"tampered\":1}").unwrap_err();
            texts.push(format!("{e} {e:?}"));
            for event in webhook::parse(body).unwrap() {
                texts.push(format!("{event:?}"));
            }
        }
        let e = webhook::parse(b"{not json").unwrap_err();
        texts.push(format!("{e} {e:?}"));
        texts.push(format!("{:?}", client.metrics()));
        sb.shutdown().await;
    });

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The logs are there (so the absence below means something).
    for expected in [
        "request ok",
        "wamid=\"wamid.",
        "retrying",
        "reason=\"rate_limited\"",
        "request failed",
        "code=window_closed",
        "code=outcome_unknown",
        "answer unreadable",
        "code=authentication",
        "webhook verified",
        "webhook verification failed",
        "webhook parsed",
        "webhook body rejected",
    ] {
        assert!(
            logs.contains(expected),
            "missing {expected:?} in logs:\n{logs}"
        );
    }
    // The first half of the key, as a cut through it would leave it.
    let half = &API_KEY[..API_KEY.len() / 2];
    assert!(!logs.contains(half), "part of the key in the logs");
    for t in &texts {
        assert!(!t.contains(half), "part of the key in {t}");
    }
    for secret in [API_KEY, HOOK_PASS, APP_SECRET] {
        for form in leak_forms(secret) {
            assert!(
                !logs.contains(&form),
                "{form:?} (from a secret) in the logs"
            );
            for t in &texts {
                assert!(!t.contains(&form), "{form:?} (from a secret) in {t}");
            }
        }
    }
    // The credentials header the sandbox sent really carried the password in base64: the
    // forms checked above are the ones that would leak.
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{HOOK_USER}:{HOOK_PASS}"));
    assert!(leak_forms(HOOK_PASS).iter().any(|f| encoded.contains(f)));
}
