//! The typed views a user reads after `parse`: one test per family, on the
//! documented example bodies of the conformance suite.

use std::fs;
use std::path::PathBuf;

use wa360::webhook::events::{FieldUpdateKind, Location, MediaRef};
use wa360::webhook::{Content, Event, Interactive, StatusKind, parse};

fn case(name: &str) -> Vec<Event> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/webhook_parse")
        .join(name)
        .join("input.json");
    parse(&fs::read(p).unwrap()).unwrap()
}

fn one(name: &str) -> Event {
    let mut ev = case(name);
    assert_eq!(ev.len(), 1, "{name}");
    ev.remove(0)
}

#[test]
fn text_message_with_sender_and_origin() {
    let ev = one("payload_inbound_text");
    assert_eq!(ev.kind(), "message");
    assert_eq!(ev.field(), Some("messages"));
    assert_eq!(ev.waba_id(), Some("104785930284756"));
    assert_eq!(ev.phone_number_id(), Some("112233445566778"));
    assert_eq!(ev.display_phone_number(), Some("15550104321"));
    let m = ev.as_message().unwrap();
    assert_eq!(m.timestamp(), Some(1767252600));
    assert_eq!(m.from(), Some("15555550123"));
    assert_eq!(m.message_type(), Some("text"));
    assert_eq!(
        m.content(),
        Content::Text {
            body: Some("Hi! Is my order 4471 on its way?")
        }
    );
    let c = m.contact().unwrap();
    assert_eq!(c.name.as_deref(), Some("Maya Lindqvist"));
    assert_eq!(c.user_id.as_deref(), Some("US.5093817264530918273"));
    assert!(ev.as_status().is_none() && ev.as_errors().is_none());
}

#[test]
fn username_sender_without_phone() {
    let ev = one("payload_inbound_text_bsuid_no_phone");
    let m = ev.as_message().unwrap();
    assert_eq!(m.from(), None);
    assert_eq!(m.from_user_id(), Some("US.5093817264530918273"));
    assert_eq!(m.from_parent_user_id(), Some("US.ENT.7364519028374615290"));
    let c = m.contact().unwrap();
    assert_eq!(c.wa_id, None);
    assert_eq!(c.username.as_deref(), Some("@maya.l"));
}

#[test]
fn media_types() {
    match one("payload_inbound_audio_voice")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Audio { voice, media } => {
            assert!(voice);
            assert_eq!(media.mime_type, Some("audio/ogg; codecs=opus"));
        }
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_audio_file")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Audio { voice, .. } => assert!(!voice),
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_sticker_animated")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Sticker { animated, .. } => assert!(animated),
        other => panic!("{other:?}"),
    }
    let ev = one("payload_inbound_document");
    match ev.as_message().unwrap().content() {
        Content::Document {
            media: MediaRef { id, caption, .. },
            filename,
        } => {
            assert_eq!(id, Some("4059687123049586"));
            assert_eq!(caption, Some("Invoice attached"));
            assert_eq!(filename, Some("invoice-2026-0117.pdf"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        one("payload_inbound_image").as_message().unwrap().content(),
        Content::Image(MediaRef { id: Some(_), .. })
    ));
    assert!(matches!(
        one("payload_inbound_video").as_message().unwrap().content(),
        Content::Video(MediaRef { id: Some(_), .. })
    ));
}

#[test]
fn locations_accept_numbers_and_strings() {
    let ev = one("payload_inbound_location_place");
    match ev.as_message().unwrap().content() {
        Content::Location(Location {
            latitude,
            longitude,
            name,
            ..
        }) => {
            assert_eq!(latitude, Some(48.858844));
            assert_eq!(longitude, Some(2.294351));
            assert_eq!(name, Some("Tour Eiffel"));
        }
        other => panic!("{other:?}"),
    }
    let body = br#"{"entry":[{"changes":[{"field":"messages","value":{"messages":[
        {"id":"x","type":"location","location":{"latitude":"52.5","longitude":"13.4"}}]}}]}]}"#;
    let ev = parse(body).unwrap();
    match ev[0].as_message().unwrap().content() {
        Content::Location(l) => assert_eq!((l.latitude, l.longitude), (Some(52.5), Some(13.4))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn interactive_replies_and_buttons() {
    let ev = one("payload_inbound_interactive_button_reply");
    let m = ev.as_message().unwrap();
    assert_eq!(
        m.content(),
        Content::Interactive(Interactive::ButtonReply {
            id: Some("confirm-4471"),
            title: Some("Confirm")
        })
    );
    assert_eq!(m.context().unwrap().from(), Some("15550104321"));
    let ev = one("payload_inbound_interactive_list_reply");
    assert_eq!(
        ev.as_message().unwrap().content(),
        Content::Interactive(Interactive::ListReply {
            id: Some("slot-thu-am"),
            title: Some("Thu 9-12"),
            description: Some("Thursday morning delivery")
        })
    );
    let ev = one("payload_inbound_interactive_nfm_reply_flow");
    match ev.as_message().unwrap().content() {
        Content::Interactive(i @ Interactive::NfmReply { name, body, .. }) => {
            assert_eq!((name, body), (Some("flow"), Some("Sent")));
            assert_eq!(i.response().unwrap()["flow_token"], "signup-7f3a2c");
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_inbound_button_template_quick_reply");
    assert_eq!(
        ev.as_message().unwrap().content(),
        Content::Button {
            payload: Some("reschedule-4471"),
            text: Some("Reschedule")
        }
    );
}

#[test]
fn reactions_including_removal() {
    match one("payload_inbound_reaction")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Reaction {
            emoji,
            removed,
            message_id,
        } => {
            assert_eq!(emoji, Some("👍"));
            assert!(!removed);
            assert!(message_id.is_some());
        }
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_reaction_removed")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Reaction { emoji, removed, .. } => assert!(removed && emoji.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn order_contacts_system_unsupported_edit_revoke() {
    match one("payload_inbound_order").as_message().unwrap().content() {
        Content::Order(o) => {
            assert_eq!(o.catalog_id(), Some("730192837465102"));
            let items = o.items();
            assert_eq!(items.len(), 2);
            assert_eq!(items[0].quantity, Some(2));
            assert_eq!(items[0].item_price, Some(12.5));
            assert_eq!(items[1].item_price, Some(4.2));
        }
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_contacts")
        .as_message()
        .unwrap()
        .content()
    {
        Content::Contacts(cards) => assert_eq!(cards[0]["phones"][0]["wa_id"], "447700900123"),
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_system_user_changed_number")
        .as_message()
        .unwrap()
        .content()
    {
        Content::System {
            system_type, wa_id, ..
        } => {
            assert_eq!(system_type, Some("user_changed_number"));
            assert_eq!(wa_id, Some("15555550188"));
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_inbound_unsupported");
    let m = ev.as_message().unwrap();
    match m.content() {
        Content::Unsupported {
            unsupported_type,
            errors,
        } => {
            assert_eq!(unsupported_type, Some("poll"));
            assert_eq!(errors[0]["code"], 131051);
        }
        other => panic!("{other:?}"),
    }
    match one("payload_inbound_edit").as_message().unwrap().content() {
        Content::Edit {
            original_message_id,
            message,
        } => {
            assert!(original_message_id.is_some());
            assert_eq!(message.unwrap()["type"], "text");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        one("payload_inbound_revoke")
            .as_message()
            .unwrap()
            .content(),
        Content::Revoke {
            original_message_id: Some(_)
        }
    ));
    let ev = case("message_unknown_type_kept");
    match ev[0].as_message().unwrap().content() {
        Content::Other {
            message_type,
            payload,
        } => {
            assert_eq!(message_type, Some("poll_vote"));
            assert_eq!(payload.unwrap()["poll_id"], "p1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ev[1].as_message().unwrap().content(),
        Content::RequestWelcome
    );
}

#[test]
fn context_forwarded_referred_product_and_referral() {
    let ev = one("payload_inbound_text_forwarded");
    let ctx = ev.as_message().unwrap().context().unwrap();
    assert!(ctx.frequently_forwarded());
    let ev = one("payload_inbound_text_product_inquiry");
    let ctx = ev.as_message().unwrap().context().unwrap();
    assert_eq!(
        ctx.referred_product(),
        Some((Some("730192837465102"), Some("sku-olive-oil-500")))
    );
    let ev = one("payload_inbound_text_referral_ctwa");
    let r = ev.as_message().unwrap().referral().unwrap();
    assert_eq!(r.get("source_type"), Some("ad"));
    assert!(r.ctwa_clid().unwrap().starts_with("ARAk"));
}

#[test]
fn statuses() {
    let ev = one("payload_status_sent");
    let s = ev.as_status().unwrap();
    assert_eq!(s.status_kind(), Some(StatusKind::Sent));
    assert_eq!(s.timestamp(), Some(1767253600));
    assert_eq!(s.biz_opaque_callback_data(), Some("order-4471"));
    assert_eq!(s.conversation_expiration(), Some(1767340000));
    assert_eq!(s.conversation_origin(), Some("utility"));
    let p = s.pricing().unwrap();
    assert_eq!(
        (p.pricing_model(), p.pricing_type(), p.category()),
        (Some("PMP"), Some("regular"), Some("utility"))
    );
    assert_eq!(p.billable(), Some(true));

    let ev = one("payload_status_failed");
    let s = ev.as_status().unwrap();
    assert_eq!(s.status_kind(), Some(StatusKind::Failed));
    assert!(s.pricing().is_none());
    let e = s.error_details();
    assert_eq!(e[0].code(), Some(131026));
    assert_eq!(e[0].details(), Some("Message Undeliverable."));

    assert_eq!(
        one("payload_status_played")
            .as_status()
            .unwrap()
            .status_kind(),
        Some(StatusKind::Played)
    );
    let ev = case("status_unknown_value_kept");
    assert_eq!(
        ev[0].as_status().unwrap().status_kind(),
        Some(StatusKind::Other("deleted"))
    );
    let ev = case("status_conversation_number_expiration");
    assert_eq!(
        ev[0].as_status().unwrap().conversation_expiration(),
        Some(1767340000)
    );
}

#[test]
fn value_errors_field_updates_unknown() {
    let ev = one("payload_webhook_errors");
    assert_eq!(ev.kind(), "error");
    assert_eq!(ev.as_errors().unwrap()[0]["code"], 131000);

    let ev = one("payload_template_status_update_approved");
    let fu = ev.as_field_update().unwrap();
    match fu.typed(ev.field()) {
        FieldUpdateKind::TemplateStatus(t) => {
            assert_eq!(t.template_id().as_deref(), Some("1689556908129832"));
            assert_eq!(t.get("event"), Some("APPROVED"));
            assert_eq!(t.template_name(), Some("order_update"));
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_template_quality_update");
    match ev.as_field_update().unwrap().typed(ev.field()) {
        FieldUpdateKind::TemplateQuality(t) => {
            assert_eq!(t.get("new_quality_score"), Some("YELLOW"))
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_template_category_update");
    assert!(matches!(
        ev.as_field_update().unwrap().typed(ev.field()),
        FieldUpdateKind::TemplateCategory(_)
    ));
    let ev = one("payload_phone_number_quality_update");
    match ev.as_field_update().unwrap().typed(ev.field()) {
        FieldUpdateKind::PhoneNumberQuality(f) => {
            assert_eq!(f.event(), Some("UPGRADE"));
            assert_eq!(f.get("current_limit"), Some("TIER_10K"));
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_account_update_restriction");
    match ev.as_field_update().unwrap().typed(ev.field()) {
        FieldUpdateKind::AccountUpdate(f) => {
            assert_eq!(f.event(), Some("ACCOUNT_RESTRICTION"));
            assert_eq!(
                f.raw("restriction_info").unwrap()[0]["expiration"],
                1767857400
            );
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_user_preferences_stop");
    match ev.as_field_update().unwrap().typed(ev.field()) {
        FieldUpdateKind::UserPreferences(p) => {
            let e = p.entries();
            assert_eq!(e[0].value, Some("stop"));
            assert_eq!(e[0].timestamp, Some(1767258300));
        }
        other => panic!("{other:?}"),
    }
    let ev = one("payload_unknown_field_calls");
    assert_eq!(ev.kind(), "field_update");
    assert_eq!(
        ev.as_field_update().unwrap().typed(ev.field()),
        FieldUpdateKind::Other
    );
    assert_eq!(
        ev.as_field_update().unwrap().value().unwrap()["calls"][0]["duration"],
        90
    );

    let ev = case("unknown_entry_not_object");
    assert_eq!(ev[0].kind(), "unknown");
    assert_eq!(ev[0].as_unknown().unwrap(), "just a string");
}

#[test]
fn batch_is_flattened_in_order() {
    let ev = case("batch_20_events");
    assert_eq!(ev.len(), 20);
    let kinds: Vec<&str> = ev.iter().map(Event::kind).collect();
    assert_eq!(&kinds[..7], ["message"; 7]);
    assert_eq!(&kinds[7..12], ["status"; 5]);
    assert_eq!(kinds[18], "error");
    assert_eq!(kinds[19], "field_update");
    assert_eq!(ev[19].waba_id(), Some("104785930284999"));
}
