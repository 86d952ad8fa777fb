//! Test action (post-change-password): logs whose password changed and counts changes in the
//! cache, as `tests/js/signup-tour.js` does.

use cachet_guest::{PostChangePasswordApi, PostChangePasswordEvent};

// Shared by the four guests of tests/js/signup-tour.js (outside tests/guests/: not a crate).
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &PostChangePasswordEvent,
    api: &PostChangePasswordApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "changes")?;
    println!("password changed for {} ({n})", event.user.user_id);
    Ok(())
}

cachet_guest::post_change_password!(on_execute);
