//! Send one text message.
//!
//! ```sh
//! D360_API_KEY=... cargo run -p wa360 --example send_text -- 15555550123 "Hello"
//! # against a local emulator instead of production:
//! D360_API_KEY=test D360_BASE_URL=http://127.0.0.1:8080 cargo run -p wa360 --example send_text -- 15555550123 hi
//! ```

use wa360::client::Client;
use wa360::messages::Message;

#[tokio::main]
async fn main() -> wa360::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(to), Some(text)) = (args.next(), args.next()) else {
        eprintln!("usage: send_text <to> <text>");
        std::process::exit(2);
    };
    // The key comes from D360_API_KEY; the base URL defaults to production.
    let mut builder = Client::builder();
    if let Ok(base) = std::env::var("D360_BASE_URL") {
        builder = builder.base_url(&base);
    }
    let client = builder.build()?;
    let sent = client.send(&Message::text(to, text)).await;
    match sent {
        Ok(resp) => println!("accepted: {}", resp.message_id().unwrap_or("?")),
        Err(e) => {
            // Stable code + what the server said; never the key.
            eprintln!("failed [{}]: {e}", e.code());
            std::process::exit(1);
        }
    }
    Ok(())
}
