//! Core errors → JavaScript errors that carry the core's stable `code`.
//!
//! napi's own `Status` codes (`GenericFailure`, `InvalidArg`) describe Node-API failures, not ours.
//! So the JS error is built on the JS thread with `napi_create_error(code, message)` and handed back
//! as a napi `Error` that *references that object*: throwing it, or rejecting a promise with it,
//! delivers the very object with `err.code === "ERR_…"`.

use ferrovec_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi::JsError;

/// The JS error for a core error, ready to be returned from a `#[napi]` function or a task.
pub fn to_js(env: &Env, err: CoreError) -> napi::Error {
  let coded: napi::Error<&'static str> = napi::Error::new(err.code(), err.to_string());
  // SAFETY: called on the JS thread with the env napi gave this call; the value is used at once.
  let unknown = unsafe {
    let raw = JsError::from(coded).into_value(env.raw());
    Unknown::from_raw_unchecked(env.raw(), raw)
  };
  napi::Error::from(unknown)
}

/// `Result<T, CoreError>` → napi result, mapping the error with [`to_js`].
pub trait CoreResultExt<T> {
  fn or_js(self, env: &Env) -> napi::Result<T>;
}

impl<T> CoreResultExt<T> for ferrovec_core::Result<T> {
  fn or_js(self, env: &Env) -> napi::Result<T> {
    self.map_err(|e| to_js(env, e))
  }
}
