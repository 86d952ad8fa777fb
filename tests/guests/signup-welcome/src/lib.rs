//! Test action (post-user-registration): logs the new user and counts sign-ups in the cache,
//! as `tests/js/signup-tour.js` does.

use cachet_guest::{PostUserRegistrationApi, PostUserRegistrationEvent};

// Shared by the four guests of tests/js/signup-tour.js (outside tests/guests/: not a crate).
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &PostUserRegistrationEvent,
    api: &PostUserRegistrationApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "registered")?;
    println!("registered {} ({n})", event.user.user_id);
    Ok(())
}

cachet_guest::post_user_registration!(on_execute);
