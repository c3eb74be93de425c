//! The `POST /messages` body of a `wa360 send …` subcommand, built with the
//! core's typed message builders (`wa360::messages`), which also hold the one
//! recipient rule (phone number or BSUID) and every validation rule.

use serde_json::Value;
use wa360::messages::{
    Header, Interactive, ListRow, ListSection, Location, MarkRead, Media, MediaKind, Message,
    Outbound, Parameter, ReplyButton, Template, TypingIndicator, build_body,
};

use super::{Captioned, Common, MediaArgs, SendCmd, split_pair};
use crate::{Failure, read_input};

/// Validate the subcommand's message and return the exact wire body
/// (before any network call and before a key is required).
pub(crate) fn send_body(cmd: &SendCmd) -> Result<Value, Failure> {
    let message = match cmd {
        SendCmd::Text {
            common,
            body,
            preview_url,
        } => {
            let m = Message::text(&common.to, body);
            with_common(if *preview_url { m.preview_url(true) } else { m }, common)
        }
        SendCmd::Image(m) => captioned(MediaKind::Image, m, None),
        SendCmd::Video(m) => captioned(MediaKind::Video, m, None),
        SendCmd::Audio(m) => media(MediaKind::Audio, m, None, None),
        SendCmd::Sticker(m) => media(MediaKind::Sticker, m, None, None),
        SendCmd::Document { media, filename } => {
            captioned(MediaKind::Document, media, filename.as_ref())
        }
        SendCmd::Location {
            common,
            lat,
            lng,
            name,
            address,
        } => {
            let location = Location {
                latitude: *lat,
                longitude: *lng,
                name: name.clone(),
                address: address.clone(),
            };
            with_common(Message::location(&common.to, location), common)
        }
        SendCmd::Reaction {
            common,
            message_id,
            emoji,
        } => with_common(Message::reaction(&common.to, message_id, emoji), common),
        SendCmd::Template {
            common,
            name,
            language,
            params,
        } => {
            let t =
                Template::new(name, language).body(params.iter().map(Parameter::text).collect());
            with_common(Message::template(&common.to, t), common)
        }
        SendCmd::InteractiveButtons {
            common,
            body,
            buttons,
            header,
            footer,
        } => {
            let bs = buttons
                .iter()
                .map(|b| split_pair(b, "--button").map(|(id, title)| ReplyButton::new(id, title)))
                .collect::<Result<_, _>>()?;
            let mut i = Interactive::buttons(body, bs);
            if let Some(h) = header {
                i = i.header(Header::Text(h.clone()));
            }
            if let Some(f) = footer {
                i = i.footer(f);
            }
            with_common(Message::interactive(&common.to, i), common)
        }
        SendCmd::InteractiveList {
            common,
            body,
            button,
            rows,
            section,
        } => {
            let row = |r: &String| {
                let (id, rest) = split_pair(r, "--row")?;
                Ok::<_, Failure>(match rest.split_once('=') {
                    Some((title, desc)) => ListRow::new(id, title).description(desc),
                    None => ListRow::new(id, rest),
                })
            };
            let s = ListSection {
                title: section.clone(),
                rows: rows.iter().map(row).collect::<Result<_, _>>()?,
            };
            let i = Interactive::list(body, button, vec![s]);
            with_common(Message::interactive(&common.to, i), common)
        }
        SendCmd::CtaUrl {
            common,
            body,
            display_text,
            url,
        } => with_common(
            Message::interactive(&common.to, Interactive::cta_url(body, display_text, url)),
            common,
        ),
        SendCmd::MarkRead { message_id } => return Ok(MarkRead::new(message_id).to_body()?),
        SendCmd::Typing { message_id } => return Ok(TypingIndicator::new(message_id).to_body()?),
        SendCmd::Json { file } => {
            let bytes = read_input(file)?;
            let spec: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::input(format!("{file} is not valid JSON: {e}")))?;
            return Ok(build_body(&spec)?);
        }
    };
    Ok(message.to_body()?)
}

fn with_common(mut m: Message, c: &Common) -> Message {
    if let Some(r) = &c.reply_to {
        m = m.reply_to(r);
    }
    if let Some(d) = &c.callback_data {
        m = m.callback_data(d);
    }
    m
}

fn captioned(kind: MediaKind, m: &Captioned, filename: Option<&String>) -> Message {
    media(kind, &m.media, m.caption.as_ref(), filename)
}

fn media(
    kind: MediaKind,
    m: &MediaArgs,
    caption: Option<&String>,
    filename: Option<&String>,
) -> Message {
    let media = Media {
        id: m.src.id.clone(),
        link: m.src.link.clone(),
        caption: caption.cloned(),
        filename: filename.cloned(),
    };
    with_common(Message::media(&m.common.to, kind, media), &m.common)
}
