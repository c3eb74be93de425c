//! The sandbox and the client read one table of Meta's codes (`wa360::meta_codes`):
//! for every code in it, the sandbox's injected error is classified by the client over real
//! HTTP exactly as the table says (error code, HTTP status, number of attempts).

use std::time::Duration;

use wa360::messages::Message;
use wa360::meta_codes::{META_CODES, MetaRetry};
use wa360_sandbox::Sandbox;

mod common;
use common::{client_builder, meta_error, on_send, quick_retries};

#[tokio::test]
async fn every_table_code_is_classified_as_the_table_says() {
    let sb = Sandbox::start().await.unwrap();
    let client = client_builder(&sb)
        .timeout(Duration::from_secs(10))
        .retry_policy(quick_retries(1, 2, 4, 4))
        .build()
        .unwrap();
    let codes: Vec<_> = META_CODES
        .iter()
        .flat_map(|m| {
            let mid = (m.first + m.last) / 2;
            let mut v = vec![m.first];
            if m.last != m.first {
                v.extend([mid, m.last]);
            }
            v.into_iter().map(move |c| (c, m))
        })
        .collect();
    assert!(codes.len() > 40);
    for (i, (code, row)) in codes.into_iter().enumerate() {
        sb.control().clear_faults();
        sb.add_fault(on_send(meta_error(code)).times(0));
        let before = sb.requests().len();
        // A new recipient each time: the pair limit is remembered per recipient.
        let to = format!("1555555{i:04}");
        let e = client.send(&Message::text(&to, "hi")).await.unwrap_err();
        let attempts = sb.requests().len() - before;
        assert_eq!(e.code(), row.error_code, "code {code}: {e}");
        assert_eq!(e.api_code(), Some(code));
        assert_eq!(e.status(), Some(row.http_status), "code {code}");
        let want_attempts = match row.retry {
            MetaRetry::RateLimit | MetaRetry::Transient => 2,
            MetaRetry::Never | MetaRetry::PairRateLimit | MetaRetry::Pause => 1,
        };
        assert_eq!(attempts, want_attempts, "code {code} ({:?})", row.retry);
    }
}
