//! Sending typed messages (`wa360::messages`) over real HTTP on 127.0.0.1: the wire body is
//! exactly the documented one, and invalid messages never reach the network.

mod http_server;

use http_server::{Reply, TestServer};
use serde_json::json;
use wa360::ErrorCode;
use wa360::client::Client;
use wa360::messages::{Media, Message, Outbound};

const KEY: &str = "msg-key-S3CRET";

fn client(server: &TestServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(&server.url())
        .build()
        .unwrap()
}

fn send_ok(id: &str) -> Reply {
    Reply::json(
        200,
        json!({"messaging_product":"whatsapp",
               "contacts":[{"input":"15555550123","wa_id":"15555550123"}],
               "messages":[{"id":id,"message_status":"accepted"}]}),
    )
}

#[tokio::test]
async fn text_message_goes_out_exactly_as_documented() {
    let server = TestServer::start(vec![send_ok("wamid.T1")]).await;
    let msg = Message::text(
        "15555550123",
        "Your order has shipped: https://example.com/t/1",
    )
    .preview_url(true)
    .reply_to("wamid.QUOTED")
    .callback_data("order-8812");
    let resp = client(&server).send(&msg).await.unwrap();
    assert_eq!(resp.message_id(), Some("wamid.T1"));
    let r = &server.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("POST", "/messages")
    );
    assert_eq!(r.header("d360-api-key"), Some(KEY));
    assert_eq!(
        r.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "15555550123",
            "type": "text",
            "context": {"message_id": "wamid.QUOTED"},
            "biz_opaque_callback_data": "order-8812",
            "text": {"body": "Your order has shipped: https://example.com/t/1", "preview_url": true}
        })
    );
    assert_eq!(r.json(), msg.to_body().unwrap());
}

#[tokio::test]
async fn image_by_id_and_trait_objects() {
    let server = TestServer::start(vec![send_ok("wamid.I1")]).await;
    let msg = Message::image("15555550123", Media::id("1029384756102938")).caption("Invoice");
    let dynamic: &dyn Outbound = &msg;
    client(&server).send(dynamic).await.unwrap();
    let body = server.requests()[0].json();
    assert_eq!(body["type"], "image");
    assert_eq!(
        body["image"],
        json!({"id": "1029384756102938", "caption": "Invoice"})
    );
}

#[tokio::test]
async fn invalid_messages_never_reach_the_network() {
    let server = TestServer::start(vec![]).await;
    let c = client(&server);
    let too_long = Message::text("15555550123", "x".repeat(4097));
    let e = c.send(&too_long).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.field(), Some("text.body"));
    let no_caption = Message::audio("15555550123", Media::id("123")).caption("nope");
    assert_eq!(
        c.send(&no_caption).await.unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let e = c.mark_read("").await.unwrap_err();
    assert_eq!(e.field(), Some("message_id"));
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn neutral_json_spec_sends_the_same_body() {
    let server = TestServer::start(vec![send_ok("wamid.N1")]).await;
    let built = Message::text("15555550123", "Hello");
    let spec = json!({"type": "text", "to": "15555550123", "text": {"body": "Hello"}});
    let from_spec = Message::from_json(&spec).unwrap();
    client(&server).send(&from_spec).await.unwrap();
    assert_eq!(server.requests()[0].json(), built.to_body().unwrap());
}

#[tokio::test]
async fn window_closed_error_for_a_free_form_message() {
    let server = TestServer::start(vec![Reply::json(
        400,
        json!({"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
               "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
               "fbtrace_id":"F1"}}),
    )])
    .await;
    let e = client(&server)
        .send(&Message::text("15555550123", "hi"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::WindowClosed);
    assert!(e.details().unwrap().contains("24 hours"));
    assert_eq!(server.count(), 1);
}
