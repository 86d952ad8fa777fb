//! Hostile test action: unbounded recursion. The host must report a stack overflow.
//!
//! Frames hold only scalars, so they live on wasm's own stack (which the host bounds) rather
//! than Rust's shadow stack in linear memory.

fn depth(n: u64) -> u64 {
    // Never true at runtime; it only gives the recursion a base case the compiler accepts.
    if n == u64::MAX {
        return 0;
    }
    // Using the result after the call keeps each frame real (no tail call).
    depth(std::hint::black_box(n + 1)).wrapping_mul(n | 1)
}

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    std::hint::black_box(depth(0));
    Ok(())
}

cachet_guest::post_login!(on_execute);
