//! password-reset-post-challenge's `api` (Auth0's PostChallengeAPI): deny the reset, challenge
//! the user with a second factor, or redirect them and continue in `onContinuePostChallenge`.
//! Each method checks and records exactly as post-login's method of the same name.

use super::post_login::{challenge_with, challenge_with_any, deny};
use super::{Method, redirect};

/// Every method, in the order of Auth0's reference.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "access.deny",
        run: deny,
    },
    Method {
        name: "authentication.challengeWith",
        run: challenge_with,
    },
    Method {
        name: "authentication.challengeWithAny",
        run: challenge_with_any,
    },
    Method {
        name: "redirect.encodeToken",
        run: redirect::encode_token,
    },
    Method {
        name: "redirect.sendUserTo",
        run: redirect::send_user_to,
    },
    Method {
        name: "redirect.validateToken",
        run: redirect::validate_token,
    },
];
