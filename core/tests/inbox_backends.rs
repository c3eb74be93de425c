//! The inbox contract (`inbox_contract/mod.rs`) run against the in-process backends:
//! memory and SQLite (a real file). Redis runs it in `inbox_redis.rs`. Below it, what
//! memory and SQLite do beyond the contract.

use wa360::inbox::Nacked;
use wa360::inbox::testing::{accept_json, event_ids as ids};
use wa360::webhook::testing;

#[macro_use]
mod inbox_contract;

use inbox_contract::Backend;

mod memory {
    inbox_contract_tests!(crate::inbox_contract::memory);

    #[test]
    fn a_retry_goes_to_any_consumer_and_a_dead_letter_keeps_its_id() {
        super::retry_by_any_consumer_and_dead_letter_id(crate::inbox_contract::memory);
    }
}

mod sqlite {
    inbox_contract_tests!(crate::inbox_contract::sqlite);

    #[test]
    fn a_retry_goes_to_any_consumer_and_a_dead_letter_keeps_its_id() {
        super::retry_by_any_consumer_and_dead_letter_id(crate::inbox_contract::sqlite);
    }
}

/// A failed event is retried by whichever consumer claims next (Redis keeps it with the
/// consumer that failed it until its lease ends), and its dead letter has the delivery's id.
fn retry_by_any_consumer_and_dead_letter_id(backend: Backend) {
    let inbox = backend("max_attempts=2&retry_base_ms=0").inbox();
    accept_json(&*inbox, &testing::inbound_text("111", "x", "wamid.0")).unwrap();
    let d = inbox.claim("c1", 1).unwrap().remove(0);
    assert!(matches!(
        inbox.nack("c1", &d.id, "boom").unwrap(),
        Nacked::Retry(_)
    ));
    let retry = inbox.claim("c2", 1).unwrap();
    assert_eq!((ids(&retry), retry[0].attempt), (vec!["wamid.0".into()], 2));
    assert_eq!(
        inbox.nack("c2", &retry[0].id, "again").unwrap(),
        Nacked::Dead
    );
    assert_eq!(inbox.drop_dead(Some(&d.id)).unwrap(), 1);
    assert_eq!(inbox.stats().unwrap().dead, 0);
}
