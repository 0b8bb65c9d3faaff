//! Authentication (argon2id passwords, session tokens) and role-based access.

pub mod client_ip;
pub mod password;
pub mod ratelimit;
pub mod role;
pub mod slots;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh, unguessable session token (256 bits) for the cookie.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
