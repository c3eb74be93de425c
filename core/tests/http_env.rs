//! The API key falls back to `D360_API_KEY` (own test binary: it changes the environment).

use wa360::ErrorCode;
use wa360::client::Client;

#[test]
fn api_key_from_environment_or_configuration_error() {
    // SAFETY: this test binary has a single test, so no other thread reads the
    // environment concurrently.
    unsafe { std::env::remove_var("D360_API_KEY") };
    let e = Client::builder().build().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Configuration);
    assert!(e.to_string().contains("D360_API_KEY"));

    unsafe { std::env::set_var("D360_API_KEY", "env-key-S3CRET") };
    let c = Client::builder().build().unwrap();
    assert_eq!(c.config().api_key().expose(), "env-key-S3CRET");
    assert!(!format!("{c:?}").contains("S3CRET"));
    let c = Client::builder().api_key("explicit").build().unwrap();
    assert_eq!(c.config().api_key().expose(), "explicit");
    unsafe { std::env::remove_var("D360_API_KEY") };
}
