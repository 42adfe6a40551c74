//! Argon2id password hashing: CPU work (tens of ms a call) that must never run on nginx's
//! event loop. Served on a pool of threads; the worker keeps serving meanwhile.
//!
//! cfg (JSON, optional): `{"threads": 2, "m_cost_kib": 19456, "t_cost": 2}`
//! requests (JSON):
//!   `{"op": "hash", "password": "..."}`                 -> PHC string `$argon2id$...`
//!   `{"op": "verify", "password": "...", "hash": "..."}` -> `true` / `false`

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use resty_ffi_sdk::{Init, Reply};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_threads")]
    threads: usize,
    #[serde(default = "default_m_cost")]
    m_cost_kib: u32,
    #[serde(default = "default_t_cost")]
    t_cost: u32,
}

fn default_threads() -> usize {
    2
}
fn default_m_cost() -> u32 {
    Params::DEFAULT_M_COST
}
fn default_t_cost() -> u32 {
    Params::DEFAULT_T_COST
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Request {
    Hash { password: String },
    Verify { password: String, hash: String },
}

fn bad(rc: i32, msg: impl ToString) -> Reply {
    Err((rc, msg.to_string().into_bytes()))
}

fn handle(argon: &Argon2<'static>, req: &[u8]) -> Reply {
    match serde_json::from_slice::<Request>(req) {
        Err(e) => bad(400, format!("bad request: {e}")),
        Ok(Request::Hash { password }) => {
            let salt = SaltString::generate(&mut OsRng);
            match argon.hash_password(password.as_bytes(), &salt) {
                Ok(hash) => Ok(hash.to_string().into_bytes()),
                Err(e) => bad(500, e),
            }
        }
        Ok(Request::Verify { password, hash }) => match PasswordHash::new(&hash) {
            Err(e) => bad(400, format!("bad hash: {e}")),
            Ok(parsed) => Ok(argon
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                .to_string()
                .into_bytes()),
        },
    }
}

fn start(init: Init) -> Result<(), String> {
    let cfg: Config = match init.cfg() {
        None => serde_json::from_str("{}").map_err(|e| e.to_string())?,
        Some(_) => init.cfg_json()?,
    };
    let params = Params::new(cfg.m_cost_kib, cfg.t_cost, 1, None).map_err(|e| format!("bad cost: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    init.serve(cfg.threads, move |req| handle(&argon, req))
        .map_err(|e| e.to_string())
}

resty_ffi_sdk::runtime!(start);
