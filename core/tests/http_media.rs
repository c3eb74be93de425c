//! Media over real HTTP on 127.0.0.1: upload (multipart), look-up, download through the
//! base host (the host rule), delete, and "never retry a failed look-up".

mod http_server;

use std::time::Duration;

use http_server::{Reply, TestServer};
use serde_json::json;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::retry::RetryPolicy;

const KEY: &str = "media-key-S3CRET-42";

fn client(server: &TestServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(1),
        })
        .build()
        .unwrap()
}

fn lookup(url: &str, file_size: serde_json::Value) -> Reply {
    Reply::json(
        200,
        json!({"messaging_product":"whatsapp","url":url,"mime_type":"image/jpeg",
               "sha256":"55b4f0a1","file_size":file_size,"id":"1029384756102938"}),
    )
}

/// The attachment URL of media 1 on `server`.
fn attachment(server: &TestServer) -> String {
    format!("{}/whatsapp_business/attachments/?mid=1", server.url())
}

/// The error of downloading `url` through `c`'s media API (which must fail).
async fn refused_download(c: &Client, url: &str) -> wa360::Error {
    c.media().download_url(url).await.unwrap_err()
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn upload_sends_multipart_with_all_parts() {
    let server = TestServer::start(vec![Reply::json(200, json!({"id":"1029384756109999"}))]).await;
    let c = client(&server);
    let bytes = b"\xFF\xD8\xFFfake-jpeg-bytes\x00\x01".to_vec();
    let media = c.media();
    let id = media
        .upload(bytes.clone(), "image/jpeg", "photo.jpg")
        .await
        .unwrap();
    assert_eq!(id, "1029384756109999");
    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/media");
    assert_eq!(r.header("d360-api-key"), Some(KEY));
    let ct = r.header("content-type").unwrap();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let b = &r.body;
    assert!(find(b, b"name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
    assert!(find(b, b"name=\"type\"\r\n\r\nimage/jpeg\r\n"));
    assert!(find(
        b,
        b"name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ));
    assert!(find(b, &bytes), "file bytes sent unchanged");
}

#[tokio::test]
async fn upload_rejects_bad_input_before_any_request() {
    let server = TestServer::start(vec![]).await;
    let m = client(&server);
    let m = m.media();
    let e = m.upload(vec![], "image/jpeg", "a.jpg").await.unwrap_err();
    assert_eq!(e.field(), Some("data"));
    let e = m.upload(vec![1], "jpeg", "a.jpg").await.unwrap_err();
    assert_eq!(e.field(), Some("mime_type"));
    let e = m.upload(vec![1], "image/jpeg", "").await.unwrap_err();
    assert_eq!(e.field(), Some("filename"));
    assert_eq!(server.count(), 0);
}

/// A file over its type's limit (docs/360dialog-api.md §4.2) went to the network and was
/// refused there (or, for a sticker, accepted and then unusable). It is `invalid_argument`
/// on `data`, naming the limit, before any request, through both kinds of upload; a file
/// within it, or of a type without its own limit, is not refused. Both kinds of upload
/// take the same file names.
#[tokio::test]
async fn files_over_their_types_limit_and_bad_file_names_are_refused_before_any_request() {
    let server = TestServer::start(vec![]).await;
    let c = client(&server);
    const MB: usize = 1024 * 1024;
    for (mime, len, rule) in [
        ("image/jpeg", 5 * MB + 1, "an image is at most 5 MB"),
        ("image/png", 6 * MB, "an image is at most 5 MB"),
        ("image/webp", 600 * 1024, "a sticker is at most 500 KB"),
        ("video/mp4", 16 * MB + 1, "a video is at most 16 MB"),
        (
            "audio/ogg; codecs=opus",
            17 * MB,
            "an audio file is at most 16 MB",
        ),
    ] {
        let e = c.media().upload(vec![0; len], mime, "f").await.unwrap_err();
        assert_eq!(
            (e.field(), e.code()),
            (Some("data"), ErrorCode::InvalidArgument),
            "{mime}"
        );
        assert!(e.to_string().contains(rule), "{e}");
        let e = c
            .uploads()
            .upload(vec![0; len], mime, "f")
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("data"), "{mime}");
    }
    for name in [
        "a\\b.jpg",
        "../x.jpg",
        "a\"b.jpg",
        "tab\there.jpg",
        &"n".repeat(256),
    ] {
        let e = c
            .media()
            .upload(vec![1], "image/jpeg", name)
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("filename"), "{name}");
        let e = c
            .uploads()
            .upload(vec![1], "image/jpeg", name)
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("file_name"), "{name}");
    }
    assert_eq!(server.count(), 0, "no request");
    // Within the limits: sent.
    server.push(Reply::json(200, json!({"id": "1029384756102938"})));
    let id = c
        .media()
        .upload(vec![0; 5 * MB], "image/jpeg", "ok.jpg")
        .await
        .unwrap();
    assert_eq!(id, "1029384756102938");
    server.push(Reply::json(200, json!({"id": "1029384756102939"})));
    c.media()
        .upload(vec![0; 20 * MB], "application/pdf", "big.pdf")
        .await
        .unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn upload_is_not_resent_after_a_reset() {
    let server = TestServer::start(vec![Reply::Reset, Reply::json(200, json!({"id":"1"}))]).await;
    let e = client(&server)
        .media()
        .upload(vec![1, 2, 3], "image/png", "a.png")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::OutcomeUnknown);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn info_reads_number_or_string_file_size() {
    let server = TestServer::start(vec![
        lookup(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            json!(303833),
        ),
        lookup(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            json!("303833"),
        ),
    ])
    .await;
    let c = client(&server);
    for _ in 0..2 {
        let info = c.media().info("1029384756102938").await.unwrap();
        assert_eq!(info.file_size, Some(303833));
        assert_eq!(info.mime_type, "image/jpeg");
        assert_eq!(info.id, "1029384756102938");
    }
    let r = &server.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("GET", "/1029384756102938")
    );
    assert_eq!(r.header("d360-api-key"), Some(KEY));
}

#[tokio::test]
async fn info_rejects_non_digit_ids_before_any_request() {
    let server = TestServer::start(vec![]).await;
    let c = client(&server);
    for bad in ["", "abc", "12/34", "../messages", "1 2"] {
        let e = c.media().info(bad).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}");
        assert_eq!(e.field(), Some("media_id"));
        let e = c.media().delete(bad).await.unwrap_err();
        assert_eq!(e.field(), Some("media_id"));
    }
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn failed_lookup_is_never_retried() {
    let meta_100 = json!({"error":{"message":"Unsupported get request","type":"GraphMethodException","code":100,"fbtrace_id":"F"}});
    let server = TestServer::start(vec![
        Reply::json(400, meta_100),
        Reply::json(429, json!({"error":"Too many requests"})),
        Reply::raw(500, "text/html", b"<html>oops</html>"),
        lookup("https://lookaside.fbsbx.com/x?mid=1", json!(1)),
        lookup("https://lookaside.fbsbx.com/x?mid=1", json!(1)),
        lookup("https://lookaside.fbsbx.com/x?mid=1", json!(1)),
    ])
    .await;
    let c = client(&server);
    let e = c.media().info("123").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(server.count(), 1);
    let e = c.media().info("123").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert_eq!(server.count(), 2);
    let e = c.media().info("123").await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        server.count(),
        3,
        "each failed look-up hit the server exactly once"
    );
}

#[tokio::test]
async fn download_rewrites_lookaside_host_and_keeps_query_bytes() {
    let query = "mid=1029384756102938&ext=1767253200&hash=ATsdk3pQ9xYb7LmZ%2B%2f&source=webhook";
    let server = TestServer::start(vec![
        lookup(
            &format!("https://lookaside.fbsbx.com/whatsapp_business/attachments/?{query}"),
            json!(6),
        ),
        Reply::raw(200, "image/jpeg", b"\xFF\xD8JPEG"),
    ])
    .await;
    let c = client(&server);
    let bytes = c.media().download("1029384756102938").await.unwrap();
    assert_eq!(&bytes[..], b"\xFF\xD8JPEG");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].method, "GET");
    assert_eq!(
        reqs[1].target,
        format!("/whatsapp_business/attachments/?{query}")
    );
    assert_eq!(reqs[1].header("d360-api-key"), Some(KEY));
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
    assert_eq!(reqs[1].header("accept"), Some("*/*"));
}

/// The look-up of media 1 on `server` with its real size and SHA-256 (hex, as the look-up
/// gives it, or base64, as webhooks do).
fn lookup_of(server: &TestServer, file: &[u8], base64: bool) -> Reply {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(file);
    let sha = if base64 {
        base64::engine::general_purpose::STANDARD.encode(digest)
    } else {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    };
    Reply::json(
        200,
        json!({"messaging_product":"whatsapp","url":attachment(server),"mime_type":"image/jpeg",
               "sha256":sha,"file_size":file.len(),"id":"1029384756102938"}),
    )
}

/// A download that the server ends by closing the connection (no `Content-Length`) came
/// back short, or as another body altogether (an error page with 200), and was returned as
/// the file. It is checked against the look-up's size and SHA-256: fetched again when it
/// does not match, and refused with `invalid_response` when it never does.
#[tokio::test]
async fn a_download_cut_short_or_not_the_file_is_fetched_again_then_refused() {
    let file: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let server = TestServer::start(vec![]).await;
    let c = client(&server);
    // Cut short once, then whole: the second fetch is the file.
    for b64 in [false, true] {
        server.push(lookup_of(&server, &file, b64));
        server.push(Reply::CloseDelimited {
            status: 200,
            body: file[..500].to_vec(),
        });
        server.push(Reply::CloseDelimited {
            status: 200,
            body: file.clone(),
        });
        let got = c.media().download("1029384756102938").await.unwrap();
        assert_eq!(got.len(), file.len());
        assert!(got[..] == file[..]);
    }
    // Always cut short: refused, naming sizes.
    let before = server.count();
    server.push(lookup_of(&server, &file, false));
    for _ in 0..3 {
        server.push(Reply::CloseDelimited {
            status: 200,
            body: file[..500].to_vec(),
        });
    }
    let e = c.media().download("1029384756102938").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert!(
        e.to_string().contains("500 bytes, the look-up says 1024"),
        "{e}"
    );
    assert_eq!(server.count() - before, 4, "the look-up and three fetches");
    // The right length but other bytes (an error page of that length): refused by the hash.
    let mut other = file.clone();
    other[7] ^= 1;
    server.push(lookup_of(&server, &file, true));
    for _ in 0..3 {
        server.push(Reply::raw(200, "text/html", &other));
    }
    let e = c.media().download("1029384756102938").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert!(e.to_string().contains("SHA-256"), "{e}");
}

#[tokio::test]
async fn download_url_from_a_webhook_uses_the_base_host() {
    let server = TestServer::start(vec![Reply::raw(200, "audio/ogg", b"OggS")]).await;
    let c = client(&server);
    let bytes = c
        .media()
        .download_url(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=9&ext=1&hash=h",
        )
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"OggS");
    assert_eq!(
        server.requests()[0].target,
        "/whatsapp_business/attachments/?mid=9&ext=1&hash=h"
    );
}

#[tokio::test]
async fn other_hosts_are_refused_and_never_get_the_key() {
    let evil = TestServer::start(vec![Reply::raw(200, "image/jpeg", b"x")]).await;
    let server = TestServer::start(vec![lookup(&attachment(&evil), json!(1))]).await;
    let c = client(&server);
    let e = refused_download(&c, &attachment(&evil)).await;
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.field(), Some("url"));
    assert_eq!(server.count(), 0);
    // A look-up that answers a foreign host: refused, only the look-up was made.
    let e = c.media().download("1029384756102938").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert_eq!(server.count(), 1);
    assert_eq!(evil.count(), 0, "the key never reached another host");
}

#[tokio::test]
async fn download_redirect_off_host_is_refused() {
    let evil = TestServer::start(vec![Reply::raw(200, "image/jpeg", b"x")]).await;
    let server = TestServer::start(vec![Reply::with_header(
        302,
        "Location",
        &format!("{}/steal", evil.url()),
    )])
    .await;
    let c = client(&server);
    let e = refused_download(&c, &attachment(&server)).await;
    assert!(!format!("{e} {e:?}").contains(KEY));
    assert_eq!(evil.count(), 0);
}

#[tokio::test]
async fn delete_media() {
    let server = TestServer::start(vec![
        Reply::json(200, json!({"success": true})),
        Reply::json(
            404,
            json!({"error":{"message":"Media not found","code":100}}),
        ),
    ])
    .await;
    let c = client(&server);
    c.media().delete("1029384756102938").await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("DELETE", "/1029384756102938")
    );
    assert_eq!(r.header("d360-api-key"), Some(KEY));
    let e = c.media().delete("1029384756102938").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(server.count(), 2, "a 4xx delete is not retried");
}

#[tokio::test]
async fn local_guard_stops_repeated_failing_lookups() {
    let not_found = || Reply::json(404, json!({"error":{"message":"not found","code":100}}));
    let server = TestServer::start((0..6).map(|_| not_found()).collect()).await;
    let c = client(&server);
    for _ in 0..4 {
        let e = c.media().info("123").await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
    }
    assert_eq!(server.count(), 4);
    // The fifth failure would get the number blocked: refused locally, nothing sent.
    let e = c.media().info("123").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Media, "{e}");
    assert!(e.retry_after().is_some());
    assert_eq!(server.count(), 4);

    // Disabled guard: every look-up goes out.
    let server = TestServer::start((0..6).map(|_| not_found()).collect()).await;
    let c = Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .media_lookup_guard(None)
        .build()
        .unwrap();
    for _ in 0..6 {
        c.media().info("123").await.unwrap_err();
    }
    assert_eq!(server.count(), 6);
}

/// 360dialog counts failed look-ups per number: clients made for the same channel (a
/// client per request, several in one worker) share one budget; another channel has its
/// own.
#[tokio::test]
async fn clients_of_one_channel_share_the_lookup_guard() {
    let not_found = || Reply::json(404, json!({"error":{"message":"not found","code":100}}));
    let server = TestServer::start((0..10).map(|_| not_found()).collect()).await;
    let (a, b) = (client(&server), client(&server));
    for c in [&a, &b, &a, &b] {
        assert_eq!(
            c.media().info("123").await.unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
    }
    for c in [&a, &b, &client(&server)] {
        assert_eq!(
            c.media().info("123").await.unwrap_err().code(),
            ErrorCode::Media
        );
    }
    assert_eq!(server.count(), 4);
    // A client made after every earlier one is gone (one per request) has the same budget.
    drop((a, b));
    assert_eq!(
        client(&server)
            .media()
            .info("123")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::Media
    );
    assert_eq!(server.count(), 4);
    let other_key = Client::builder()
        .api_key("another-channel-key")
        .base_url(&server.url())
        .build()
        .unwrap();
    assert_eq!(
        other_key.media().info("123").await.unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
    assert_eq!(server.count(), 5);
}

/// A server on 127.0.0.1 that answers every request 200 with `head` (status line
/// and headers) and then `body_len` zero bytes, unless the client hangs up first;
/// returns its base URL and the count of body bytes it managed to write.
async fn streaming_server(
    head: &'static str,
    body_len: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 1 << 20];
                let mut left = body_len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    counter.fetch_add(n, Ordering::Relaxed);
                    left -= n;
                }
            });
        }
    });
    (url, sent)
}

/// The error of downloading media 1 from the server at `url` (which must fail), without retries.
async fn download_without_retries(url: &str) -> wa360::Error {
    let c = Client::builder()
        .api_key(KEY)
        .base_url(url)
        .max_retries(0)
        .build()
        .unwrap();
    refused_download(&c, &format!("{url}/whatsapp_business/attachments/?mid=1")).await
}

#[tokio::test]
async fn a_download_larger_than_the_media_limit_is_refused_without_holding_it() {
    use std::sync::atomic::Ordering;
    let limit = wa360::transport::MAX_DOWNLOAD_BODY;
    // No length announced: 150 MiB streamed until the connection closes.
    let (url, sent) = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\nconnection: close\r\n\r\n",
        150 << 20,
    )
    .await;
    let e = download_without_retries(&url).await;
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("over the limit of {limit} bytes")),
        "{e}"
    );
    // The client hung up at the limit instead of reading the whole stream (what the
    // socket buffers took in on top of the limit stays far below the 50 MiB left).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sent.load(Ordering::Relaxed) < limit + (32 << 20));

    // A length over the limit is refused from the headers alone.
    let (url, _) = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 209715200\r\n\r\n",
        1 << 20,
    )
    .await;
    let e = download_without_retries(&url).await;
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert!(e.to_string().contains("209715200 bytes"), "{e}");
}

/// A client with `timeout`, no retries, on `server`.
fn with_timeout(server: &TestServer, timeout: Duration) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .timeout(timeout)
        .max_retries(0)
        .build()
        .unwrap()
}

/// The client's timeout is meant for API calls. A media download that keeps arriving is
/// not cut off when it takes longer than that (docs/reliability.md, "Timeouts"); one that
/// stops arriving for the timeout, or whose answer does not begin within it, is.
#[tokio::test]
async fn a_slow_but_steady_download_outlasts_the_timeout_and_a_stalled_one_does_not() {
    let file: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let server = TestServer::start(vec![
        // 8 pieces 150 ms apart: 1.2 s in all, against a timeout of 400 ms.
        Reply::Trickle {
            status: 200,
            body: file.clone(),
            pieces: 8,
            every: Duration::from_millis(150),
        },
        Reply::Stall {
            status: 200,
            declared: file.len(),
            body: file[..1000].to_vec(),
        },
        Reply::Hang,
    ])
    .await;
    let c = with_timeout(&server, Duration::from_millis(400));
    let got = c.media().download_url(&attachment(&server)).await.unwrap();
    assert_eq!(&got[..], &file[..]);
    let e = refused_download(&c, &attachment(&server)).await;
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
    assert!(
        e.to_string()
            .contains("no bytes of the answer arrived for 400 ms"),
        "{e}"
    );
    let e = refused_download(&c, &attachment(&server)).await;
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
    assert!(
        e.to_string()
            .contains("no answer within the timeout of 400 ms"),
        "{e}"
    );
    assert_eq!(server.count(), 3);
}

/// An upload is given the timeout plus one second per 64 KiB
/// (`transport::TRANSFER_FLOOR_BYTES_PER_S`): a 1 MiB upload answered after 1 s
/// succeeds with a timeout of 300 ms. An API call answered that late still times out.
#[tokio::test]
async fn an_upload_is_given_time_for_its_size() {
    let server = TestServer::start(vec![
        Reply::Late {
            after: Duration::from_secs(1),
            reply: Box::new(Reply::json(200, json!({"id":"1029384756109999"}))),
        },
        Reply::Late {
            after: Duration::from_secs(1),
            reply: Box::new(Reply::json(
                200,
                json!({"url":"https://hooks.example.com/wa"}),
            )),
        },
    ])
    .await;
    let c = with_timeout(&server, Duration::from_millis(300));
    let id = c
        .media()
        .upload(vec![7u8; 1 << 20], "video/mp4", "clip.mp4")
        .await
        .unwrap();
    assert_eq!(id, "1029384756109999");
    let e = c.media().info("1029384756109999").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
}

/// An upload answer whose id is not a media id (digits, as a string or an integer) is
/// `outcome_unknown`: taken as it was, it was sent, kept by the media-id cache for weeks,
/// and refused at every use.
#[tokio::test]
async fn an_upload_answer_without_a_digit_id_is_outcome_unknown() {
    let server = TestServer::start(vec![
        Reply::json(200, json!({"id": "../../x"})),
        Reply::json(200, json!({"id": 1.5e300})),
        Reply::json(200, json!({"id": -5})),
        Reply::json(200, json!({"id": 1029384756})),
    ])
    .await;
    let c = client(&server);
    for _ in 0..3 {
        let e = c
            .media()
            .upload(vec![1], "image/png", "a.png")
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::OutcomeUnknown, "{e}");
    }
    let id = c
        .media()
        .upload(vec![1], "image/png", "a.png")
        .await
        .unwrap();
    assert_eq!(id, "1029384756");
    assert_eq!(server.count(), 4, "never sent again");
}
