//! `wa360 send …`: build a message from the command line, validate it, send it.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

mod body;

use crate::{ApiOpts, CliResult, Failure, make_client};

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    api: ApiOpts,
    #[command(subcommand)]
    what: SendCmd,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Recipient phone number (international format) or BSUID (e.g. US.1234…).
    #[arg(long)]
    to: String,
    /// Quote this message (wamid) as a reply.
    #[arg(long)]
    reply_to: Option<String>,
    /// `biz_opaque_callback_data`, echoed back on status webhooks.
    #[arg(long)]
    callback_data: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct MediaSrc {
    /// Media id from an upload (digits).
    #[arg(long, conflicts_with = "link", required_unless_present = "link")]
    id: Option<String>,
    /// Public http(s) URL of the file.
    #[arg(long)]
    link: Option<String>,
}

/// A media message without a caption (audio, sticker).
#[derive(Args, Debug, Clone)]
struct MediaArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    src: MediaSrc,
}

/// A media message that may carry a caption (image, video, document).
#[derive(Args, Debug, Clone)]
struct Captioned {
    #[command(flatten)]
    media: MediaArgs,
    /// Caption (≤ 1024).
    #[arg(long)]
    caption: Option<String>,
}

#[derive(Subcommand, Debug)]
enum SendCmd {
    /// A text message.
    Text {
        #[command(flatten)]
        common: Common,
        /// The text (1..4096 characters).
        body: String,
        /// Render a link preview for the first URL.
        #[arg(long)]
        preview_url: bool,
    },
    /// An image (JPEG/PNG) by media id or link.
    Image(Captioned),
    /// A video by media id or link.
    Video(Captioned),
    /// An audio file by media id or link (no caption).
    Audio(MediaArgs),
    /// A document by media id or link.
    Document {
        #[command(flatten)]
        media: Captioned,
        /// File name shown to the user.
        #[arg(long)]
        filename: Option<String>,
    },
    /// A sticker (WebP) by media id or link.
    Sticker(MediaArgs),
    /// A location pin.
    Location {
        #[command(flatten)]
        common: Common,
        /// Latitude in [-90, 90].
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in [-180, 180].
        #[arg(long, allow_hyphen_values = true)]
        lng: f64,
        /// Place name.
        #[arg(long)]
        name: Option<String>,
        /// Address.
        #[arg(long)]
        address: Option<String>,
    },
    /// A reaction to a message (an empty --emoji removes it).
    Reaction {
        #[command(flatten)]
        common: Common,
        /// The wamid reacted to.
        #[arg(long)]
        message_id: String,
        /// One emoji, or "" to remove the reaction.
        #[arg(long)]
        emoji: String,
    },
    /// An approved template with positional body parameters.
    Template {
        #[command(flatten)]
        common: Common,
        /// Template name.
        #[arg(long)]
        name: String,
        /// Language code, e.g. en_US.
        #[arg(long)]
        language: String,
        /// A body parameter (repeat in order: --param 4471 --param Maya).
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Interactive reply buttons (1..3).
    InteractiveButtons {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// A button as id=title (repeat up to 3 times).
        #[arg(long = "button", required = true)]
        buttons: Vec<String>,
        /// Header text (≤ 60).
        #[arg(long)]
        header: Option<String>,
        /// Footer text (≤ 60).
        #[arg(long)]
        footer: Option<String>,
    },
    /// An interactive list with one section.
    InteractiveList {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// Label of the button that opens the list (≤ 20).
        #[arg(long)]
        button: String,
        /// A row as id=title or id=title=description (repeat, ≤ 10).
        #[arg(long = "row", required = true)]
        rows: Vec<String>,
        /// Section title.
        #[arg(long)]
        section: Option<String>,
    },
    /// A call-to-action URL button.
    CtaUrl {
        #[command(flatten)]
        common: Common,
        /// Body text.
        #[arg(long)]
        body: String,
        /// Button label (≤ 20).
        #[arg(long)]
        display_text: String,
        /// The URL opened.
        #[arg(long)]
        url: String,
    },
    /// Mark an inbound message as read.
    MarkRead {
        /// The inbound wamid.
        message_id: String,
    },
    /// Show a typing indicator (also marks the message read).
    Typing {
        /// The inbound wamid.
        message_id: String,
    },
    /// Send a message described in wa360's neutral JSON format (the format
    /// the Python and Node packages accept), from a file or `-` for stdin.
    Json {
        /// Path to the JSON file, or `-` for stdin.
        file: String,
    },
}

fn split_pair<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str), Failure> {
    s.split_once('=')
        .ok_or_else(|| Failure::input(format!("{what} {s:?} must look like id=title")))
}

pub(crate) async fn run_send(a: SendArgs) -> CliResult {
    // Validate before touching the network (and before requiring a key).
    let body = body::send_body(&a.what)?;
    let client = make_client(&a.api)?;
    let is_status = body.get("status").is_some();
    if is_status {
        let id = body
            .get("message_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if body.get("typing_indicator").is_some() {
            client.typing(id).await?;
        } else {
            client.mark_read(id).await?;
        }
        outln!("{}", json!({"success": true}));
        return Ok(());
    }
    let resp = client.send_body(body).await?;
    let out = serde_json::to_string(&resp)
        .map_err(|e| Failure::runtime(format!("cannot print the response: {e}")))?;
    outln!("{out}");
    Ok(())
}
