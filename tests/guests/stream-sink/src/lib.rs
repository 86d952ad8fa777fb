//! Test action (event-stream): logs the CloudEvent and counts events in the cache, as
//! `tests/js/provider-tour.js` does.

use cachet_guest::{EventStreamApi, EventStreamEvent};

// Shared with the other test guests of the registration and provider triggers.
include!("../../../guest_helpers/count.rs");

fn on_execute(event: &EventStreamEvent, api: &EventStreamApi) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "events")?;
    let m = &event.message;
    println!("{} {} from {} ({n})", m.kind, m.id, m.source);
    Ok(())
}

cachet_guest::event_stream!(on_execute);
