//! Management calls on the wire (scripted server on 127.0.0.1): the exact paths, queries
//! and bodies, and the list iterator's defence against a server that ignores paging.

mod http_server;

use http_server::{Reply, TestServer};
use serde_json::json;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::manage::templates::{ListOptions, TemplateSource};

fn client(server: &TestServer) -> Client {
    Client::builder()
        .api_key("manage-key")
        .base_url(&server.url())
        .max_retries(0)
        .build()
        .unwrap()
}

/// Every template `c` lists with `opts`.
async fn list_all(c: &Client, opts: ListOptions) -> Vec<wa360::manage::TemplateInfo> {
    c.templates()
        .list(opts)
        .unwrap()
        .collect_all()
        .await
        .unwrap()
}

fn page(names: &[&str]) -> serde_json::Value {
    json!({"waba_templates": names.iter().map(|n| json!({"name": n, "language": "en"})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn config_list_sends_limit_offset_and_json_filters() {
    let server = TestServer::start(vec![
        Reply::json(200, page(&["a", "b"])),
        Reply::json(200, page(&["c"])),
    ])
    .await;
    let c = client(&server);
    let all = list_all(
        &c,
        ListOptions {
            page_size: Some(2),
            name: Some("order_update".into()),
            status: Some("APPROVED".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(all.len(), 3);
    let r = server.requests();
    assert_eq!(r.len(), 2);
    let filters = "filters=%7B%22business_templates.name%22%3A%22order_update%22%2C%22business_templates.status%22%3A%22APPROVED%22%7D";
    assert_eq!(
        r[0].target,
        format!("/v1/configs/templates?limit=2&offset=0&{filters}")
    );
    assert_eq!(
        r[1].target,
        format!("/v1/configs/templates?limit=2&offset=2&{filters}")
    );
    assert_eq!(r[0].header("d360-api-key"), Some("manage-key"));
}

/// `count` in a 360dialog list answer is not the total (its keys beside `waba_templates` are
/// undocumented, docs/360dialog-api.md §9 #20; the sandbox's `count` is the page's length):
/// a full page whose `count` equals its length does not end the list. `total` does.
#[tokio::test]
async fn config_list_ends_on_total_or_a_short_page_never_on_count() {
    let with = |names: &[&str], key: &str, n: u64| {
        let mut v = page(names);
        v[key] = json!(n);
        v
    };
    let server = TestServer::start(vec![
        Reply::json(200, with(&["a", "b"], "count", 2)),
        Reply::json(200, with(&["c", "d"], "count", 2)),
        Reply::json(200, with(&["e"], "count", 1)),
        Reply::json(200, with(&["a", "b"], "total", 4)),
        Reply::json(200, with(&["c", "d"], "total", 4)),
    ])
    .await;
    let c = client(&server);
    let opts = || ListOptions {
        page_size: Some(2),
        ..Default::default()
    };
    let names = |all: Vec<wa360::manage::TemplateInfo>| -> Vec<String> {
        all.into_iter().map(|t| t.name).collect()
    };
    assert_eq!(names(list_all(&c, opts()).await), ["a", "b", "c", "d", "e"]);
    assert_eq!(server.count(), 3);
    // With a total, the list ends once it is reached (no request for an empty page).
    assert_eq!(names(list_all(&c, opts()).await), ["a", "b", "c", "d"]);
    assert_eq!(server.count(), 5);
}

/// A server that gives fewer templates per page than asked (a cap of its own below the
/// `limit` sent) while its `total` says more remain: the list goes on to the total. A short
/// page ended it, so `find`/`get` reported "no template" for one past the first page.
#[tokio::test]
async fn config_list_with_a_total_goes_on_past_pages_shorter_than_asked() {
    let with_total = |names: &[&str]| {
        let mut v = page(names);
        v["total"] = json!(5);
        v
    };
    let server = TestServer::start(vec![
        Reply::json(200, with_total(&["a", "b"])),
        Reply::json(200, with_total(&["c", "d"])),
        Reply::json(200, with_total(&["e"])),
    ])
    .await;
    let c = client(&server);
    let all = list_all(
        &c,
        ListOptions {
            page_size: Some(3),
            ..Default::default()
        },
    )
    .await;
    let names: Vec<String> = all.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let r = server.requests();
    assert_eq!(r.len(), 3);
    assert_eq!(r[1].target, "/v1/configs/templates?limit=3&offset=2");
    assert_eq!(r[2].target, "/v1/configs/templates?limit=3&offset=4");
}

#[tokio::test]
async fn graph_list_follows_the_after_cursor_only_while_next_is_present() {
    let server = TestServer::start(vec![
        Reply::json(
            200,
            json!({"data": [{"name": "a", "language": "en"}],
            "paging": {"cursors": {"before": "B0", "after": "A+1"}, "next": "https://x/next"}}),
        ),
        Reply::json(
            200,
            json!({"data": [{"name": "b", "language": "en"}],
            "paging": {"cursors": {"before": "B1", "after": "A2"}}}),
        ),
    ])
    .await;
    let c = client(&server);
    let all = list_all(
        &c,
        ListOptions {
            source: TemplateSource::Graph,
            page_size: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let r = server.requests();
    assert_eq!(r[0].target, "/message_templates?limit=1");
    assert_eq!(r[1].target, "/message_templates?limit=1&after=A%2B1");
}

#[tokio::test]
async fn a_server_that_ignores_paging_ends_the_list_with_an_error() {
    let server = TestServer::start(vec![
        Reply::json(200, page(&["a", "b"])),
        Reply::json(200, page(&["a", "b"])),
    ])
    .await;
    let c = client(&server);
    let mut it = c
        .templates()
        .list(ListOptions {
            page_size: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(it.next().await.unwrap().unwrap().name, "a");
    assert_eq!(it.next().await.unwrap().unwrap().name, "b");
    let e = it.next().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse);
    assert!(it.next().await.unwrap().is_none());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn block_and_profile_bodies_are_exact() {
    let server = TestServer::start(vec![
        Reply::json(
            200,
            json!({"messaging_product": "whatsapp",
            "block_users": {"added_users": [{"input": "15550001111", "wa_id": "15550001111"}]}}),
        ),
        Reply::json(200, json!({"success": true})),
        Reply::json(
            200,
            json!({"health_status": {"can_send_message": "LIMITED", "entities": [
            {"entity_type": "WABA", "id": 104785930284756u64, "can_send_message": "LIMITED",
             "additional_info": ["Tier 250"]}]}}),
        ),
    ])
    .await;
    let c = client(&server);
    c.blocked_users()
        .block(&["+1 (555) 000-1111".into()])
        .await
        .unwrap();
    c.profile()
        .update(&wa360::manage::ProfileUpdate {
            about: Some("Hi".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let h = c.health().check().await.unwrap();
    assert!(h.can_send && h.key_ok);
    assert_eq!(h.problems, ["WABA 104785930284756: LIMITED"]);
    let r = server.requests();
    assert_eq!(
        (r[0].method.as_str(), r[0].target.as_str()),
        ("POST", "/block_users")
    );
    assert_eq!(
        r[0].json(),
        json!({"messaging_product": "whatsapp", "block_users": [{"user": "15550001111"}]})
    );
    assert_eq!(
        r[1].json(),
        json!({"messaging_product": "whatsapp", "about": "Hi"})
    );
    assert_eq!(r[2].target, "/health_status");
}

/// A `GET /block_users` page of `ids` whose `after` cursor is `cursor`, with a next page.
fn blocked_page(ids: &[&str], cursor: &str) -> serde_json::Value {
    json!({"data": ids.iter().map(|i| json!({"wa_id": i})).collect::<Vec<_>>(),
           "paging": {"cursors": {"after": cursor}, "next": "https://next"}})
}

/// The wa_ids `it` lists before it fails, and the error (it must fail, not end).
async fn blocked_until_error(
    it: &mut wa360::manage::blocked::BlockedLister,
) -> (Vec<String>, wa360::Error) {
    let mut ids = Vec::new();
    loop {
        match it.next().await {
            Ok(Some(u)) => ids.push(u.wa_id.unwrap()),
            Ok(None) => panic!("the list ended without noticing the broken paging"),
            Err(e) => return (ids, e),
        }
    }
}

#[tokio::test]
async fn the_blocked_users_list_follows_its_cursor_and_never_lists_a_page_twice() {
    // Two pages, then a server that ignores `after` and answers the second page again.
    let server = TestServer::start(vec![
        Reply::json(200, blocked_page(&["1", "2"], "A")),
        Reply::json(200, blocked_page(&["3", "4"], "B")),
        Reply::json(200, blocked_page(&["3", "4"], "B")),
    ])
    .await;
    let c = client(&server);
    let mut it = c.blocked_users().list(Some(2)).unwrap();
    let (ids, err) = blocked_until_error(&mut it).await;
    assert_eq!(ids, ["1", "2", "3", "4"], "each user once");
    assert_eq!(err.code(), ErrorCode::InvalidResponse);
    assert!(err.to_string().contains("same page twice"), "{err}");
    assert!(it.next().await.unwrap().is_none());
    let targets: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/block_users?limit=2",
            "/block_users?limit=2&after=A",
            "/block_users?limit=2&after=B"
        ]
    );
}

/// A Graph-shape template page of `names` whose `after` cursor is `cursor`, with a next page.
fn graph_page(names: &[&str], cursor: &str) -> serde_json::Value {
    json!({"data": names.iter().map(|n| json!({"name": n, "language": "en"})).collect::<Vec<_>>(),
           "paging": {"cursors": {"after": cursor}, "next": "https://next"}})
}

#[tokio::test]
async fn a_cursor_that_comes_back_ends_either_list_with_an_error_instead_of_a_loop() {
    // A → B → A: each page differs from the one before, but the cursors go round.
    let server = TestServer::start(vec![
        Reply::json(200, blocked_page(&["1"], "A")),
        Reply::json(200, blocked_page(&["2"], "B")),
        Reply::json(200, blocked_page(&["3"], "A")),
        Reply::json(200, graph_page(&["a"], "A")),
        Reply::json(200, graph_page(&["b"], "B")),
        Reply::json(200, graph_page(&["c"], "A")),
    ])
    .await;
    let c = client(&server);
    let mut it = c.blocked_users().list(Some(1)).unwrap();
    let (ids, err) = blocked_until_error(&mut it).await;
    assert_eq!(ids, ["1", "2"]);
    assert_eq!(err.code(), ErrorCode::InvalidResponse);
    assert!(err.to_string().contains("cursor"), "{err}");
    let mut it = c
        .templates()
        .list(ListOptions {
            source: TemplateSource::Graph,
            page_size: Some(1),
            ..Default::default()
        })
        .unwrap();
    let mut names = Vec::new();
    let err = loop {
        match it.next().await {
            Ok(Some(t)) => names.push(t.name),
            Ok(None) => panic!("ended without noticing the cursor cycle"),
            Err(e) => break e,
        }
    };
    assert_eq!(names, ["a", "b"]);
    assert_eq!(err.code(), ErrorCode::InvalidResponse);
    assert_eq!(server.requests().len(), 6);
}

/// A DELETE whose first attempt got no answer (the connection reset after the request) is
/// retried; a 404 then means the first attempt deleted it, not an error. A 404 on a first
/// attempt is still the server's "not found".
#[tokio::test]
async fn a_delete_retried_after_a_lost_answer_takes_404_as_done() {
    let not_found = json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
        "code": 100, "fbtrace_id": "T"}});
    let server = TestServer::start(vec![
        Reply::Reset,
        Reply::json(404, not_found.clone()),
        Reply::Reset,
        Reply::json(404, not_found.clone()),
        Reply::json(404, not_found.clone()),
    ])
    .await;
    let c = Client::builder()
        .api_key("manage-key")
        .base_url(&server.url())
        .max_retries(2)
        .build()
        .unwrap();
    c.templates().delete("promo_x").await.unwrap();
    c.media().delete("1234567890").await.unwrap();
    let e = c.templates().delete("promo_y").await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    // Only the DELETE of one resource: unblocking users keeps its 404 (a made-up empty
    // answer would say nobody was unblocked, as a success).
    server.push(Reply::raw(502, "text/html", b"<html>bad gateway</html>"));
    server.push(Reply::json(404, not_found.clone()));
    let e = c
        .blocked_users()
        .unblock(&["15555550123".to_string()])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    let r = server.requests();
    assert_eq!(r.len(), 7);
    assert!(r.iter().all(|q| q.method == "DELETE"));
}

/// A template delete answered `{"success": false}` did not delete it: an error, not the
/// success the CLI printed ("deleted … (every language)", exit 0).
#[tokio::test]
async fn a_template_delete_answered_success_false_is_an_error() {
    let server = TestServer::start(vec![
        Reply::json(200, json!({"success": false})),
        Reply::json(200, json!({"success": true})),
    ])
    .await;
    let c = Client::builder()
        .api_key("manage-key")
        .base_url(&server.url())
        .build()
        .unwrap();
    let e = c.templates().delete("promo_x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidResponse, "{e}");
    assert!(e.to_string().contains("promo_x was not deleted"), "{e}");
    c.templates().delete("promo_x").await.unwrap();
}
