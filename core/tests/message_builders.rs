//! The fluent Rust builders produce exactly the documented bodies (the same
//! `expected.json` files the neutral descriptions of the conformance suite
//! are checked against), and hostile or random input never panics.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use wa360::messages::{
    Contact, ContactOrg, ContactUrl, Flow, Header, Interactive, ListRow, ListSection, Location,
    MarkRead, Media, Message, Outbound, Parameter, ProductSection, ReplyButton, Template,
    TemplateButton, TypingIndicator, build_body, char_count,
};

const TO: &str = "15555550123";
const WAMID1: &str = "wamid.HBgLMTU1NTU1NTAxMjMVAgASGBRUWFQxMDAwMDAwMDAwMDAwMDAwMAA=";
const WAMID2: &str = "wamid.HBgLMTU1NTU1NTAxMjMVAgASGBRUWFQyMDAwMDAwMDAwMDAwMDAwMAA=";

fn expected(case: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/message_build")
        .join(case)
        .join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Same values and same key order.
fn assert_body(msg: &impl Outbound, case: &str) {
    let got = msg.to_body().unwrap_or_else(|e| panic!("{case}: {e}"));
    let want = expected(case);
    assert_eq!(got, want, "{case}");
    assert_eq!(got.to_string(), want.to_string(), "{case}: key order");
}

#[test]
fn text_builders() {
    assert_body(
        &Message::text(TO, "Your order 4471 ships today.").preview_url(false),
        "text_basic",
    );
    assert_body(
        &Message::text(
            "+1 555 555 0123",
            "Track it here: https://example.com/t/4471",
        )
        .preview_url(true),
        "text_preview_url",
    );
    assert_body(
        &Message::text(TO, "Thursday 9-12 is booked.")
            .reply_to(WAMID2)
            .callback_data("order-4471"),
        "text_reply_context_callback_data",
    );
    assert_body(
        &Message::text("US.5093817264530918273", "Thanks for reaching out!"),
        "text_to_bsuid_recipient",
    );
}

#[test]
fn media_builders() {
    assert_body(
        &Message::image(TO, Media::id("1029384756109999")).caption("Your receipt"),
        "image_by_id_with_caption",
    );
    assert_body(
        &Message::image(TO, Media::link("https://cdn.example.com/img/olive-oil.jpg")),
        "image_by_link",
    );
    assert_body(
        &Message::audio(TO, Media::id("2039485761039999")),
        "audio_by_id",
    );
    assert_body(
        &Message::video(TO, Media::id("3049586712049999")).caption("Assembly in 30 seconds"),
        "video_by_id_with_caption",
    );
    assert_body(
        &Message::document(TO, Media::id("4059687123059999"))
            .caption("Invoice January")
            .filename("invoice-2026-0117.pdf"),
        "document_caption_filename",
    );
    assert_body(
        &Message::sticker(TO, Media::id("5069798234069999")),
        "sticker_by_id",
    );
}

#[test]
fn location_contacts_reaction_builders() {
    assert_body(
        &Message::location(
            TO,
            Location::new(52.520008, 13.404954)
                .name("Example Store Mitte")
                .address("Alexanderplatz 1, 10178 Berlin"),
        ),
        "location_pin",
    );
    let mut card = Contact::new("Example Support").email("support@example.com", "WORK");
    card.name.first_name = Some("Example".into());
    card.name.last_name = Some("Support".into());
    card = card.phone("+1 555 010 4321", "WORK");
    card.phones[0].wa_id = Some("15550104321".into());
    card.urls.push(ContactUrl {
        url: Some("https://example.com/help".into()),
        kind: Some("WORK".into()),
    });
    card.org = Some(ContactOrg {
        company: Some("Example Store".into()),
        department: Some("Customer Care".into()),
        title: None,
    });
    assert_body(&Message::contacts(TO, vec![card]), "contacts_card");
    assert_body(&Message::reaction(TO, WAMID1, "👍"), "reaction_thumbs_up");
    assert_body(&Message::remove_reaction(TO, WAMID1), "reaction_remove");
}

#[test]
fn interactive_builders() {
    let buttons = Interactive::buttons(
        "Your delivery is planned for Thursday 9-12. Does that work?",
        vec![
            ReplyButton::new("confirm-4471", "Confirm"),
            ReplyButton::new("reschedule-4471", "Reschedule"),
            ReplyButton::new("cancel-4471", "Cancel order"),
        ],
    )
    .header(Header::Image(Media::id("1029384756109999")))
    .footer("Example Store");

    let list = Interactive::list(
        "Pick a time that suits you.",
        "Choose a slot",
        vec![
            ListSection::new(
                "Thursday",
                vec![
                    ListRow::new("slot-thu-am", "Thu 9-12")
                        .description("Thursday morning delivery"),
                    ListRow::new("slot-thu-pm", "Thu 14-18")
                        .description("Thursday afternoon delivery"),
                ],
            ),
            ListSection::new("Friday", vec![ListRow::new("slot-fri-am", "Fri 9-12")]),
        ],
    )
    .header(Header::Text("Delivery slots".into()))
    .footer("All times local");

    let cta = Interactive::cta_url(
        "See live tracking for your parcel.",
        "Track parcel",
        "https://example.com/t/4471?ref=wa",
    )
    .header(Header::Text("Order 4471".into()))
    .footer("Link valid for 7 days");

    let mut flow = Flow::by_id("1234567890123456", "Sign up");
    flow.flow_token = Some("signup-7f3a2c".into());
    flow.flow_action = Some("navigate".into());
    flow.flow_action_payload = json!({"screen": "WELCOME", "data": {"first_name": "Maya"}})
        .as_object()
        .cloned();
    let flow = Interactive::flow("Two quick questions and you are in.", flow)
        .header(Header::Text("Join our newsletter".into()))
        .footer("Takes 30 seconds");

    let product = Interactive::product("730192837465102", "sku-olive-oil-500")
        .body("The one you asked about:")
        .footer("Prices incl. VAT");

    let plist = Interactive::product_list(
        "Pantry picks",
        "A few things that go well together.",
        "730192837465102",
        vec![
            ProductSection::new(
                "Oils",
                vec!["sku-olive-oil-500".into(), "sku-olive-oil-1000".into()],
            ),
            ProductSection::new("Bakery", vec!["sku-bread-sour".into()]),
        ],
    );
    for (case, interactive) in [
        ("interactive_button_image_header", buttons),
        ("interactive_list", list),
        ("interactive_cta_url", cta),
        ("interactive_flow", flow),
        ("interactive_product", product),
        ("interactive_product_list", plist),
    ] {
        assert_body(&Message::interactive(TO, interactive), case);
    }

    assert_body(
        &Message::interactive(
            TO,
            Interactive::location_request(
                "Share your location so we can find the nearest pickup point.",
            ),
        ),
        "interactive_location_request",
    );
}

#[test]
fn template_builders() {
    assert_body(
        &Message::template(
            TO,
            Template::new("order_update", "en_US")
                .body(vec![Parameter::text("Maya"), Parameter::text("4471")]),
        ),
        "template_body_positional",
    );
    assert_body(
        &Message::template(
            TO,
            Template::new("appointment_reminder", "en")
                .body_param(Parameter::text("Maya").named("first_name"))
                .body_param(Parameter::text("Thursday 10:30").named("appointment_time")),
        ),
        "template_named_params",
    );
    assert_body(
        &Message::template(
            TO,
            Template::new("spring_sale", "en_US")
                .header(Parameter::image(Media::link(
                    "https://cdn.example.com/img/spring.jpg",
                )))
                .body(vec![
                    Parameter::text("Maya"),
                    Parameter::currency("€12.50", "EUR", 12500),
                    Parameter::date_time("31 March 2026"),
                ])
                .button(TemplateButton::quick_reply(0, "optout-spring"))
                .button(TemplateButton::url(1, "spring26%3Fsrc%3Dwa"))
                .button(TemplateButton::copy_code(2, "SPRING26")),
        ),
        "template_media_header_currency_date_buttons",
    );
    assert_body(
        &Message::template(
            TO,
            Template::new("newsletter_signup", "en_US").button(TemplateButton::flow(
                0,
                Some("signup-7f3a2c".into()),
                json!({"source": "template"}).as_object().cloned(),
            )),
        ),
        "template_flow_button",
    );
    assert_body(
        &Message::template(
            TO,
            Template::new("pickup_ready", "en_US")
                .header(Parameter::location(
                    Location::new(52.520008, 13.404954)
                        .name("Example Store Mitte")
                        .address("Alexanderplatz 1, 10178 Berlin"),
                ))
                .body_param(Parameter::text("4471")),
        ),
        "template_location_header",
    );
}

#[test]
fn status_builders() {
    assert_body(&MarkRead::new(WAMID1), "mark_read");
    assert_body(&TypingIndicator::new(WAMID1), "typing_indicator");
}

#[test]
fn errors_name_field_and_rule_in_plain_words() {
    let e = Message::interactive(
        TO,
        Interactive::buttons(
            "Pick",
            vec![ReplyButton::new("a", "An overly long title!!")],
        ),
    )
    .to_body()
    .unwrap_err();
    assert_eq!(e.code().as_str(), "invalid_argument");
    assert_eq!(e.field(), Some("interactive.action.buttons[0].reply.title"));
    assert_eq!(
        e.to_string(),
        "invalid argument `interactive.action.buttons[0].reply.title`: must be at most 20 characters (got 22)"
    );
}

/// Arbitrary JSON values, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("text"),
            Just("image"),
            Just("interactive"),
            Just("template"),
            Just("button"),
            Just("list"),
            Just("to"),
            Just("type"),
            Just("body"),
            Just("buttons"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("to".to_string()),
                    Just("type".to_string()),
                    Just("text".to_string()),
                    Just("image".to_string()),
                    Just("interactive".to_string()),
                    Just("template".to_string()),
                    Just("body".to_string()),
                    Just("buttons".to_string()),
                    Just("header".to_string()),
                    Just("id".to_string()),
                    Just("title".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn build_body_never_panics_and_errors_are_invalid_argument(spec in any_json()) {
        if let Err(e) = build_body(&spec) {
            prop_assert_eq!(e.code().as_str(), "invalid_argument");
            prop_assert!(e.field().is_some());
        }
    }

    #[test]
    fn text_body_accepted_iff_1_to_4096_chars(body in "\\PC{0,40}", pad in 0usize..4200) {
        let text: String = body.chars().chain(std::iter::repeat_n('é', pad)).collect();
        let n = char_count(&text);
        let r = Message::text(TO, text).to_body();
        prop_assert_eq!(r.is_ok(), (1..=4096).contains(&n));
    }

    #[test]
    fn phone_normalisation_keeps_only_digits(digits in "[1-9][0-9]{7,14}", sep in "[ .()-]{0,2}") {
        let formatted: String = digits
            .chars()
            .enumerate()
            .flat_map(|(i, c)| if i % 3 == 2 { format!("{c}{sep}") } else { c.to_string() }.chars().collect::<Vec<_>>())
            .collect();
        let body = Message::text(format!("+{formatted}"), "hi").to_body().unwrap();
        prop_assert_eq!(body["to"].as_str(), Some(digits.as_str()));
    }
}
