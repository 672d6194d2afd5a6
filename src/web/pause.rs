//! Giving the browser its turn during long work in wasm: the CPU engine's chunks run
//! on the page's main thread, and without a turn now and then the page would not paint
//! nor answer input until a classification ends (seconds for VGG-16).

use wasm_bindgen::JsValue;
use web_sys::MessageChannel;

use super::now_ms;
use crate::cpu_engine::Pause;

/// The longest run of work between two turns, in milliseconds. With VGG-16 in the page,
/// a 50 ms timer's longest gap during a classification was 104–115 ms with slices of
/// 30 ms and 64–80 ms with 10 ms (50 is none at all), the classification no slower.
const SLICE_MS: f64 = 10.0;

/// A [`Pause`] that yields to the event loop when a slice of work has run.
pub struct BrowserPause {
    since: f64,
}

impl BrowserPause {
    pub fn new() -> BrowserPause {
        BrowserPause { since: now_ms() }
    }
}

impl Pause for BrowserPause {
    /// A message posted to a channel of its own wakes it at once: `setTimeout(0)` would
    /// do too, but browsers hold timers nested five deep to 4 ms, a tenth of a slice.
    async fn pause(&mut self) {
        if now_ms() - self.since < SLICE_MS {
            return;
        }
        // Held until the message came, so that nothing collects the ports before.
        let channel = MessageChannel::new().expect("browsers have MessageChannel");
        let turn = js_sys::Promise::new(&mut |resolve, _| {
            channel.port1().set_onmessage(Some(&resolve));
            // A detached port is the only failure: then no turn, not a hang.
            if channel.port2().post_message(&JsValue::NULL).is_err() {
                let _ = resolve.call0(&JsValue::NULL);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(turn).await;
        channel.port1().set_onmessage(None);
        self.since = now_ms();
    }
}
