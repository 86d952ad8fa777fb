//! Test action (send-phone-message): logs the message it would deliver and counts messages in
//! the cache, as `tests/js/signup-tour.js` does.

use cachet_guest::{SendPhoneMessageApi, SendPhoneMessageEvent};

// Shared by the four guests of tests/js/signup-tour.js (outside tests/guests/: not a crate).
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &SendPhoneMessageEvent,
    api: &SendPhoneMessageApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "messages")?;
    let m = &event.message_options;
    println!(
        "{} to {} ({}): {} ({n})",
        m.message_type, m.recipient, m.action, m.text
    );
    Ok(())
}

cachet_guest::send_phone_message!(on_execute);
